"""Parse Prometheus metrics text (stdin) with prometheus_client's own parser,
and print every sample as JSON: [{"name": ..., "labels": {...}, "value": ...}].

Usage: parse_metrics.py < metrics.txt
Fails if the exposition does not parse.
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> None:
    samples = []
    for family in text_string_to_metric_families(sys.stdin.read()):
        for s in family.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value})
    json.dump(samples, sys.stdout)


if __name__ == "__main__":
    main()
