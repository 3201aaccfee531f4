//! The embedded registry and the client against each other, and against
//! confluent-kafka's Python `SchemaRegistryClient` (the reference client).

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use topictable_registry_server::{self as server, RegistryServer};
use topictable_schema_registry::model::error_codes;
use topictable_schema_registry::{
    ClientConfig, MAX_NOT_FOUND_IDS, MAX_RESPONSE_BYTES, RegistryClient, RegistryError, Schema,
    SchemaReference, SchemaType, Version,
};
use topictable_test_support::reference_python;

const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}"#;

#[test]
fn confluent_python_client_works_against_our_registry() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    // The reference client; never skipped (it panics when there is no Python).
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = reference_python::run_script(&workspace, "registry_check.py", &[registry.url()]);
    let seen: serde_json::Value = serde_json::from_str(&out).unwrap();
    let order_id = seen["order_id"].as_u64().unwrap() as u32;

    // What Python registered, our client reads, references resolved.
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let order = client.schema_by_id(order_id).unwrap();
    assert_eq!(order.references.len(), 1);
    assert_eq!(order.references[0].reference.name, "com.acme.Address");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&order.references[0].resolved.schema.schema)
            .unwrap(),
        serde_json::from_str::<serde_json::Value>(ADDRESS).unwrap()
    );
    let texts = order.texts_in_dependency_order();
    assert_eq!(texts.len(), 2);
    assert!(texts[0].contains("Address") && texts[1].contains("Order"));
    assert_eq!(
        client.subjects().unwrap(),
        vec!["address-value".to_string(), "orders-value".to_string()]
    );
    let (latest, _) = client
        .subject_version("orders-value", Version::Latest)
        .unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.id, seen["order_v2_id"].as_u64().unwrap() as u32);
}

#[test]
fn client_registers_reads_and_caches() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let address_id = client.register("address", &Schema::avro(ADDRESS)).unwrap();
    assert_eq!(address_id, 1);
    // Same schema, other whitespace, other subject: same global id.
    let spaced = ADDRESS.replace(',', ", ");
    assert_eq!(client.register("other", &Schema::avro(&spaced)).unwrap(), 1);
    let order = Schema {
        schema: r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"to","type":"com.acme.Address"}]}"#.into(),
        schema_type: SchemaType::Avro,
        references: vec![SchemaReference {
            name: "com.acme.Address".into(),
            subject: "address".into(),
            version: 1,
        }],
    };
    let order_id = client.register("orders-value", &order).unwrap();
    assert_eq!(order_id, 2);
    assert_eq!(client.versions("orders-value").unwrap(), vec![1]);
    assert_eq!(client.id_versions(1).unwrap().len(), 2);

    let reader = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    for _ in 0..1000 {
        let s = reader.schema_by_id(order_id).unwrap();
        assert_eq!(s.references[0].resolved.schema.schema, ADDRESS);
    }
    // One call for the schema, one for its reference; then the cache answers.
    assert_eq!(reader.http_calls(), 2);
    let (v, _) = reader
        .subject_version("address", Version::Number(1))
        .unwrap();
    assert_eq!(v.id, 1);
    reader
        .subject_version("address", Version::Number(1))
        .unwrap();
    assert_eq!(
        reader.http_calls(),
        2,
        "reference fetch filled the version cache"
    );
}

#[test]
fn errors_carry_confluent_codes() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    let e = client.schema_by_id(42).unwrap_err();
    assert!(e.is_not_found());
    assert!(
        matches!(&e, RegistryError::Api { error_code, status: 404, .. } if *error_code == error_codes::SCHEMA_NOT_FOUND),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "schema registry GET /schemas/ids/42: HTTP 404, error 40403: Schema 42 not found"
    );
    // The miss is remembered for a while: no second request.
    let calls = client.http_calls();
    assert!(client.schema_by_id(42).unwrap_err().is_not_found());
    assert_eq!(client.http_calls(), calls);

    let e = client.subject_version("nope", Version::Latest).unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::Api {
                error_code: 40401,
                ..
            }
        ),
        "{e}"
    );
    let e = client
        .register("bad", &Schema::avro("{not json"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::Api {
                error_code: 42201,
                status: 422,
                ..
            }
        ),
        "{e}"
    );
    client.register("s", &Schema::avro(r#""string""#)).unwrap();
    let e = client.subject_version("s", Version::Number(5)).unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::Api {
                error_code: 40402,
                ..
            }
        ),
        "{e}"
    );

    // Raw HTTP: content type and body shape as Confluent's.
    let mut stream = std::net::TcpStream::connect(registry.addr()).unwrap();
    write!(
        stream,
        "GET /subjects/nope/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/vnd.schemaregistry.v1+json"),
        "{text}"
    );
    assert!(
        text.ends_with(r#"{"error_code":40401,"message":"Subject 'nope' not found."}"#),
        "{text}"
    );
}

