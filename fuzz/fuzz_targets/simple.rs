//! The `simple` codec: every type in both encodings. The first byte picks
//! the type and encoding; the rest is the messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use topictable_codec_simple::SimpleCodec;
use topictable_fuzz::{decode_and_check, decoder, split_messages};

const TYPES: [&str; 11] = [
    "string",
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "bytes",
    "uuid",
    "timestamp",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kind = TYPES[pick as usize % TYPES.len()];
    let encoding = if pick & 0x80 == 0 { "binary" } else { "text" };
    let mut d = decoder(&SimpleCodec, json!({"type": kind, "encoding": encoding}));
    decode_and_check(d.as_mut(), &split_messages(rest));
});
