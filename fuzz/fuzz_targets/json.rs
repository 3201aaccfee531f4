//! The `json` codec: a flat config of every column type (the hand-written
//! fast scanner, then serde on anything it leaves), and a config of JSON
//! Pointers, lenient, that takes the serde path only. The first byte picks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use topictable_codec_json::JsonCodec;
use topictable_fuzz::{Decoders, decode_and_check, decoder, split_messages};

static DECODERS: Decoders = Decoders::new();

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut d = DECODERS.get(pick, || {
        let columns = json!([
            {"name": "s", "type": "string"},
            {"name": "b", "type": "bool"},
            {"name": "i", "type": "int32"},
            {"name": "l", "type": "int64"},
            {"name": "f", "type": "float32"},
            {"name": "d", "type": "float64"},
            {"name": "t", "type": "timestamp"},
            {"name": "j", "type": "json"},
        ]);
        vec![
            decoder(&JsonCodec, json!({"columns": columns})),
            decoder(
                &JsonCodec,
                json!({"columns": columns, "lenient": true, "mapping": {
                    "/order/s": "s", "/order/lines/0/b": "b", "/a~1b": "i", "/x/~0y": "l",
                    "/order/f": "f", "d": "d", "/t/0/0": "t", "/": "j"
                }}),
            ),
        ]
    });
    decode_and_check(d.as_mut(), &split_messages(rest));
});
