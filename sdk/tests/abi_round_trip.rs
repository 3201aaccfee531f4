//! In-process round trips through each ABI interface, as DataFusion's FFI
//! crate tests its own: a codec or sink factory is wrapped the way a plugin
//! exports it (`Ffi*`), and used the way the host does (`Foreign*`), in one
//! process with no library loaded. Whatever crosses (descriptions, configs,
//! message batches, Arrow batches, row errors and their kinds, plugin errors,
//! panics) must arrive as it left, and every object must be released once.
//! The real-library tests (`host/tests/plugin_loading.rs`) load built plugins.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value, json};
use topictable_sdk::abi::{
    FfiCodecFactory, FfiObjectCounts, FfiSinkFactory, ForeignCodec, ForeignSinkFactory,
    local_object_counts,
};
use topictable_sdk::{
    Codec, CodecDescription, ConfigKey, ConfigSpec, ConfigType, Decoded, Decoder, Encoded, Encoder,
    MessageBatch, MessageBatchBuilder, PluginError, RowError, Side, Sink, SinkDescription,
    SinkFactory, SinkUpdate,
};

/// The object counters are global: one test at a time, so each can check
/// that what it created was released.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Objects created but not released, per kind, since `before`.
fn leaked_since(before: FfiObjectCounts) -> Vec<(&'static str, i64)> {
    let now = local_object_counts();
    let live = |created: u64, released: u64, created0: u64, released0: u64| {
        (created - created0) as i64 - (released - released0) as i64
    };
    [
        (
            "decoders",
            live(
                now.decoders_created,
                now.decoders_released,
                before.decoders_created,
                before.decoders_released,
            ),
        ),
        (
            "encoders",
            live(
                now.encoders_created,
                now.encoders_released,
                before.encoders_created,
                before.encoders_released,
            ),
        ),
        (
            "sinks",
            live(
                now.sinks_created,
                now.sinks_released,
                before.sinks_created,
                before.sinks_released,
            ),
        ),
        (
            "factories",
            live(
                now.factories_created,
                now.factories_released,
                before.factories_created,
                before.factories_released,
            ),
        ),
        (
            "arrays",
            live(
                now.arrays_exported,
                now.arrays_released,
                before.arrays_exported,
                before.arrays_released,
            ),
        ),
        (
            "schemas",
            live(
                now.schemas_exported,
                now.schemas_released,
                before.schemas_exported,
                before.schemas_released,
            ),
        ),
    ]
    .into_iter()
    .filter(|(_, n)| *n != 0)
    .collect()
}

/// The `len` format: each value's length as an int64 column; an empty value
/// is a bad row, `later` and `full` are row errors of those kinds, `panic`
/// panics. It encodes an int64 column as decimal text; a negative is a row error.
struct LenCodec;

impl Codec for LenCodec {
    fn description(&self) -> CodecDescription {
        CodecDescription {
            format: "len".into(),
            doc: "each value's length".into(),
            config: ConfigSpec::new(vec![ConfigKey::optional(
                "column",
                ConfigType::String,
                json!("Len"),
                "the output column",
            )]),
            can_encode: true,
        }
    }

    fn new_decoder(
        &self,
        config: &Map<String, Value>,
        side: Side,
    ) -> Result<Box<dyn Decoder>, PluginError> {
        let column = config["column"].as_str().unwrap_or("Len");
        if column.is_empty() {
            return Err(PluginError::config("`column` is empty"));
        }
        let schema = Arc::new(Schema::new(vec![Field::new(column, DataType::Int64, true)]));
        Ok(Box::new(LenDecoder { schema, side }))
    }

    fn new_encoder(
        &self,
        _config: &Map<String, Value>,
        _side: Side,
        schema: SchemaRef,
    ) -> Result<Box<dyn Encoder>, PluginError> {
        if schema.fields().len() != 1 || schema.field(0).data_type() != &DataType::Int64 {
            return Err(PluginError::config(format!(
                "expected one int64 column, got {schema}"
            )));
        }
        Ok(Box::new(DecimalEncoder))
    }
}

struct LenDecoder {
    schema: SchemaRef,
    side: Side,
}

