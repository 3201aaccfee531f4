//! The `avro` codec on bare datums: every type (flattened and as structs),
//! general unions, a non-record schema and a recursive record. The first
//! byte picks the decoder; decoders live across inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use topictable_codec_avro::AvroCodec;
use topictable_fuzz::{
    Decoders, avro_all_types_schema, avro_recursive_schema, avro_union_schema, decode_and_check,
    decoder, split_messages, try_decoder,
};

static DECODERS: Decoders = Decoders::new();

fn raw(schema: Value, extra: Value) -> Value {
    let mut config = json!({"protocol": "raw", "schema": schema.to_string()});
    for (k, v) in extra.as_object().expect("an object") {
        config[k] = v.clone();
    }
    config
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut d = DECODERS.get(pick, || {
        let mut all = vec![
            decoder(&AvroCodec, raw(avro_all_types_schema(), json!({}))),
            decoder(
                &AvroCodec,
                raw(avro_all_types_schema(), json!({"nested": "struct"})),
            ),
            decoder(
                &AvroCodec,
                raw(avro_union_schema(), json!({"unions": "union"})),
            ),
            decoder(
                &AvroCodec,
                raw(
                    json!({"type": "array", "items": "long"}),
                    json!({"column": "xs"}),
                ),
            ),
        ];
        // A recursive schema may be refused (it has no finite columns); if
        // it is accepted, it is fuzzed too.
        if let Ok(d) = try_decoder(&AvroCodec, raw(avro_recursive_schema(), json!({}))) {
            all.push(d);
        }
        all
    });
    decode_and_check(d.as_mut(), &split_messages(rest));
});
