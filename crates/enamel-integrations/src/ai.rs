//! An Anthropic-compatible Messages API client for the "draft referral letter"
//! assistant. The caller gates it on the practice's BAA with the vendor and hands it
//! text with no direct identifiers; this adapter only speaks the protocol.
//!
//! `POST {base}/v1/messages` with `x-api-key`, `anthropic-version: 2023-06-01` and a
//! JSON body `{model, max_tokens, system, messages: [{role: "user", content}]}`; the
//! answer's `content` is a list of blocks, of which the `text` ones are the reply.
//! Errors are `{"type": "error", "error": {"type": "...", "message": "..."}}`.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::notify::{SendError, SetupError, check_api_url, http_client};

const VENDOR: &str = "anthropic";
/// The API version this client speaks.
pub const API_VERSION: &str = "2023-06-01";
/// Anthropic's own endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com/";

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct AssistantSettings {
    pub base_url: Url,
    pub api_key: SecretString,
    pub model: String,
    /// The longest reply, in tokens.
    pub max_tokens: u32,
}

/// A Messages API client.
#[derive(Debug, Clone)]
pub struct Assistant {
    client: reqwest::Client,
    messages_url: Url,
    api_key: SecretString,
    model: String,
    max_tokens: u32,
    vendor: enamel_domain::VendorName,
}

#[derive(Deserialize)]
struct Reply {
    content: Vec<Block>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct Failure {
    error: FailureDetail,
}

#[derive(Deserialize)]
struct FailureDetail {
    #[serde(rename = "type")]
    kind: String,
}

impl Assistant {
    /// Checks the settings and builds the HTTP client.
    pub fn new(settings: AssistantSettings) -> Result<Self, SetupError> {
        check_api_url("base_url", &settings.base_url)?;
        if settings.model.trim().is_empty() {
            return Err(SetupError::invalid("model", "must name a model"));
        }
        let mut messages_url = settings.base_url.clone();
        messages_url
            .path_segments_mut()
            .map_err(|()| SetupError::invalid("base_url", "cannot be a base"))?
            .pop_if_empty()
            .extend(["v1", "messages"]);
        Ok(Self {
            client: http_client("Anthropic")?,
            messages_url,
            api_key: settings.api_key,
            model: settings.model,
            max_tokens: settings.max_tokens.clamp(1, 4096),
            vendor: enamel_domain::VendorName::parse(VENDOR)
                .map_err(|_| SetupError::invalid("vendor", "bad"))?,
        })
    }

    /// `anthropic`, for the BAA gate.
    #[must_use]
    pub fn vendor(&self) -> &enamel_domain::VendorName {
        &self.vendor
    }

    /// Asks for one reply to `prompt` under `system` instructions; answers its text.
    ///
    /// 429, 5xx and 529 (overloaded) are transient; other 4xx are permanent with code
    /// `anthropic-<error type>`.
    #[tracing::instrument(skip_all, fields(vendor = VENDOR))]
    pub async fn complete(&self, system: &str, prompt: &str) -> Result<String, SendError> {
        let response = self
            .client
            .post(self.messages_url.clone())
            .header("x-api-key", self.api_key.expose_secret())
            .header("anthropic-version", API_VERSION)
            .json(&json!({
                "model": self.model,
                "max_tokens": self.max_tokens,
                "system": system,
                "messages": [{ "role": "user", "content": prompt }],
            }))
            .send()
            .await
            .map_err(|err| SendError::from_http(VENDOR, &err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| SendError::from_http(VENDOR, &err))?;
        if status.is_success() {
            let reply: Reply = serde_json::from_slice(&bytes)
                .map_err(|_| SendError::transient("anthropic-unreadable-response"))?;
            let text: String = reply
                .content
                .iter()
                .filter(|b| b.kind == "text")
                .map(|b| b.text.as_str())
                .collect();
            if text.trim().is_empty() {
                return Err(SendError::transient("anthropic-empty-reply"));
            }
            return Ok(text);
        }
        let kind = serde_json::from_slice::<Failure>(&bytes)
            .ok()
            .map(|f| f.error.kind)
            .filter(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .unwrap_or_else(|| format!("http-{}", status.as_u16()));
        let code = format!("anthropic-{kind}");
        let err = if status.as_u16() == 429 || status.as_u16() == 529 || status.is_server_error() {
            SendError::transient(code)
        } else {
            SendError::permanent(code)
        };
        tracing::warn!(error = %err, "the assistant did not answer");
        Err(err)
    }
}
