"""Print one service of a Compose file as JSON (for the deployment test).

Usage: compose_service.py COMPOSE_FILE SERVICE
Prints {"command": [...], "environment": {...}, "build": ..., "depends_on": ...,
"services": [all service names]}.
"""
import json
import sys

import yaml


def main() -> None:
    path, name = sys.argv[1], sys.argv[2]
    with open(path) as f:
        doc = yaml.safe_load(f)
    services = doc["services"]
    service = services[name]
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    print(
        json.dumps(
            {
                "command": service.get("command"),
                "environment": environment,
                "build": service.get("build"),
                "depends_on": service.get("depends_on"),
                "services": sorted(services),
            }
        )
    )


if __name__ == "__main__":
    main()
