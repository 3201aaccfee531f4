"""Read a topic with confluent-kafka and decode with its own deserializers.

Usage: consume.py BOOTSTRAP TOPIC COUNT [KEY_TYPE VALUE_TYPE [REGISTRY_URL]]
Types: string (StringDeserializer), double (DoubleDeserializer), int
(IntegerDeserializer), long (struct.unpack('>q')), json (json.loads), raw (hex,
the default), avro (AvroDeserializer, with the writer schema looked up in the
registry at REGISTRY_URL by the id in each record's header).
The environment variable CLIENT_CONFIG (JSON) adds consumer properties, e.g.
SASL settings.
Prints one JSON object per record: {"partition", "offset", "key", "value",
"headers": {name: text}}; a missing key or a tombstone value is null.
"""
import json
import os
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.serialization import (
    DoubleDeserializer,
    IntegerDeserializer,
    MessageField,
    SerializationContext,
    StringDeserializer,
)

DECODE = {
    "string": lambda b: StringDeserializer("utf_8")(b),
    "double": lambda b: DoubleDeserializer()(b),
    "int": lambda b: IntegerDeserializer()(b),
    "long": lambda b: struct.unpack(">q", b)[0],
    "json": lambda b: json.loads(b.decode("utf-8")),
    "raw": lambda b: b.hex(),
}


def avro_decoder(registry_url, topic, field):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from decode_avro import to_json

    deserializer = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    ctx = SerializationContext(topic, field)
    return lambda b: to_json(deserializer(b, ctx))


def main() -> None:
    bootstrap, topic, count = sys.argv[1:4]
    key_type, value_type = (sys.argv[4:6] + ["raw", "raw"])[:2] if len(sys.argv) > 4 else ("raw", "raw")
    registry_url = sys.argv[6] if len(sys.argv) > 6 else None
    decode_key = DECODE.get(key_type) or avro_decoder(registry_url, topic, MessageField.KEY)
    decode_value = DECODE.get(value_type) or avro_decoder(registry_url, topic, MessageField.VALUE)
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "check-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **json.loads(os.environ.get("CLIENT_CONFIG", "{}")),
    })
    consumer.subscribe([topic])
    seen = []
    deadline = time.time() + 60
    while len(seen) < int(count) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        key = decode_key(msg.key()) if msg.key() is not None else None
        value = decode_value(msg.value()) if msg.value() is not None else None
        headers = {k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in (msg.headers() or [])}
        seen.append({"partition": msg.partition(), "offset": msg.offset(), "key": key, "value": value, "headers": headers})
    consumer.close()
    for s in seen:
        print(json.dumps(s))


if __name__ == "__main__":
    main()
