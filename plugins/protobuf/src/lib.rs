//! The `protobuf` codec (see `topictable-codec-protobuf`), exported as a plugin.

topictable_sdk::export_plugin! {
    name: "protobuf",
    version: env!("CARGO_PKG_VERSION"),
    codecs: [topictable_codec_protobuf::ProtobufCodec],
    sinks: [],
}
