//! Every FFI object is released exactly once, by the side that made it. Alone
//! in its own test binary because it reads process-wide counters; also the
//! binary `.ci/run` runs under valgrind.

use topictable_test_support::plugins;

use std::sync::Arc;

use serde_json::json;
use topictable::PluginRegistry;
use topictable_sdk::abi::local_object_counts;
use topictable_sdk::arrow_array::{Int64Array, RecordBatch};
use topictable_sdk::arrow_schema::{DataType, Field, Schema};
use topictable_sdk::{MessageBatchBuilder, Side, SinkUpdate};

#[test]
fn every_ffi_object_is_released_exactly_once() {
    let dir =
        plugins::plugin_dir_with(&["topictable_plugin_simple", "topictable_fixture_test_plugin"]);
    let host_before = local_object_counts();
    let (registry, errors) = PluginRegistry::load_dir(dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    let simple = registry.plugin_of_format("simple").unwrap().counter();
    let test_plugin = registry.plugin_of_format("echo").unwrap().counter();

    let decode_calls = 5;
    {
        let mut decoder = registry
            .new_decoder("simple", &json!({"type": "int64"}), Side::Value)
            .unwrap();
        for round in 0..decode_calls {
            let mut b = MessageBatchBuilder::default();
            for i in 0..100i64 {
                b.push("t", 0, i, None, None, Some(&(i * round).to_be_bytes()), &[]);
            }
            let out = decoder.decode(&b.finish().view()).unwrap();
            assert_eq!(out.batch.num_rows(), 100);
        }
        let schema = Arc::new(Schema::new(vec![Field::new(
            "KafkaValue",
            DataType::Int64,
            true,
        )]));
        let mut encoder = registry
            .new_encoder(
                "simple",
                &json!({"type": "int64"}),
                Side::Value,
                schema.clone(),
            )
            .unwrap();
        let rows = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        encoder.encode(&rows).unwrap();
        encoder.encode(&rows).unwrap();
        let mut sink = registry
            .new_sink("collect", &json!({}), schema.clone())
            .unwrap();
        let empty = RecordBatch::new_empty(schema);
        sink.write(&SinkUpdate {
            cycle: 1,
            added: rows.clone(),
            removed: empty.clone(),
            modified: empty,
        })
        .unwrap();
        sink.close().unwrap();
        // A failed creation makes nothing to release.
        assert!(
            registry
                .new_decoder(
                    "simple",
                    &json!({"type": "int64", "column": 5}),
                    Side::Value
                )
                .is_err()
        );
    }
    drop(registry);

    let s = simple.get();
    assert_eq!((s.decoders_created, s.decoders_released), (1, 1), "{s:?}");
    assert_eq!((s.encoders_created, s.encoders_released), (1, 1), "{s:?}");
    assert_eq!((s.factories_created, s.factories_released), (1, 1), "{s:?}");
    // One array per decode and per encode call, plus the decoder's schema.
    assert_eq!(
        (s.arrays_exported, s.arrays_released),
        (decode_calls as u64 + 2, decode_calls as u64 + 2),
        "{s:?}"
    );
    assert_eq!((s.schemas_exported, s.schemas_released), (1, 1), "{s:?}");
    let t = test_plugin.get();
    assert_eq!((t.sinks_created, t.sinks_released), (1, 1), "{t:?}");
    assert_eq!((t.factories_created, t.factories_released), (2, 2), "{t:?}");
    assert!(t.all_released(), "{t:?}");

    // The host's side: the rows it handed to the encoder and the sink, and the schemas.
    let h = local_object_counts();
    let arrays = h.arrays_exported - host_before.arrays_exported;
    assert_eq!(
        arrays,
        2 + 3,
        "two encode calls and one sink update of three batches"
    );
    assert_eq!(h.arrays_released - host_before.arrays_released, arrays);
    let schemas = h.schemas_exported - host_before.schemas_exported;
    assert_eq!(schemas, 2, "encoder and sink schemas");
    assert_eq!(h.schemas_released - host_before.schemas_released, schemas);
}
