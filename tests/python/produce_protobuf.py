"""Serializes records with confluent-kafka's ProtobufSerializer and writes the bytes.

Usage: python produce_protobuf.py REGISTRY_URL CASES_JSON OUT_JSONL [BOOTSTRAP]

With BOOTSTRAP, every record is also produced to its topic on that Kafka
broker (confluent-kafka's Producer, value only), as a real producer would.

CASES_JSON is {"files": [<base64 FileDescriptorProto>, ...], "cases": [...]}.
"files" are the user's .proto files, compiled by the caller, dependencies
first; google/protobuf/*.proto come from the protobuf package itself. No
protoc (grpcio-tools) is needed: the message classes are built at run time
from those descriptors (descriptor_pool + message_factory), which is what
generated _pb2 modules do too.

Each case is {"topic": ..., "message": <full name>, "key": false,
"raw": false, "records": [<JSON objects, protobuf JSON mapping>]}, and each
record becomes one line of OUT_JSONL: {"topic": ..., "hex": <bytes>}.

- Confluent cases go through ProtobufSerializer with auto-registration
  against the registry at REGISTRY_URL (TopicNameStrategy; imports are
  registered as references under their file names, exactly as a producer
  would), so the bytes carry the schema id and the message indexes.
- "raw" cases are the bare message (SerializeToString), with no header.
- "deserialize" cases go the other way, to check bytes written by our
  encoder: {"topic", "message", "deserialize": [<hex>, ...]} reads each with
  ProtobufDeserializer (which looks the schema id up in the registry and
  follows the message indexes) and writes {"topic": ..., "json": <the
  message as protobuf JSON, field names as in the .proto>}.
"""

import base64
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf import any_pb2, duration_pb2, empty_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from record_sink import RecordSink


def build_pool(files):
    pool = descriptor_pool.DescriptorPool()
    for wkt in (any_pb2, duration_pb2, empty_pb2, struct_pb2, timestamp_pb2, wrappers_pb2):
        pool.AddSerializedFile(wkt.DESCRIPTOR.serialized_pb)
    for encoded in files:
        fdp = descriptor_pb2.FileDescriptorProto()
        fdp.ParseFromString(base64.b64decode(encoded))
        pool.Add(fdp)
    return pool


def main():
    url, cases_path, out_path = sys.argv[1:4]
    bootstrap = sys.argv[4] if len(sys.argv) > 4 else None
    with open(cases_path) as f:
        spec = json.load(f)
    pool = build_pool(spec["files"])
    client = SchemaRegistryClient({"url": url})
    out = RecordSink(out_path, bootstrap)
    try:
        for case in spec["cases"]:
            topic = case.get("topic", "t")
            cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(case["message"]))
            if "deserialize" in case:
                deserializer = ProtobufDeserializer(cls, {}, client)
                ctx = SerializationContext(topic, MessageField.VALUE)
                for hexed in case["deserialize"]:
                    msg = deserializer(bytes.fromhex(hexed), ctx)
                    as_json = json_format.MessageToDict(msg, preserving_proto_field_name=True)
                    out.write_json(topic, as_json)
                continue
            records = [json_format.ParseDict(r, cls()) for r in case["records"]]
            if case.get("raw"):
                for r in records:
                    out.write(topic, r.SerializeToString())
                continue
            serializer = ProtobufSerializer(cls, client, {"auto.register.schemas": True})
            field = MessageField.KEY if case.get("key") else MessageField.VALUE
            ctx = SerializationContext(topic, field)
            for r in records:
                out.write(topic, serializer(r, ctx))
    finally:
        out.close()


if __name__ == "__main__":
    main()
