"""Read a whole topic with confluent-kafka and print one JSON object per record.

Usage: consume.py BOOTSTRAP TOPIC EXPECTED_COUNT
Each line: {"partition", "offset", "key_hex", "value_hex", "headers": {name: text}}
(key_hex/value_hex are null for a missing key or a tombstone).
"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer


def main() -> None:
    bootstrap, topic, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "check-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen = []
    deadline = time.time() + 60
    while len(seen) < expected and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            continue
        headers = {k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in (msg.headers() or [])}
        seen.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key_hex": msg.key().hex() if msg.key() is not None else None,
            "value_hex": msg.value().hex() if msg.value() is not None else None,
            "headers": headers,
        })
    consumer.close()
    for s in seen:
        print(json.dumps(s))


if __name__ == "__main__":
    main()