#[test]
fn unreachable_registry_is_a_clear_error_after_retries() {
    // A port that was free a moment ago: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = ClientConfig::new(&url).with_retries(2, Duration::from_millis(20));
    let client = RegistryClient::new(config).unwrap();
    let started = Instant::now();
    let e = client.schema_by_id(1).unwrap_err();
    let RegistryError::Unreachable { attempts, .. } = &e else {
        panic!("expected Unreachable, got {e}")
    };
    assert_eq!(*attempts, 3);
    assert_eq!(client.http_calls(), 3);
    // Backoff: 20 ms then 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(60));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "schema registry at {url} unreachable after 3 attempts: "
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[test]
fn persisted_registry_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("tt-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("registry.json");
    let _ = std::fs::remove_file(&file);
    {
        let registry = RegistryServer::persistent(&file)
            .unwrap()
            .spawn("127.0.0.1:0")
            .unwrap();
        let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
        assert_eq!(client.register("a", &Schema::avro(ADDRESS)).unwrap(), 1);
        assert_eq!(client.register("b", &Schema::avro(r#""long""#)).unwrap(), 2);
        registry.shutdown();
    }
    let registry = RegistryServer::persistent(&file)
        .unwrap()
        .spawn("127.0.0.1:0")
        .unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    assert_eq!(client.schema_by_id(2).unwrap().schema.schema, r#""long""#);
    assert_eq!(client.subjects().unwrap(), vec!["a", "b"]);
    assert_eq!(client.register("c", &Schema::avro(r#""int""#)).unwrap(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn subject_strategies_name_subjects_like_confluent() {
    use topictable_schema_registry::SubjectNameStrategy as S;
    assert_eq!(
        S::TopicName.subject("orders", false, None).unwrap(),
        "orders-value"
    );
    assert_eq!(
        S::TopicName.subject("orders", true, None).unwrap(),
        "orders-key"
    );
    assert_eq!(
        S::RecordName
            .subject("orders", false, Some("com.acme.Order"))
            .unwrap(),
        "com.acme.Order"
    );
    assert_eq!(
        S::TopicRecordName
            .subject("orders", false, Some("com.acme.Order"))
            .unwrap(),
        "orders-com.acme.Order"
    );
    assert!(S::RecordName.subject("orders", false, None).is_err());
}

#[test]
fn a_response_body_past_the_cap_is_refused_not_buffered() {
    // A "registry" that answers with an endless JSON string, without a length.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0; 4096];
        let _ = stream.read(&mut buf);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{\"schema\": \""
        );
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(MAX_RESPONSE_BYTES >> 20) + 4 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let mut config = ClientConfig::new(&format!("http://{addr}"));
    config.max_retries = 0;
    let client = RegistryClient::new(config).unwrap();
    let err = client.schema_by_id(1).unwrap_err().to_string();
    assert!(err.contains("more than a schema may take"), "{err}");
}

#[test]
fn unknown_ids_are_remembered_up_to_a_bound() {
    let registry = server::spawn("127.0.0.1:0").unwrap();
    let client = RegistryClient::new(ClientConfig::new(&registry.url())).unwrap();
    for id in 0..(MAX_NOT_FOUND_IDS as u32 + 500) {
        let err = client.schema_by_id(1_000_000 + id).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(client.not_found_ids() <= MAX_NOT_FOUND_IDS);
    }
    assert_eq!(client.not_found_ids(), MAX_NOT_FOUND_IDS);
    // The newest unknown id is still remembered: asking again makes no call.
    let calls = client.http_calls();
    let _ = client.schema_by_id(1_000_000 + MAX_NOT_FOUND_IDS as u32 + 499);
    assert_eq!(client.http_calls(), calls);
}

/// Credentials in the registry URL (`user:pass@`, as Confluent's clients
/// take them) and the basic-auth password never show in an error, a
/// `Debug` rendering or the client's URL; the host stays.
#[test]
fn credentials_never_show_in_errors_or_debug() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://tt-user:MARKER-URL-PASS@127.0.0.1:{port}");
    let config = ClientConfig::new(&url)
        .with_basic_auth("tt", "MARKER-BASIC-PASS")
        .with_retries(1, Duration::from_millis(10));
    let shown_config = format!("{config:?}");
    let client = RegistryClient::new(config).unwrap();
    let e = client.schema_by_id(1).unwrap_err();
    let bad_path = RegistryClient::new(ClientConfig::new(&format!("{url}/sub")))
        .map(|c| c.schema_by_id(1).unwrap_err())
        .unwrap_or_else(|e| e);
    for shown in [
        e.to_string(),
        format!("{e:?}"),
        bad_path.to_string(),
        format!("{client:?}"),
        client.url(),
        shown_config,
    ] {
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(
            shown.contains(&format!("127.0.0.1:{port}")) || shown.contains("***"),
            "{shown}"
        );
    }
    assert!(
        e.to_string()
            .contains(&format!("http://***@127.0.0.1:{port}")),
        "{e}"
    );
    let settings: topictable_schema_registry::RegistrySettings =
        serde_json::from_value(serde_json::json!({"schema_registry_url": url,
            "registry_user": "tt", "registry_password": "MARKER-BASIC-PASS"}))
        .unwrap();
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("MARKER") && shown.contains("***"),
        "{shown}"
    );
}
