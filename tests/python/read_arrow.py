"""Read an Arrow IPC file (what `topictable run --snapshot T=x.arrow` writes)
with pyarrow, and print it as JSON.

Usage: read_arrow.py FILE
Prints {"columns": [{"name": ..., "type": ...}], "rows": [{...}, ...]}, where
"type" is pyarrow's name for the column type; timestamps are given as their
integer value in the column's unit and binary cells as lowercase hex.
"""
import json
import sys

import pyarrow as pa
import pyarrow.ipc


def plain(column: pa.ChunkedArray) -> list:
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.int64()).to_pylist()
    if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
        return [None if v is None else v.hex() for v in column.to_pylist()]
    return column.to_pylist()


def main() -> None:
    with pa.ipc.open_file(sys.argv[1]) as reader:
        table = reader.read_all()
    columns = {name: plain(table.column(name)) for name in table.column_names}
    rows = [
        {name: columns[name][i] for name in table.column_names}
        for i in range(table.num_rows)
    ]
    print(
        json.dumps(
            {
                "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
