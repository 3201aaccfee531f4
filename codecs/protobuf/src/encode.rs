//! stub
/// stub
pub struct ProtobufEncoder;
impl ProtobufEncoder {
    /// stub
    pub fn new(
        _: &crate::ProtobufConfig,
        _: topictable_sdk::Side,
        _: topictable_sdk::arrow_schema::SchemaRef,
    ) -> Result<Self, topictable_sdk::PluginError> {
        todo!()
    }
}
impl topictable_sdk::Encoder for ProtobufEncoder {
    fn encode(
        &mut self,
        _: &topictable_sdk::arrow_array::RecordBatch,
    ) -> Result<topictable_sdk::Encoded, topictable_sdk::PluginError> {
        todo!()
    }
}
