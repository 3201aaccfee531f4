#!/usr/bin/env python3
"""Writes the seed corpus of the decoder fuzz targets (fuzz/seeds/TARGET/).

The seeds are the codecs' own test inputs: the Avro test records (written
with fastavro, as Confluent's serializer writes them), two acme.Order
Protobuf messages like tests/protos/orders.json, Kafka serializer bytes and
text for the simple codec, and JSON documents of the json codec's tests.
Each seed is the target's input layout: one byte that picks the decoder,
then messages joined by `|#|` (fuzz/src/lib.rs).

Run with the test venv's Python (it has fastavro):
    .cache/venv/bin/python fuzz/seeds.py
"""

import io
import json
import os
import struct
import sys

import fastavro

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"|#|"


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def seed(pick, messages):
    return bytes([pick]) + SEP.join(messages)


# ---------------------------------------------------------------- simple
SIMPLE_TYPES = ["string", "bool", "int8", "int16", "int32", "int64", "float32",
                "float64", "bytes", "uuid", "timestamp"]
BINARY = {
    "string": [b"AAPL", "héllo".encode(), b""],
    "bool": [b"\x01", b"\x00"],
    "int8": [b"\x7f", b"\x80"],
    "int16": [struct.pack(">h", -2)],
    "int32": [struct.pack(">i", 135), struct.pack(">i", -1)],
    "int64": [struct.pack(">q", 9007199254740993), struct.pack(">q", -7)],
    "float32": [struct.pack(">f", 1.5)],
    "float64": [struct.pack(">d", 135.6), struct.pack(">d", float("nan"))],
    "bytes": [b"\x00\xff\x10", b""],
    "uuid": [bytes(range(16))],
    "timestamp": [struct.pack(">q", 1700000000123)],
}
TEXT = {
    "string": [b"AAPL"], "bool": [b"true", b"false"], "int8": [b"-128"],
    "int16": [b"32767"], "int32": [b"135", b" 7 "], "int64": [b"-9007199254740993"],
    "float32": [b"1.5e3"], "float64": [b"135.60", b"-inf"], "bytes": [b"abc"],
    "uuid": [b"123e4567-e89b-12d3-a456-426614174000"],
    "timestamp": [b"2026-11-23T10:00:00Z", b"1700000000123"],
}
for i, t in enumerate(SIMPLE_TYPES):
    write("simple", f"binary-{t}", seed(i, BINARY[t]))
    # Bit 7 picks the text encoding; the byte modulo 11 picks the type.
    text_pick = 0x80 + (i - 0x80 % 11) % 11
    assert text_pick % 11 == i
    write("simple", f"text-{t}", seed(text_pick, TEXT[t]))

# ---------------------------------------------------------------- json
FLAT = [
    {"s": "AAPL", "b": True, "i": 5, "l": 9007199254740993, "f": 1.5, "d": 135.6,
     "t": "2026-11-23T10:00:00Z", "j": {"x": [1, 2]}},
    {"s": None, "b": False, "i": -1, "l": 0, "f": 0, "d": 1e300, "t": 1700000000123, "j": None},
    {"s": "héllo \u00e9\\n", "extra": [1, {"y": 2}]},
]
NESTED = [
    {"order": {"s": "MSFT", "lines": [{"b": "true"}], "f": "2.5"}, "a/b": "12", "x": {"~y": 3},
     "d": 301.25, "t": [["2026-01-01T00:00:00.5+01:00"]]},
]
write("json", "flat", seed(0, [json.dumps(r).encode() for r in FLAT]))
write("json", "flat-broken", seed(0, [b'{"s": "a", "i": 1e40}', b'{"i": "12"', b"[]", b"null"]))
write("json", "pointers", seed(1, [json.dumps(r).encode() for r in NESTED]))

# ---------------------------------------------------------------- avro
ALL_TYPES = json.load(open(os.path.join(HERE, "..", "codecs", "avro", "tests", "fixtures", "all_types.avsc")))
import datetime
import decimal
import uuid

