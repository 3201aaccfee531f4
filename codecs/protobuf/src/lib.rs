//! stub
pub struct ProtobufCodec;