impl Decoder for LenDecoder {
    fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, messages: &MessageBatch<'_>) -> Result<Decoded, PluginError> {
        let bytes = if self.side == Side::Key {
            messages.keys
        } else {
            messages.values
        };
        let mut errors = Vec::new();
        let lengths: Int64Array = (0..bytes.len())
            .map(|row| match bytes.get(row) {
                Some(b"") => {
                    errors.push(RowError::new(row, "empty"));
                    None
                }
                Some(b"later") => {
                    errors.push(RowError::retry_later(row, "registry down"));
                    None
                }
                Some(b"full") => {
                    errors.push(RowError::batch_full(row, "no room"));
                    None
                }
                Some(b"panic") => panic!("a panic in the plugin's decode"),
                Some(b) => Some(b.len() as i64),
                None => None,
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), vec![Arc::new(lengths) as ArrayRef])?;
        Ok(Decoded { batch, errors })
    }
}

struct DecimalEncoder;

impl Encoder for DecimalEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Encoded, PluginError> {
        let mut errors = Vec::new();
        let bytes: BinaryArray = batch
            .column(0)
            .as_primitive::<Int64Type>()
            .iter()
            .enumerate()
            .map(|(row, v)| match v {
                Some(v) if v < 0 => {
                    errors.push(RowError::new(row, format!("{v} is negative")));
                    None
                }
                v => v.map(|v| v.to_string().into_bytes()),
            })
            .collect();
        Ok(Encoded { bytes, errors })
    }
}

/// Messages with the given values, one partition.
fn messages(values: &[Option<&[u8]>]) -> MessageBatchBuilder {
    let mut builder = MessageBatchBuilder::with_capacity(values.len(), 8);
    for (offset, value) in values.iter().enumerate() {
        builder.push(
            "t",
            0,
            offset as i64,
            Some(1_000),
            Some(b"k"),
            *value,
            &[("h", Some(b"v"))],
        );
    }
    builder
}

fn config(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

#[test]
fn a_codec_decodes_across_the_abi_as_it_does_in_process() {
    let _serial = serial();
    let before = local_object_counts();
    {
        let foreign = ForeignCodec::new(FfiCodecFactory::new(Box::new(LenCodec))).unwrap();
        assert_eq!(foreign.description(), LenCodec.description());

        let values: [Option<&[u8]>; 6] = [
            Some(b"abc"),
            None,
            Some(b""),
            Some(b"later"),
            Some(b"full"),
            Some(b"hello world"),
        ];
        let input = messages(&values);
        for side in [Side::Value, Side::Key] {
            let config = config(json!({ "column": "N" }));
            let mut ours = LenCodec.new_decoder(&config, side).unwrap();
            let mut theirs = foreign.new_decoder(&config, side).unwrap();
            assert_eq!(theirs.output_schema(), ours.output_schema());
            // Twice: a decoder is used batch after batch.
            for _ in 0..2 {
                let want = ours.decode(&input.batch().view()).unwrap();
                let got = theirs.decode(&input.batch().view()).unwrap();
                assert_eq!(got.batch, want.batch, "{side:?}");
                assert_eq!(got.errors, want.errors, "{side:?}: rows and kinds");
            }
        }
        // An empty batch crosses too.
        let mut theirs = foreign
            .new_decoder(&config(json!({"column": "N"})), Side::Value)
            .unwrap();
        let empty = theirs
            .decode(&MessageBatchBuilder::with_capacity(0, 0).batch().view())
            .unwrap();
        assert_eq!(empty.batch.num_rows(), 0);
        assert_eq!(empty.batch.schema(), theirs.output_schema());
    }
    assert_eq!(leaked_since(before), [], "every object released once");
}

#[test]
fn plugin_errors_and_panics_come_back_as_errors() {
    let _serial = serial();
    let before = local_object_counts();
    {
        let foreign = ForeignCodec::new(FfiCodecFactory::new(Box::new(LenCodec))).unwrap();
        let refused = foreign.new_decoder(&config(json!({ "column": "" })), Side::Value);
        assert_eq!(
            refused.err(),
            Some(PluginError::config("`column` is empty"))
        );

        let mut decoder = foreign
            .new_decoder(&config(json!({"column": "N"})), Side::Value)
            .unwrap();
        let error = decoder
            .decode(&messages(&[Some(b"panic")]).batch().view())
            .unwrap_err();
        assert!(
            matches!(&error, PluginError::Panicked(m) if m.contains("a panic in the plugin's decode")),
            "{error:?}"
        );
        // The decoder goes on with the next batch.
        let next = decoder
            .decode(&messages(&[Some(b"ok")]).batch().view())
            .unwrap();
        assert_eq!(next.batch.column(0).as_primitive::<Int64Type>().value(0), 2);

        let not_int = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let refused = foreign.new_encoder(&Map::new(), Side::Value, not_int);
        assert!(
            matches!(refused, Err(PluginError::Config(m)) if m.contains("expected one int64 column"))
        );
    }
    assert_eq!(leaked_since(before), []);
}

#[test]
fn an_encoder_encodes_across_the_abi_as_it_does_in_process() {
    let _serial = serial();
    let before = local_object_counts();
    {
        let foreign = ForeignCodec::new(FfiCodecFactory::new(Box::new(LenCodec))).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![
                Some(7),
                None,
                Some(-1),
                Some(123_456),
            ]))],
        )
        .unwrap();
        let mut ours = LenCodec
            .new_encoder(&Map::new(), Side::Value, schema.clone())
            .unwrap();
        let mut theirs = foreign
            .new_encoder(&Map::new(), Side::Value, schema)
            .unwrap();
        for _ in 0..2 {
            let want = ours.encode(&batch).unwrap();
            let got = theirs.encode(&batch).unwrap();
            assert_eq!(got.bytes, want.bytes);
            assert_eq!(got.errors, want.errors);
            assert_eq!(got.errors, [RowError::new(2, "-1 is negative")]);
        }
    }
    assert_eq!(leaked_since(before), []);
}

