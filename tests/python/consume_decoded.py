"""Read a topic with confluent-kafka and decode with its own deserializers.

Usage: consume_decoded.py BOOTSTRAP TOPIC COUNT KEY_TYPE VALUE_TYPE
Types: string (StringDeserializer), double (DoubleDeserializer), int
(IntegerDeserializer), long (struct.unpack('>q')), json (json.loads), raw (hex).
Prints one JSON object per record: {"partition", "offset", "key", "value"};
a missing key or a tombstone value is null.
"""
import json
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.serialization import DoubleDeserializer, IntegerDeserializer, StringDeserializer

DECODE = {
    "string": lambda b: StringDeserializer("utf_8")(b),
    "double": lambda b: DoubleDeserializer()(b),
    "int": lambda b: IntegerDeserializer()(b),
    "long": lambda b: struct.unpack(">q", b)[0],
    "json": lambda b: json.loads(b.decode("utf-8")),
    "raw": lambda b: b.hex(),
}


def main() -> None:
    bootstrap, topic, count, key_type, value_type = sys.argv[1:6]
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "check-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen = []
    deadline = time.time() + 60
    while len(seen) < int(count) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        key = DECODE[key_type](msg.key()) if msg.key() is not None else None
        value = DECODE[value_type](msg.value()) if msg.value() is not None else None
        seen.append({"partition": msg.partition(), "offset": msg.offset(), "key": key, "value": value})
    consumer.close()
    for s in seen:
        print(json.dumps(s))


if __name__ == "__main__":
    main()
