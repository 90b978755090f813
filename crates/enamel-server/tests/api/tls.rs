use std::path::PathBuf;
use std::sync::Arc;

use enamel_server::{Application, StartupError};
use enamel_testkit::fresh_database;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::test_settings;

/// A self-signed certificate for localhost, written as PEM files.
struct TestCert {
    dir: tempfile::TempDir,
    der: CertificateDer<'static>,
}

impl TestCert {
    fn new() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("key.pem"),
            certified.signing_key.serialize_pem(),
        )
        .unwrap();
        Self {
            dir,
            der: certified.cert.der().clone(),
        }
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

async fn spawn_tls_app(
    cert: &TestCert,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    enamel_testkit::TestDb,
) {
    let db = fresh_database(enamel_store::Backend::Sqlite).await.unwrap();
    let mut settings = test_settings();
    settings.server.tls_cert = Some(cert.cert());
    settings.server.tls_key = Some(cert.key());
    let app = Application::build(&settings, db.store.clone())
        .await
        .unwrap();
    assert!(app.url().starts_with("https://"));
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (addr, stop, db)
}

/// Fetches /healthz over TLS with only `version` enabled; returns the negotiated
/// version and the raw response.
async fn get_over_tls(
    addr: std::net::SocketAddr,
    cert: &TestCert,
    version: &'static rustls::SupportedProtocolVersion,
) -> (rustls::ProtocolVersion, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let negotiated = tls.get_ref().1.protocol_version().unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    (negotiated, response)
}

#[tokio::test]
async fn https_is_served_over_tls_13_and_tls_12_with_hsts() {
    let cert = TestCert::new();
    let (addr, _stop, _db) = spawn_tls_app(&cert).await;
    for (version, expected) in [
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        let (negotiated, response) = get_over_tls(addr, &cert, version).await;
        assert_eq!(negotiated, expected);
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response
                .to_lowercase()
                .contains("strict-transport-security: max-age="),
            "{response}"
        );
    }
}

/// A `ClientHello` offering at most TLS 1.0 (no `supported_versions` extension).
fn tls10_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x01]; // client_version TLS 1.0
    body.extend([0x5a; 32]); // random
    body.push(0); // no session id
    body.extend([0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // two RSA-AES-CBC suites
    body.extend([0x01, 0x00]); // null compression
    let len = u8::try_from(body.len()).unwrap();
    let mut handshake = vec![0x01, 0x00, 0x00, len];
    handshake.extend(body);
    let mut record = vec![
        0x16,
        0x03,
        0x01,
        0x00,
        u8::try_from(handshake.len()).unwrap(),
    ];
    record.extend(handshake);
    record
}

#[tokio::test]
async fn a_client_offering_only_tls_10_is_refused_with_an_alert() {
    let cert = TestCert::new();
    let (addr, _stop, _db) = spawn_tls_app(&cert).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&tls10_client_hello()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut reply),
    )
    .await;
    assert!(!reply.is_empty(), "the server answers before closing");
    assert_eq!(
        reply[0], 0x15,
        "an alert record, not a ServerHello: {reply:02x?}"
    );
    assert_eq!(reply.get(5), Some(&2), "a fatal alert: {reply:02x?}");
    // rustls answers handshake_failure (40); protocol_version (70) would do as well.
    assert!(
        matches!(reply.get(6), Some(40 | 70)),
        "a refusal: {reply:02x?}"
    );
}

#[tokio::test]
async fn plain_http_on_a_network_address_is_refused_unless_a_tls_proxy_is_declared() {
    let db = fresh_database(enamel_store::Backend::Sqlite).await.unwrap();
    let mut settings = test_settings();
    settings.server.bind = "0.0.0.0:0".parse().unwrap();

    let refused = Application::build(&settings, db.store.clone()).await;
    assert!(
        matches!(refused, Err(StartupError::PlaintextOnNetwork(_))),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("behind_tls_proxy"), "{message}");

    settings.server.behind_tls_proxy = true;
    assert!(
        Application::build(&settings, db.store.clone())
            .await
            .is_ok()
    );

    let cert = TestCert::new();
    settings.server.behind_tls_proxy = false;
    settings.server.tls_cert = Some(cert.cert());
    settings.server.tls_key = Some(cert.key());
    assert!(
        Application::build(&settings, db.store.clone())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused() {
    let (one, other) = (TestCert::new(), TestCert::new());
    let db = fresh_database(enamel_store::Backend::Sqlite).await.unwrap();
    let mut settings = test_settings();
    settings.server.tls_cert = Some(one.cert());
    settings.server.tls_key = Some(other.key());
    let refused = Application::build(&settings, db.store.clone()).await;
    assert!(matches!(refused, Err(StartupError::Tls(_))), "{refused:?}");
}