ALL_RECORDS = [
    {"b": True, "i": -7, "l": 9007199254740993, "f": 1.5, "d": -2.25, "s": "héllo",
     "by": b"\x00\xff\x10", "fx": b"\xde\xad\xbe\xef", "e": "GREEN",
     "ts_ms": datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=datetime.timezone.utc),
     "ts_us": datetime.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=datetime.timezone.utc),
     "day": datetime.date(2022, 1, 8), "t_ms": datetime.time(1, 2, 3, 4000),
     "t_us": datetime.time(1, 2, 3, 4005), "dec": decimal.Decimal("-1234.56"),
     "decf": decimal.Decimal("123456789.012"),
     "id": uuid.UUID("123e4567-e89b-12d3-a456-426614174000"), "opt": 42,
     "addr": {"city": "Oslo", "geo": {"lat": 59.9}},
     "maybe_addr": {"city": "Bergen", "geo": {"lat": 60.4}},
     "tags": ["a", "b"], "scores": {"x": 1}, "grid": [[1, None], [], [3]],
     "people": [{"n": "ann", "c": "BLUE"}, {"n": "bob", "c": None}]},
    {"b": False, "i": 2147483647, "l": -1, "f": 0.0, "d": 1e300, "s": "", "by": b"",
     "fx": b"\x00\x00\x00\x00", "e": "RED",
     "ts_ms": datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
     "ts_us": datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc),
     "day": datetime.date(1970, 1, 1), "t_ms": datetime.time(0), "t_us": datetime.time(0),
     "dec": decimal.Decimal("0.01"), "decf": decimal.Decimal("-0.001"),
     "id": uuid.UUID("00000000-0000-0000-0000-000000000001"), "opt": None,
     "addr": {"city": "", "geo": {"lat": -0.5}}, "maybe_addr": None,
     "tags": [], "scores": {}, "grid": [], "people": []},
]
UNION = {"type": "record", "name": "U", "fields": [
    {"name": "u", "type": ["null", "int", "string",
                           {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}]},
                           {"type": "array", "items": "double"}]},
    {"name": "e", "type": {"type": "record", "name": "Empty", "fields": []}},
    {"name": "m", "type": {"type": "map", "values": ["null", "boolean", "bytes"]}},
]}
UNION_RECORDS = [
    {"u": None, "e": {}, "m": {}},
    {"u": 7, "e": {}, "m": {"a": True, "b": None}},
    {"u": "s", "e": {}, "m": {"c": b"\x01"}},
    {"u": {"x": -5}, "e": {}, "m": {}},
    {"u": [1.5, 2.5], "e": {}, "m": {}},
]
RECURSIVE = {"type": "record", "name": "Node", "fields": [
    {"name": "v", "type": "long"}, {"name": "next", "type": ["null", "Node"], "default": None}]}


def avro(schema, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


all_types = [avro(ALL_TYPES, r) for r in ALL_RECORDS]
write("avro_raw", "all-types", seed(0, all_types))
write("avro_raw", "all-types-struct", seed(1, all_types))
write("avro_raw", "unions", seed(2, [avro(UNION, r) for r in UNION_RECORDS]))
write("avro_raw", "array", seed(3, [avro({"type": "array", "items": "long"}, [1, -2, 3]),
                                    avro({"type": "array", "items": "long"}, [])]))
write("avro_raw", "recursive", seed(4, [avro(RECURSIVE, {"v": 1, "next": {"v": 2, "next": None}})]))
# Confluent framing: magic 0, then the id, whose last byte picks a
# registered schema (fuzz/src/lib.rs: pick_schema_id): 1 = the reader itself.
framed = [b"\x00\x00\x00\x00\x01" + m for m in all_types]
write("avro_confluent", "all-types", seed(0, framed))
write("avro_confluent", "all-types-struct", seed(1, framed))
write("avro_confluent", "unknown-id", seed(0, [b"\x00\x00\x00\x07\xff" + all_types[0], b"\x01"]))

# ---------------------------------------------------------------- protobuf


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, data):
    return key(field, 2) + varint(len(data)) + data


def vi(field, n):
    return key(field, 0) + varint(n)


line = ld(1, b"sku-1") + vi(2, 3) + key(3, 1) + struct.pack("<d", 9.5)
order1 = (vi(1, 42) + ld(2, b"ann") + ld(3, ld(1, b"Oslo") + ld(2, b"NO"))
          + ld(4, vi(1, 1700000000) + vi(2, 123000000)) + ld(5, vi(1, 60))
          + ld(6, vi(1, 5)) + ld(7, ld(1, b"fragile")) + ld(8, line) + ld(8, line)
          + ld(9, b"a") + ld(9, b"b") + ld(10, ld(1, b"k") + vi(2, 1)) + vi(11, 1)
          + ld(12, b"4111") + ld(14, b"\x00\x01") + vi(15, 2) + ld(16, varint(3) + varint(5))
          + ld(17, ld(1, b"sku-1") + ld(2, line)) + vi(18, 7) + key(19, 5) + struct.pack("<f", 0.5)
          + vi(20, 1))
order2 = vi(1, 43) + vi(13, 99)
# Confluent framing with message indexes: [1] is Order (the second message).
framed = [b"\x00\x00\x00\x00\x01" + bytes([2, 2]) + m for m in (order1, order2)]
write("protobuf", "orders-framed", seed(0, framed))
write("protobuf", "orders-raw", seed(1, [order1, order2]))

print("seeds written under", os.path.join(HERE, "seeds"), file=sys.stderr)
