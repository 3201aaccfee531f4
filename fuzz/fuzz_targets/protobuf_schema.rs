//! Structure-aware: the fuzzer writes the `.proto` file too (messages with
//! scalar, enum, message, repeated, map, oneof and optional fields, nested
//! and recursive references), bounded in size. The file is compiled and
//! planned as the codec does for a registry's schema; an accepted one then
//! decodes the rest of the input, bare or Confluent-framed with message
//! indexes chosen by the message itself.
#![no_main]

use std::fmt::Write;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use topictable_codec_protobuf::ProtobufCodec;
use topictable_fuzz::{decode_and_check, split_messages, try_decoder};

/// Most messages in one drawn file.
const MAX_MESSAGES: usize = 8;
/// Most fields in one drawn message.
const MAX_FIELDS: u8 = 8;

const SCALARS: [&str; 15] = [
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
];
const MAP_KEYS: [&str; 4] = ["int32", "string", "uint64", "bool"];

/// A field's type: a scalar, the enum, or one of the file's messages.
fn field_type(u: &mut Unstructured, messages: usize) -> Result<String> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 | 1 => SCALARS[u.choose_index(SCALARS.len())?].to_string(),
        2 => "Kind".to_string(),
        _ => format!("M{}", u.choose_index(messages)?),
    })
}

/// A `.proto` file of 1..=MAX_MESSAGES messages named M0, M1, …
fn draw_file(u: &mut Unstructured) -> Result<String> {
    let messages = u.int_in_range(1..=MAX_MESSAGES)?;
    let mut text = String::from("syntax = \"proto3\";\npackage fz;\n");
    text.push_str("enum Kind { K0 = 0; K1 = 1; K7 = 7; }\n");
    for m in 0..messages {
        let _ = writeln!(text, "message M{m} {{");
        let fields = u.int_in_range(0..=MAX_FIELDS)?;
        let mut number = 1;
        let mut in_oneof = false;
        for f in 0..fields {
            let ty = field_type(u, messages)?;
            let line = match u.int_in_range(0..=5u8)? {
                0 => format!("repeated {ty} f{f} = {number};"),
                1 => {
                    let key = MAP_KEYS[u.choose_index(MAP_KEYS.len())?];
                    format!("map<{key}, {ty}> f{f} = {number};")
                }
                2 if !ty.starts_with('M') => format!("optional {ty} f{f} = {number};"),
                3 if !in_oneof => {
                    in_oneof = true;
                    format!(
                        "oneof o{f} {{ {ty} f{f} = {number}; string g{f} = {}; }}",
                        {
                            number += 1;
                            number
                        }
                    )
                }
                _ => format!("{ty} f{f} = {number};"),
            };
            let _ = writeln!(text, "  {line}");
            number += u.int_in_range(1..=3)?;
        }
        text.push_str("}\n");
    }
    Ok(text)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(file) = draw_file(&mut u) else {
        return;
    };
    let Ok(framed) = u.arbitrary::<bool>() else {
        return;
    };
    let protocol = if framed { "confluent" } else { "raw" };
    if std::env::var_os("FUZZ_SHOW").is_some() {
        eprintln!("{protocol}:\n{file}");
    }
    let config = json!({"protocol": protocol, "message": "fz.M0", "schema": file});
    let Ok(mut d) = try_decoder(&ProtobufCodec, config) else {
        return;
    };
    decode_and_check(d.as_mut(), &split_messages(u.take_rest()));
});
