//! The `simple` codec (see `topictable-codec-simple`), exported as a plugin.

topictable_sdk::export_plugin! {
    name: "simple",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [topictable_codec_simple::SimpleCodec],
    sinks: [],
}
