"""Serializes records with confluent-kafka's AvroSerializer and writes the bytes.

Usage: python produce_avro.py REGISTRY_URL CASES_JSON OUT_JSONL [BOOTSTRAP]

With BOOTSTRAP, every record is also produced to its topic on that Kafka
broker (confluent-kafka's Producer, value only), as a real producer would.

CASES_JSON is a list of cases: {"topic": ..., "schema": <Avro schema>,
"references": [{"name", "subject", "version"}] (optional), "key": false,
"raw": false, "records": [...]}. Each record becomes one line of OUT_JSONL:
{"topic": ..., "hex": <the serialized bytes>}.

- Confluent cases go through AvroSerializer with auto-registration against
  the registry at REGISTRY_URL (TopicNameStrategy), exactly as a producer would.
- "raw" cases are the bare datum (fastavro's schemaless_writer, which the
  serializer uses internally), with no header.

JSON has no bytes or decimals, so values may be written as {"$bytes": "<hex>"}
or {"$decimal": "12.34"}; they are converted before serializing.
"""

import decimal
import io
import json
import sys

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from record_sink import RecordSink


def convert(value):
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        if set(value) == {"$decimal"}:
            return decimal.Decimal(value["$decimal"])
        return {k: convert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert(v) for v in value]
    return value


def main():
    url, cases_path, out_path = sys.argv[1:4]
    bootstrap = sys.argv[4] if len(sys.argv) > 4 else None
    with open(cases_path) as f:
        cases = json.load(f)
    client = SchemaRegistryClient({"url": url})
    out = RecordSink(out_path, bootstrap)
    try:
        for case in cases:
            schema_text = case["schema"] if isinstance(case["schema"], str) else json.dumps(case["schema"])
            topic = case.get("topic", "t")
            records = [convert(r) for r in case["records"]]
            if case.get("raw"):
                parsed = fastavro.parse_schema(json.loads(schema_text))
                for r in records:
                    buf = io.BytesIO()
                    fastavro.schemaless_writer(buf, parsed, r)
                    out.write(topic, buf.getvalue())
                continue
            refs = [SchemaReference(r["name"], r["subject"], r["version"]) for r in case.get("references", [])]
            serializer = AvroSerializer(client, Schema(schema_text, "AVRO", refs),
                                        conf={"auto.register.schemas": True})
            field = MessageField.KEY if case.get("key") else MessageField.VALUE
            ctx = SerializationContext(topic, field)
            for r in records:
                data = serializer(r, ctx)
                out.write(topic, data)
    finally:
        out.close()


if __name__ == "__main__":
    main()
