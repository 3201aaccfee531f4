//! Hostile schemas: a message set that doubles at every level (60 messages,
//! each with two fields of the next: 2^60 flattened fields) is refused at
//! once with a clear error, not expanded.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use topictable_codec_protobuf::ProtobufCodec;
use topictable_sdk::{Codec, Side};

#[test]
fn a_message_that_doubles_at_every_level_is_refused_at_once() {
    let dir = std::env::temp_dir().join(format!("tt-hostile-proto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut proto = String::from("syntax = \"proto3\";\npackage hostile;\n");
    for i in 0..60 {
        proto.push_str(&format!(
            "message M{i} {{ M{n} a = 1; M{n} b = 2; }}\n",
            n = i + 1
        ));
    }
    proto.push_str("message M60 { int64 v = 1; }\n");
    std::fs::write(dir.join("hostile.proto"), proto).unwrap();
    let config = json!({"protocol": "raw", "message": "hostile.M0",
        "proto_files": dir.join("hostile.proto").to_str().unwrap(),
        "proto_include": dir.to_str().unwrap()});
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let config = ProtobufCodec
            .description()
            .config
            .validate(&config)
            .unwrap();
        let result = ProtobufCodec
            .new_decoder(&config, Side::Value)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let _ = tx.send(result);
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the message must be refused at once, not expanded");
    let _ = std::fs::remove_dir_all(&dir);
    let err = result.expect_err("a 2^60-field message must be refused");
    assert!(err.contains("expands to more than"), "{err}");
}
