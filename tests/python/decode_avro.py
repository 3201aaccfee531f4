"""Deserializes Confluent-framed Avro with confluent-kafka's AvroDeserializer.

Usage: python decode_avro.py REGISTRY_URL IN_JSONL OUT_JSONL

Each line of IN_JSONL is {"topic": ..., "hex": <the framed bytes>, "key": false}.
The deserializer reads the writer schema by the id in the header from the
registry at REGISTRY_URL, exactly as a consumer would. Each record becomes
one line of OUT_JSONL: the value as JSON, with the types JSON lacks written
as {"$bytes": "<hex>"}, {"$decimal": "12.34"}, and ISO 8601 strings for
dates, times and timestamps (UUIDs as their text).
"""

import datetime
import decimal
import json
import sys
import uuid

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def to_json(value):
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def main():
    url, in_path, out_path = sys.argv[1:4]
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": url}))
    with open(in_path) as f, open(out_path, "w") as out:
        for line in f:
            message = json.loads(line)
            field = MessageField.KEY if message.get("key") else MessageField.VALUE
            ctx = SerializationContext(message.get("topic", "t"), field)
            value = deserializer(bytes.fromhex(message["hex"]), ctx)
            out.write(json.dumps(to_json(value), sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
