//! The `avro` codec (see `topictable-codec-avro`), exported as a plugin.

topictable_sdk::export_plugin! {
    name: "avro",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [topictable_codec_avro::AvroCodec],
    sinks: [],
}
