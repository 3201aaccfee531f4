//! The Confluent wire framing: magic byte and schema id, then Protobuf's
//! message indexes. Whatever the bytes, parsing ends with a result or an
//! error; a frame we write is read back as it was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use topictable_schema_registry::framing::{
    decode_message_indexes, encode_message_indexes, frame, split_frame,
};

fuzz_target!(|data: &[u8]| {
    if let Ok((id, payload)) = split_frame(data) {
        assert_eq!(data.len(), payload.len() + 5);
        let mut again = Vec::new();
        frame(id, payload, &mut again);
        assert_eq!(
            again, data,
            "a frame read and written again is the same bytes"
        );
    }
    if let Ok((indexes, rest)) = decode_message_indexes(data) {
        assert!(
            data.ends_with(rest),
            "what follows the indexes is the message"
        );
        // The indexes we write read back as the same indexes.
        let mut written = Vec::new();
        encode_message_indexes(&indexes, &mut written);
        written.extend_from_slice(b"tail");
        let (back, tail) = decode_message_indexes(&written).expect("our own indexes read back");
        let expected = if indexes.is_empty() {
            vec![0]
        } else {
            indexes.clone()
        };
        let back = if back.is_empty() { vec![0] } else { back };
        assert_eq!(back, expected);
        assert_eq!(tail, b"tail");
    }
});
