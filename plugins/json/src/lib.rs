//! The `json` codec (see `topictable-codec-json`), exported as a plugin.

topictable_sdk::export_plugin! {
    name: "json",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [topictable_codec_json::JsonCodec],
    sinks: [],
}
