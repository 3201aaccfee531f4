//! The `protobuf` codec on `acme.Order` (every scalar, nested and repeated
//! messages, maps, oneofs, enums and well-known types): Confluent framing
//! with message indexes read against the reader's own file, and bare
//! messages. The first byte picks; decoders live across inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use topictable_codec_protobuf::ProtobufCodec;
use topictable_fuzz::{Decoders, decode_and_check, decoder, split_messages};

static DECODERS: Decoders = Decoders::new();

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut d = DECODERS.get(pick, || {
        let protos = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../codecs/protobuf/tests/protos"
        );
        let file = format!("{protos}/acme/order.proto");
        let config = |protocol: &str| {
            json!({"protocol": protocol, "message": "acme.Order",
                   "proto_files": file, "proto_include": protos})
        };
        vec![
            decoder(&ProtobufCodec, config("confluent")),
            decoder(&ProtobufCodec, config("raw")),
        ]
    });
    decode_and_check(d.as_mut(), &split_messages(rest));
});
