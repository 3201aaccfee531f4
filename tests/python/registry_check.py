"""Checks that confluent-kafka's SchemaRegistryClient works unchanged against a registry.

Usage: python registry_check.py REGISTRY_URL

It registers schemas (one with a reference), looks them up by id, subject
version and schema, and lists subjects and versions. It prints one JSON object
with what it saw (the caller checks the ids and texts) and exits non-zero at
the first mismatch.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main():
    url = sys.argv[1]
    client = SchemaRegistryClient({"url": url})

    address = json.dumps({
        "type": "record", "name": "Address", "namespace": "com.acme",
        "fields": [{"name": "city", "type": "string"}],
    })
    order = json.dumps({
        "type": "record", "name": "Order", "namespace": "com.acme",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "ship_to", "type": "com.acme.Address"},
        ],
    })

    address_id = client.register_schema("address-value", Schema(address, "AVRO"))
    again = client.register_schema("address-value", Schema(address, "AVRO"))
    check(again == address_id, f"re-registering gives the same id ({again} vs {address_id})")

    ref = SchemaReference("com.acme.Address", "address-value", 1)
    order_id = client.register_schema("orders-value", Schema(order, "AVRO", [ref]))
    check(order_id != address_id, "a new schema gets a new id")

    # A fresh client, so nothing comes from its cache.
    fresh = SchemaRegistryClient({"url": url})
    by_id = fresh.get_schema(order_id)
    check(json.loads(by_id.schema_str) == json.loads(order), "get_schema returns the text")
    check(by_id.schema_type == "AVRO", f"schema type {by_id.schema_type}")
    check(len(by_id.references) == 1 and by_id.references[0].subject == "address-value",
          f"references {by_id.references}")

    subjects = fresh.get_subjects()
    check(sorted(subjects) == ["address-value", "orders-value"], f"subjects {subjects}")

    latest = fresh.get_latest_version("orders-value")
    check(latest.schema_id == order_id and latest.version == 1, f"latest {latest}")
    v1 = fresh.get_version("address-value", 1)
    check(v1.schema_id == address_id and v1.subject == "address-value", f"version 1 {v1}")
    check(fresh.get_versions("orders-value") == [1], "versions")

    found = fresh.lookup_schema("address-value", Schema(address, "AVRO"))
    check(found.schema_id == address_id and found.version == 1, f"lookup {found}")

    # A second version of a subject.
    order_v2 = json.loads(order)
    order_v2["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    v2_id = fresh.register_schema("orders-value", Schema(json.dumps(order_v2), "AVRO", [ref]))
    check(fresh.get_versions("orders-value") == [1, 2], "two versions")
    # get_latest_version is cached per client; ask a new one.
    newest = SchemaRegistryClient({"url": url}).get_latest_version("orders-value")
    check(newest.schema_id == v2_id and newest.version == 2, f"latest is v2: {newest}")
    versions = fresh.get_schema_versions(v2_id)
    check([(v.subject, v.version) for v in versions] == [("orders-value", 2)],
          f"id versions {versions}")

    # Errors come back as Confluent's error codes.
    try:
        fresh.get_schema(9999)
        check(False, "unknown id must fail")
    except Exception as e:  # SchemaRegistryError
        check(getattr(e, "error_code", None) == 40403, f"unknown id error code: {e!r}")
    try:
        fresh.get_latest_version("nope-value")
        check(False, "unknown subject must fail")
    except Exception as e:
        check(getattr(e, "error_code", None) == 40401, f"unknown subject error code: {e!r}")

    print(json.dumps({
        "address_id": address_id,
        "order_id": order_id,
        "order_v2_id": v2_id,
        "subjects": sorted(subjects),
    }))


if __name__ == "__main__":
    main()
