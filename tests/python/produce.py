"""Produce records with confluent-kafka (librdkafka 2.16) and its serializers.

Usage: produce.py BOOTSTRAP TOPIC [PRODUCER_CONFIG_JSON] < records.json
PRODUCER_CONFIG_JSON adds librdkafka properties, e.g. '{"partitioner": "murmur2_random"}'.
records.json is a JSON list of objects:
  {"key": ..., "value": ..., "key_type": "string", "value_type": "double",
   "partition": 0, "timestamp": <epoch ms>, "headers": {"name": "text"}}
Types: string (StringSerializer), double (DoubleSerializer), long (8 bytes
big-endian, Java's LongSerializer), int (IntegerSerializer), raw_hex (bytes
given as hex), json (json.dumps of the value), null (no bytes: a tombstone).
"""
import json
import struct
import sys

from confluent_kafka import Producer
from confluent_kafka.serialization import DoubleSerializer, IntegerSerializer, StringSerializer

SERIALIZE = {
    "string": lambda v: StringSerializer("utf_8")(v),
    "double": lambda v: DoubleSerializer()(float(v)),
    "int": lambda v: IntegerSerializer()(int(v)),
    "long": lambda v: struct.pack(">q", int(v)),
    "raw_hex": lambda v: bytes.fromhex(v),
    "json": lambda v: json.dumps(v).encode("utf-8"),
    "null": lambda v: None,
}


def main() -> None:
    bootstrap, topic = sys.argv[1], sys.argv[2]
    records = json.load(sys.stdin)
    config = {"bootstrap.servers": bootstrap, "linger.ms": 0}
    if len(sys.argv) > 3:
        config.update(json.loads(sys.argv[3]))
    producer = Producer(config)
    failures = []

    def report(err, msg):
        if err is not None:
            failures.append(str(err))

    for r in records:
        key = SERIALIZE[r.get("key_type", "null")](r.get("key"))
        value = SERIALIZE[r.get("value_type", "string")](r.get("value"))
        kwargs = {"key": key, "value": value, "on_delivery": report}
        if "partition" in r:
            kwargs["partition"] = r["partition"]
        if "timestamp" in r:
            kwargs["timestamp"] = r["timestamp"]
        if r.get("headers"):
            kwargs["headers"] = [(k, v.encode("utf-8")) for k, v in r["headers"].items()]
        producer.produce(topic, **kwargs)
        producer.flush(30)
    if failures:
        sys.exit("delivery failed: " + "; ".join(failures))
    print(len(records))


if __name__ == "__main__":
    main()
