//! The session cookie: its name (__Host- under TLS), setting and clearing it, and reading the token from a request.

use axum::http::{HeaderMap, HeaderValue, header};
use enamel_crypto::token::SecretToken;

/// The session cookie's name. Under TLS the `__Host-` prefix makes browsers insist
/// on `Secure`, `Path=/` and no `Domain`.
pub(crate) const fn cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-enamel_session"
    } else {
        "enamel_session"
    }
}

/// `Set-Cookie` for a new session: host-only, `HttpOnly`, `SameSite=Strict`, and
/// `Secure` under TLS; no `Max-Age`, so it ends with the browser as well.
pub(crate) fn session_cookie(token: &SecretToken, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        cookie_name(tls),
        token.expose()
    ))
    .expect("a hex token is a valid header value")
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie(tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        cookie_name(tls)
    ))
    .expect("a static cookie is a valid header value")
}

/// The session token the request carries, if any.
pub(crate) fn cookie_token(headers: &HeaderMap, tls: bool) -> Option<SecretToken> {
    let name = cookie_name(tls);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty() && value.len() <= 128)
        .map(|(_, value)| SecretToken::from_client(value))
}
