//! How the client proves who it is: a bearer token, a client certificate
//! (mutual TLS against a registry that asks for one), and the refusal to send
//! credentials in clear text to another machine.

use std::io::{Read, Write};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use topictable_registry_server::RegistryServer;
use topictable_schema_registry::{ClientConfig, RegistryClient, RegistryError, Schema};

/// A one-shot HTTP server on loopback that answers one schema and returns
/// the request it got.
fn one_request_server() -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0; 4096];
        let n = stream.read(&mut buf).unwrap();
        let body = r#"{"schema":"\"string\""}"#;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    (url, seen)
}

#[test]
fn basic_auth_is_sent_and_failover_uses_the_next_url() {
    let (url, seen) = one_request_server();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config =
        ClientConfig::new(&format!("http://{dead},{url}")).with_basic_auth("alice", "s3cret");
    let client = RegistryClient::new(config).unwrap();
    let s = client.schema_by_id(3).unwrap();
    assert_eq!(s.schema.schema, "\"string\"");
    let request = seen.join().unwrap().to_ascii_lowercase();
    // base64("alice:s3cret")
    assert!(
        request.contains("authorization: basic ywxpy2u6cznjcmv0"),
        "{request}"
    );
    assert!(request.starts_with("get /schemas/ids/3 "), "{request}");
}

#[test]
fn a_bearer_token_is_sent() {
    let (url, seen) = one_request_server();
    let client = RegistryClient::new(ClientConfig::new(&url).with_bearer_token("tok-123")).unwrap();
    assert_eq!(client.schema_by_id(3).unwrap().schema.schema, "\"string\"");
    let request = seen.join().unwrap().to_ascii_lowercase();
    assert!(
        request.contains("authorization: bearer tok-123"),
        "{request}"
    );
    assert!(!format!("{client:?}").contains("tok-123"));
}

fn refusal(config: ClientConfig) -> Option<String> {
    match RegistryClient::new(config) {
        Err(RegistryError::Config(m)) => Some(m),
        Err(e) => panic!("{e}"),
        Ok(_) => None,
    }
}

#[test]
fn credentials_are_not_sent_in_clear_text_to_another_machine() {
    let remote = "http://registry.example.com:8081";
    for config in [
        ClientConfig::new(remote).with_basic_auth("u", "SECRET"),
        ClientConfig::new(remote).with_bearer_token("SECRET"),
        ClientConfig::new("http://u:SECRET@registry.example.com:8081"),
        // Every URL of a list is checked, not only the first.
        ClientConfig::new(&format!("http://127.0.0.1:1,{remote}")).with_basic_auth("u", "SECRET"),
    ] {
        let m = refusal(config).expect("refused");
        assert!(
            m.contains("use https") && m.contains("registry_allow_insecure_auth"),
            "{m}"
        );
        assert!(!m.contains("SECRET"), "{m}");
    }
    // Loopback, https, no credentials, or the user's explicit choice: allowed.
    for config in [
        ClientConfig::new("http://127.0.0.1:8081").with_basic_auth("u", "p"),
        ClientConfig::new("http://localhost:8081").with_bearer_token("t"),
        ClientConfig::new("http://[::1]:8081").with_basic_auth("u", "p"),
        ClientConfig::new("https://registry.example.com").with_basic_auth("u", "p"),
        ClientConfig::new(remote),
        ClientConfig {
            allow_insecure_auth: true,
            ..ClientConfig::new(remote).with_basic_auth("u", "p")
        },
    ] {
        let shown = format!("{config:?}");
        assert_eq!(refusal(config), None, "{shown}");
    }
    let both = ClientConfig::new("https://r")
        .with_basic_auth("u", "p")
        .with_bearer_token("t");
    assert!(refusal(both).unwrap().contains("not both"));
}

/// A CA, and a server and a client certificate it signed.
struct Pki {
    ca: CertificateDer<'static>,
    ca_pem: String,
    server: (CertificateDer<'static>, PrivateKeyDer<'static>),
    client_pem: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![usage];
        (params.signed_by(&key, &ca).unwrap(), key)
    };
    let (server_cert, server_key) = leaf("localhost", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf("topictable", ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca: ca.der().clone(),
        ca_pem: ca.pem(),
        server: (
            server_cert.der().clone(),
            PrivatePkcs8KeyDer::from(server_key.serialize_der()).into(),
        ),
        client_pem: format!("{}\n{}", client_cert.pem(), client_key.serialize_pem()),
    }
}

