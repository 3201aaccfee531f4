"""Writes a quotes/orders stream with Avro values, as in Deephaven's Kafka guide.

quotes: key = the symbol (StringSerializer), value = Avro {Price: double}
orders: no key, value = Avro {Symbol: string, Id: string, LimitPrice: double, Qty: int}

Values go through confluent-kafka's AvroSerializer, which registers the two
schemas in the schema registry (subjects quotes-value and orders-value), so
any Confluent-compatible reader (topictable, Kafka Connect, Deephaven)
decodes them. examples/quotes_orders_avro.toml reads them.

Usage:
  python produce_quotes_orders.py --bootstrap redpanda:29092 --registry http://redpanda:8081
      [--rate 2]          quotes and orders per second (each)
      [--count N]         stop after N of each (default: run until stopped)
      [--guide]           write only the guide's four quotes and four orders, then stop
      [--ready-file PATH] touch PATH once both schemas are registered (a
                          container health check: readers can start now)

The topics are created (1 partition) when they do not exist yet.
"""

import argparse
import random
import sys
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

QUOTE_SCHEMA = """{"type": "record", "name": "Quote", "namespace": "topictable.demo",
  "fields": [{"name": "Price", "type": "double"}]}"""
ORDER_SCHEMA = """{"type": "record", "name": "Order", "namespace": "topictable.demo",
  "fields": [{"name": "Symbol", "type": "string"}, {"name": "Id", "type": "string"},
             {"name": "LimitPrice", "type": "double"}, {"name": "Qty", "type": "int"}]}"""

# The records the guide types into `rpk topic produce`.
GUIDE_QUOTES = [("AAPL", 135.0), ("AAPL", 133.0), ("TSLA", 730.0), ("TSLA", 735.0)]
GUIDE_ORDERS = [
    {"Symbol": "AAPL", "Id": "o1", "LimitPrice": 136.0, "Qty": 7},
    {"Symbol": "AAPL", "Id": "o2", "LimitPrice": 132.0, "Qty": 2},
    {"Symbol": "TSLA", "Id": "o3", "LimitPrice": 725.0, "Qty": 1},
    {"Symbol": "TSLA", "Id": "o4", "LimitPrice": 730.0, "Qty": 9},
]
SYMBOLS = {"AAPL": 135.0, "TSLA": 730.0, "MSFT": 410.0, "NVDA": 140.0}


def create_topics(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, num_partitions=1) for t in ("quotes", "orders")])
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as e:  # already there is fine; anything else is reported
            if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                print(f"warning: creating topic {topic}: {e}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--guide", action="store_true")
    parser.add_argument("--ready-file")
    args = parser.parse_args()

    create_topics(args.bootstrap)
    registry = SchemaRegistryClient({"url": args.registry})
    quote_value = AvroSerializer(registry, QUOTE_SCHEMA)
    order_value = AvroSerializer(registry, ORDER_SCHEMA)
    key = StringSerializer()
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5})
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)

    def send_quote(symbol, price):
        ctx = SerializationContext("quotes", MessageField.VALUE)
        producer.produce("quotes", key=key(symbol), value=quote_value({"Price": price}, ctx), on_delivery=delivered)

    def send_order(order):
        ctx = SerializationContext("orders", MessageField.VALUE)
        producer.produce("orders", value=order_value(order, ctx), on_delivery=delivered)

    # Registering before the first record lets readers that look up the
    # subjects' latest schema at start (topictable does) start now.
    registry.register_schema("quotes-value", Schema(QUOTE_SCHEMA, "AVRO"))
    registry.register_schema("orders-value", Schema(ORDER_SCHEMA, "AVRO"))
    if args.ready_file:
        open(args.ready_file, "w").close()

    if args.guide:
        for symbol, price in GUIDE_QUOTES:
            send_quote(symbol, price)
        for order in GUIDE_ORDERS:
            send_order(order)
    else:
        rng = random.Random(7)
        for symbol, price in SYMBOLS.items():  # every symbol has a price before its first order
            send_quote(symbol, price)
        sent = 0
        while args.count == 0 or sent < args.count:
            symbol, base = rng.choice(list(SYMBOLS.items()))
            price = round(base + rng.uniform(-2, 2), 2)
            send_quote(symbol, price)
            send_order({
                "Symbol": symbol,
                "Id": f"o{rng.randrange(40)}",
                "LimitPrice": round(price + rng.uniform(-1, 1), 2),
                "Qty": rng.randint(1, 10),
            })
            sent += 1
            producer.poll(0)
            time.sleep(1.0 / args.rate)
    producer.flush(30)
    if failures:
        sys.exit(f"{len(failures)} records were not delivered: {failures[0]}")


if __name__ == "__main__":
    main()