/// What a recording sink was given.
#[derive(Default)]
struct Received {
    updates: Vec<SinkUpdate>,
    flushes: usize,
    closes: usize,
}

/// A sink factory whose sinks record what they get; a write of cycle 13 fails.
struct RecordingSinks(Arc<Mutex<Received>>);

impl SinkFactory for RecordingSinks {
    fn description(&self) -> SinkDescription {
        SinkDescription {
            name: "recording".into(),
            doc: "keeps every update".into(),
            config: ConfigSpec::new(vec![]),
        }
    }

    fn new_sink(
        &self,
        _config: &Map<String, Value>,
        _schema: SchemaRef,
    ) -> Result<Box<dyn Sink>, PluginError> {
        Ok(Box::new(RecordingSink(self.0.clone())))
    }
}

struct RecordingSink(Arc<Mutex<Received>>);

impl Sink for RecordingSink {
    fn write(&mut self, update: &SinkUpdate) -> Result<(), PluginError> {
        if update.cycle == 13 {
            return Err(PluginError::failed("cycle 13 is refused"));
        }
        self.0.lock().unwrap().updates.push(update.clone());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PluginError> {
        self.0.lock().unwrap().flushes += 1;
        Ok(())
    }

    fn close(&mut self) -> Result<(), PluginError> {
        self.0.lock().unwrap().closes += 1;
        Ok(())
    }
}

#[test]
fn a_sink_receives_across_the_abi_what_the_host_writes() {
    let _serial = serial();
    let before = local_object_counts();
    let received = Arc::new(Mutex::new(Received::default()));
    {
        let factory = RecordingSinks(received.clone());
        let foreign = ForeignSinkFactory::new(FfiSinkFactory::new(Box::new(RecordingSinks(
            received.clone(),
        ))))
        .unwrap();
        assert_eq!(
            serde_json::to_value(foreign.description()).unwrap(),
            serde_json::to_value(factory.description()).unwrap()
        );
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, true)]));
        let rows = |v: Vec<Option<i64>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from(v)) as ArrayRef],
            )
            .unwrap()
        };
        let update = SinkUpdate {
            cycle: 12,
            added: rows(vec![Some(1), None, Some(3)]),
            removed: rows(vec![Some(9)]),
            modified: rows(vec![]),
        };
        let mut sink = foreign.new_sink(&Map::new(), schema.clone()).unwrap();
        sink.write(&update).unwrap();
        sink.flush().unwrap();
        let refused = sink
            .write(&SinkUpdate {
                cycle: 13,
                ..update.clone()
            })
            .unwrap_err();
        assert_eq!(refused, PluginError::failed("cycle 13 is refused"));
        sink.close().unwrap();
        let got = received.lock().unwrap();
        assert_eq!(got.updates.len(), 1);
        let first = &got.updates[0];
        assert_eq!(first.cycle, 12);
        assert_eq!(first.added, update.added);
        assert_eq!(first.removed, update.removed);
        assert_eq!(first.modified, update.modified);
        assert_eq!((got.flushes, got.closes), (1, 1));
    }
    // The rows the sink kept hold the host's exported arrays until dropped.
    assert_ne!(leaked_since(before), []);
    drop(received);
    assert_eq!(leaked_since(before), []);
}