/// The embedded registry served over TLS on loopback, asking every client
/// for a certificate signed by `pki`'s CA. Returns its URL.
fn tls_registry_asking_for_client_certs(pki: &Pki) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
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
        .with_single_cert(vec![pki.server.0.clone()], pki.server.1.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let router = RegistryServer::in_memory().router();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    // A client without a certificate fails here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    format!("https://localhost:{port}")
}

#[test]
fn a_client_certificate_opens_a_registry_that_asks_for_one() {
    let pki = pki();
    let url = tls_registry_asking_for_client_certs(&pki);
    let trusting = |identity: Option<&str>| {
        let mut config = ClientConfig::new(&url).with_retries(0, std::time::Duration::ZERO);
        config.ca_cert_pem = Some(pki.ca_pem.clone().into_bytes());
        config.client_identity_pem = identity.map(|pem| pem.as_bytes().to_vec());
        RegistryClient::new(config).unwrap()
    };
    // Without a certificate the TLS handshake is refused.
    let refused = trusting(None)
        .register("s", &Schema::avro(r#""string""#))
        .unwrap_err();
    assert!(
        matches!(refused, RegistryError::Unreachable { .. }),
        "{refused}"
    );
    // With one, the registry answers.
    let client = trusting(Some(&pki.client_pem));
    let id = client.register("s", &Schema::avro(r#""string""#)).unwrap();
    assert_eq!(
        client.schema_by_id(id).unwrap().schema.schema,
        r#""string""#
    );
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
}

/// The codec keys: both PEM files are read and joined; one without the
/// other is refused.
#[test]
fn codec_settings_read_the_client_certificate_and_key_files() {
    let pki = pki();
    let url = tls_registry_asking_for_client_certs(&pki);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (cert, key) = pki
        .client_pem
        .split_at(pki.client_pem.find("-----BEGIN PRIVATE KEY").unwrap());
    let settings = |keys: serde_json::Value| -> topictable_schema_registry::RegistrySettings {
        let mut config = serde_json::json!({
            "schema_registry_url": url,
            "registry_ca_cert": write("ca.pem", &pki.ca_pem),
            "registry_retries": 0,
        });
        config
            .as_object_mut()
            .unwrap()
            .extend(keys.as_object().unwrap().clone());
        serde_json::from_value(config).unwrap()
    };
    let both = settings(serde_json::json!({
        "registry_client_cert": write("client.pem", cert),
        "registry_client_key": write("client.key", key),
    }));
    let client = both.client().unwrap().unwrap();
    client.register("s", &Schema::avro(r#""int""#)).unwrap();
    let one = settings(serde_json::json!({"registry_client_cert": write("client.pem", cert)}));
    assert!(one.client().unwrap_err().contains("go together"));
}

/// The embedded registry with a token answers 401 to a request without it,
/// to our client and to confluent-kafka's.
#[test]
fn the_embedded_registry_with_a_token_refuses_requests_without_it() {
    let registry = RegistryServer::in_memory()
        .with_token(Some("reg-token".into()))
        .spawn("127.0.0.1:0")
        .unwrap();
    let without = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    match without.register("s", &Schema::avro(r#""string""#)) {
        Err(RegistryError::Api { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
    let wrong = ClientConfig::new(&registry.url()).with_bearer_token("reg-tokeN");
    assert!(matches!(
        RegistryClient::new(wrong).unwrap().subjects(),
        Err(RegistryError::Api { status: 401, .. })
    ));
    let with = ClientConfig::new(&registry.url()).with_bearer_token("reg-token");
    let client = RegistryClient::new(with).unwrap();
    assert_eq!(
        client.register("s", &Schema::avro(r#""string""#)).unwrap(),
        1
    );
    assert_eq!(
        client.subjects().unwrap(),
        vec!["s"],
        "nothing was stored without the token"
    );

    let Ok(python) = std::env::var("TOPICTABLE_TEST_PYTHON") else {
        return eprintln!("SKIPPED the confluent-kafka part: TOPICTABLE_TEST_PYTHON is not set");
    };
    let script = r#"
import sys
from confluent_kafka.schema_registry import SchemaRegistryClient, Schema
url, token = sys.argv[1], sys.argv[2]
conf = {"url": url}
if token:
    conf.update({"bearer.auth.credentials.source": "STATIC_TOKEN",
                 "bearer.auth.token": token, "bearer.auth.logical.cluster": "lsrc-1"})
try:
    print(SchemaRegistryClient(conf).register_schema("p", Schema('"long"', "AVRO")))
except Exception as e:
    print("refused", getattr(e, "http_status_code", e))
"#;
    let run = |token: &str| {
        let out = std::process::Command::new(&python)
            .args(["-c", script, &registry.url(), token])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(run(""), "refused 401");
    assert_eq!(run("reg-token"), "2");
}

/// A registry refuses a new schema past its count cap and a schema text past
/// its size cap (422, as an invalid schema), and still answers what it has.
#[test]
fn the_embedded_registry_caps_schema_count_and_size() {
    let registry = RegistryServer::in_memory()
        .with_limits(topictable_registry_server::RegistryLimits {
            max_schemas: 2,
            max_schema_bytes: 100,
        })
        .spawn("127.0.0.1:0")
        .unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    assert_eq!(client.register("a", &Schema::avro(r#""int""#)).unwrap(), 1);
    assert_eq!(client.register("b", &Schema::avro(r#""long""#)).unwrap(), 2);
    match client.register("c", &Schema::avro(r#""string""#)) {
        Err(RegistryError::Api {
            status: 422,
            message,
            ..
        }) => {
            assert!(message.contains("holds 2 schemas"), "{message}")
        }
        other => panic!("expected 422, got {other:?}"),
    }
    // A schema it holds can still be registered under another subject.
    assert_eq!(client.register("c", &Schema::avro(r#""int""#)).unwrap(), 1);
    let big = format!(
        r#"{{"type":"enum","name":"E","symbols":["{}"]}}"#,
        "A".repeat(200)
    );
    match client.register("d", &Schema::avro(&big)) {
        Err(RegistryError::Api {
            status: 422,
            message,
            ..
        }) => {
            assert!(
                message.contains("more than this registry takes (100)"),
                "{message}"
            )
        }
        other => panic!("expected 422, got {other:?}"),
    }
    // A body far past the cap is cut off by the body limit, never buffered whole.
    let huge = format!(
        r#"{{"type":"enum","name":"E","symbols":["{}"]}}"#,
        "A".repeat(1 << 20)
    );
    assert!(client.register("d", &Schema::avro(&huge)).is_err());
    assert_eq!(client.subjects().unwrap(), vec!["a", "b", "c"]);
}

/// A registration that could not be saved is answered 500 and undone in
/// memory too: the same schema registered again is saved then, and a restart
/// gives every answered id the schema it was answered for.
#[test]
fn a_registration_that_cannot_be_saved_is_not_kept_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.json");
    let registry = RegistryServer::persistent(&file)
        .unwrap()
        .spawn("127.0.0.1:0")
        .unwrap();
    let client = RegistryClient::new(
        ClientConfig::new(&registry.url()).with_retries(0, std::time::Duration::ZERO),
    )
    .unwrap();
    assert_eq!(client.register("a", &Schema::avro(r#""int""#)).unwrap(), 1);
    // Saving fails while a directory stands where the temporary file goes.
    let blocker = file.with_extension("tmp");
    std::fs::create_dir(&blocker).unwrap();
    let failed = client
        .register("b", &Schema::avro(r#""long""#))
        .unwrap_err();
    assert!(failed.to_string().contains("HTTP 500"), "{failed}");
    assert_eq!(client.subjects().unwrap(), vec!["a"], "undone in memory");
    std::fs::remove_dir(&blocker).unwrap();
    let id = client.register("b", &Schema::avro(r#""long""#)).unwrap();
    registry.shutdown();

    let restarted = RegistryServer::persistent(&file)
        .unwrap()
        .spawn("127.0.0.1:0")
        .unwrap();
    let client = RegistryClient::new(ClientConfig::new(&restarted.url())).unwrap();
    assert_eq!(client.schema_by_id(id).unwrap().schema.schema, r#""long""#);
    assert_eq!(client.subjects().unwrap(), vec!["a", "b"]);
}
