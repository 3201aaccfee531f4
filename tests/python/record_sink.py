"""Where the produce_* helpers put the bytes they serialized.

Every record becomes a line {"topic": ..., "hex": ...} of the output file
(so a test can check the exact bytes), and, when a broker is given, is also
produced to its topic with confluent-kafka's Producer, as a real producer
would.
"""

import json

from confluent_kafka import Producer


class RecordSink:
    def __init__(self, out_path, bootstrap=None):
        self.out = open(out_path, "w")
        self.failures = []
        self.producer = None
        if bootstrap:
            self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})

    def _report(self, err, msg):
        if err is not None:
            self.failures.append(str(err))

    def write(self, topic, data):
        self.out.write(json.dumps({"topic": topic, "hex": data.hex()}) + "\n")
        if self.producer is not None:
            # One partition, in order: the tests compare rows in produce order.
            self.producer.produce(topic, value=data, partition=0, on_delivery=self._report)
            self.producer.poll(0)

    def write_json(self, topic, value):
        self.out.write(json.dumps({"topic": topic, "json": value}) + "\n")

    def close(self):
        self.out.close()
        if self.producer is not None:
            left = self.producer.flush(30)
            if left:
                self.failures.append(f"{left} records not delivered within 30 s")
        if self.failures:
            raise SystemExit("delivery failed: " + "; ".join(self.failures))
