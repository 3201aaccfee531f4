//! The pipeline file parser (`topictable validate`, `run`, and pipelines
//! posted to the REST API): whatever the text, parsing ends with a pipeline
//! or an error naming where; and the definition the API shows back (secrets
//! masked) is still TOML, and masking it again changes nothing.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use topictable::pipeline::{parse, redact_secrets};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `${file:PATH}` reads the file it names; the fuzzer must not wander the
    // machine's files (the reader's own limits have a unit test).
    let text = text.replace("${file:", "${nofile:");
    let _ = parse(Path::new("/nonexistent/fuzz.toml"), &text);
    if text.parse::<toml::Table>().is_ok() {
        let shown = redact_secrets(&text);
        assert!(
            shown.parse::<toml::Table>().is_ok(),
            "the masked definition is not TOML:\n{shown}"
        );
        assert_eq!(redact_secrets(&shown), shown, "masking twice changes it");
    }
});
