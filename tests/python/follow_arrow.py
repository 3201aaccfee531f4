"""Follow a table's updates as an Arrow IPC stream, the way a pyarrow user
would, and print what was read as JSON.

Usage: follow_arrow.py URL [TOKEN]
Reads batches until it has seen a snapshot and then rows added by a later
cycle; prints {"columns": [...], "ops": [[cycle, op, rows], ...]}.
"""
import json
import sys
import urllib.request

import pyarrow.ipc as ipc


def main() -> None:
    request = urllib.request.Request(sys.argv[1])
    if len(sys.argv) > 2:
        request.add_header("Authorization", "Bearer " + sys.argv[2])
    with urllib.request.urlopen(request, timeout=60) as response:
        reader = ipc.open_stream(response)
        ops = []
        for batch in reader:
            if batch.num_rows == 0:
                # The one batch ever sent empty: a snapshot of an empty table.
                ops.append([None, "snapshot", 0])
                continue
            cycle = batch.column("__cycle")[0].as_py()
            op = batch.column("__op")[0].as_py()
            ops.append([cycle, op, batch.num_rows])
            if op == "added" and any(o[1] == "snapshot" for o in ops):
                break
        print(json.dumps({"columns": reader.schema.names, "ops": ops}))


if __name__ == "__main__":
    main()
