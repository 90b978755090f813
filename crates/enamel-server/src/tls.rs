//! HTTPS with rustls: TLS 1.3 and 1.2 only, with the aws-lc-rs provider.

use std::path::Path;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::StartupError;

/// Loads a PEM certificate chain and key into a server configuration that speaks
/// only TLS 1.3 and TLS 1.2 (rustls implements nothing older) and offers HTTP/2
/// and HTTP/1.1 by ALPN.
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<RustlsConfig, StartupError> {
    let bad = |what: &'static str| StartupError::Tls(what);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|_| bad("the certificate file cannot be read"))?
        .collect::<Result<_, _>>()
        .map_err(|_| bad("the certificate file is not PEM"))?;
    if chain.is_empty() {
        return Err(bad("the certificate file holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| bad("the key file cannot be read as a PEM private key"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|_| bad("the TLS provider does not support TLS 1.2 and 1.3"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|_| bad("the key does not match the certificate"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}
