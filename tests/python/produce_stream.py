"""Produce COUNT records as fast as librdkafka batches them, surviving a
broker restart: the value of record i is the text of i, sent to partition
i % PARTITIONS. Deliveries are retried for up to two minutes.

Usage: produce_stream.py BOOTSTRAP TOPIC COUNT PARTITIONS [RATE]
RATE (records per second) paces the records; by default they go at once.
Prints how many were delivered; exits non-zero if any delivery failed.
"""
import sys
import time

from confluent_kafka import Producer


def main() -> None:
    bootstrap, topic, count, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rate = float(sys.argv[5]) if len(sys.argv) > 5 else None
    start = time.time()
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "linger.ms": 20,
        "message.timeout.ms": 120000,
        "retry.backoff.ms": 200,
        "reconnect.backoff.max.ms": 1000,
    })
    delivered, failures = [0], []

    def report(err, _msg):
        if err is None:
            delivered[0] += 1
        else:
            failures.append(str(err))

    for i in range(count):
        while True:
            try:
                producer.produce(topic, value=str(i).encode(), partition=i % partitions, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if rate is not None:
            ahead = start + (i + 1) / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
    producer.flush(180)
    if failures or delivered[0] != count:
        sys.exit(f"delivered {delivered[0]} of {count}; failures: {failures[:3]}")
    print(delivered[0])


if __name__ == "__main__":
    main()
