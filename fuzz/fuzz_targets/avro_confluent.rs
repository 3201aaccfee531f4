//! The `avro` codec on Confluent-framed datums whose writer schemas come
//! from a registry: the reader is the subject's latest version, the writers
//! are its older version (resolved against it), itself, and an unrelated
//! schema that cannot be resolved. Message ids are steered to these (see
//! `pick_schema_id`); decoders live across inputs.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use topictable_codec_avro::AvroCodec;
use topictable_fuzz::{
    Decoders, avro_all_types_schema, avro_union_schema, decode_and_check, decoder, pick_schema_id,
    registry, split_messages,
};
use topictable_schema_registry::Schema;

static DECODERS: Decoders = Decoders::new();
static IDS: OnceLock<Vec<u32>> = OnceLock::new();

fn ids() -> &'static [u32] {
    IDS.get_or_init(|| {
        let client = &registry().client;
        let v2 = avro_all_types_schema();
        // Version 1: fewer fields, an int where v2 has a long, a float
        // where it has a double (promotions), no `opt` (a default).
        let mut v1 = v2.clone();
        let fields = v1["fields"].as_array_mut().expect("fields");
        fields.retain(|f| !matches!(f["name"].as_str(), Some("opt" | "tags" | "people")));
        for f in fields.iter_mut() {
            match f["name"].as_str() {
                Some("l") => f["type"] = json!("int"),
                Some("d") => f["type"] = json!("float"),
                _ => {}
            }
        }
        fields.push(json!({"name": "gone", "type": "string"}));
        let register = |subject: &str, schema: &serde_json::Value| {
            client
                .register(subject, &Schema::avro(schema.to_string()))
                .expect("the embedded registry takes the schema")
        };
        let id1 = register("fuzz-value", &v1);
        let id2 = register("fuzz-value", &v2);
        let other = register("other-value", &avro_union_schema());
        vec![id1, id2, other]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let ids = ids();
    let mut d = DECODERS.get(pick, || {
        let url = registry().handle.url();
        vec![
            decoder(
                &AvroCodec,
                json!({"schema_registry_url": url, "topic": "fuzz"}),
            ),
            decoder(
                &AvroCodec,
                json!({"schema_registry_url": url, "topic": "fuzz", "nested": "struct"}),
            ),
        ]
    });
    let mut messages: Vec<Vec<u8>> = split_messages(rest).iter().map(|m| m.to_vec()).collect();
    for m in &mut messages {
        pick_schema_id(m, ids);
    }
    let views: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
    decode_and_check(d.as_mut(), &views);
});
