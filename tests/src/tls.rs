//! A TLS front for tansu, which serves plaintext only: a proxy that ends
//! TLS (asking every client for a certificate signed by its CA) and
//! forwards the bytes to the broker, which advertises the proxy's address.
//! So librdkafka's `security.protocol = "SSL"` and its `ssl.*` properties
//! are tested against a real broker.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Broker;

/// The PEM files a client needs: the CA, and a client certificate and key.
pub struct ClientFiles {
    /// The CA that signed the broker's certificate (`ssl.ca.location`).
    pub ca: PathBuf,
    /// The client's certificate (`ssl.certificate.location`).
    pub certificate: PathBuf,
    /// The client's private key (`ssl.key.location`).
    pub key: PathBuf,
}

/// A broker reachable over TLS only (mutual TLS), killed when dropped.
pub struct TlsBroker {
    /// The broker behind the proxy.
    pub broker: Broker,
    port: u16,
    /// What a client needs.
    pub files: ClientFiles,
    _dir: tempfile::TempDir,
}

impl TlsBroker {
    /// Starts tansu behind a TLS proxy on a free loopback port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        // The certificate is for `localhost`, so that is what is advertised.
        let broker = Broker::start_advertising(&format!("tcp://localhost:{port}"));
        let (server, files) = pki(dir.path());
        proxy(listener, server, broker.port());
        Self {
            broker,
            port,
            files,
            _dir: dir,
        }
    }

    /// `localhost:PORT` of the TLS front.
    pub fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// librdkafka properties for a client with the client certificate.
    pub fn client_properties(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.to_str().expect("utf-8 path").to_string();
        vec![
            ("bootstrap.servers".into(), self.bootstrap()),
            ("security.protocol".into(), "SSL".into()),
            ("ssl.ca.location".into(), path(&self.files.ca)),
            (
                "ssl.certificate.location".into(),
                path(&self.files.certificate),
            ),
            ("ssl.key.location".into(), path(&self.files.key)),
            // The proxy listens on IPv4 loopback only.
            ("broker.address.family".into(), "v4".into()),
        ]
    }
}

/// The proxy's TLS configuration.
struct Server {
    ca: CertificateDer<'static>,
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// A CA; a server certificate for `localhost` and a client certificate it
/// signed. Writes the client's files into `dir`.
fn pki(dir: &Path) -> (Server, ClientFiles) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // OpenSSL (librdkafka) wants to see what the CA may sign, and names
    // that tell the CA from the certificates it signed.
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "topictable test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![usage];
        params.distinguished_name.push(DnType::CommonName, name);
        (params.signed_by(&key, &ca).unwrap(), key)
    };
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("topictable", ExtendedKeyUsagePurpose::ClientAuth);
    let files = ClientFiles {
        ca: dir.join("ca.pem"),
        certificate: dir.join("client.pem"),
        key: dir.join("client.key"),
    };
    std::fs::write(&files.ca, ca.pem()).unwrap();
    std::fs::write(&files.certificate, client_cert.pem()).unwrap();
    std::fs::write(&files.key, client_key.serialize_pem()).unwrap();
    let server = Server {
        ca: ca.der().clone(),
        certificate: server_cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
    };
    (server, files)
}

/// Ends TLS on `listener` (a client certificate signed by the CA required)
/// and forwards each connection to the broker on `broker_port`.
fn proxy(listener: TcpListener, server: Server, broker_port: u16) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.ca).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server.certificate], server.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client without a good certificate ends here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut upstream) =
                        tokio::net::TcpStream::connect(("127.0.0.1", broker_port)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
    });
}
