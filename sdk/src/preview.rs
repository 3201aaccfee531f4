//! Short, printable previews of raw bytes for error messages.

use std::fmt::Write;

/// How many bytes a preview shows before it elides the rest.
pub const PREVIEW_BYTES: usize = 24;

/// Renders up to [`PREVIEW_BYTES`] bytes as hex followed by their lossy UTF-8
/// text, e.g. `31 32 2e 35 "12.5"` (with `… (N bytes)` when cut).
pub fn preview_bytes(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let mut out = String::with_capacity(shown.len() * 4 + 8);
    for (i, b) in shown.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    let text: String = String::from_utf8_lossy(shown)
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let _ = write!(out, " {text:?}");
    if bytes.len() > shown.len() {
        let _ = write!(out, " … ({} bytes)", bytes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_short_and_long_input() {
        assert_eq!(preview_bytes(b"12"), "31 32 \"12\"");
        let long = vec![b'a'; 40];
        let p = preview_bytes(&long);
        assert!(p.ends_with("… (40 bytes)"), "{p}");
        assert_eq!(preview_bytes(b"\x00\x01"), "00 01 \"..\"");
    }
}
