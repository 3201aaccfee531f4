"""Reads a file sink's output directory with pyarrow, a reader we did not write.

Usage: read_files.py DIR FORMAT

Prints one JSON object: every final file (sorted by name) with its rows as
Python values, plus the names of every other entry in the directory. A final
file that pyarrow cannot open makes the script exit non-zero.
"""

import json
import os
import re
import sys

import pyarrow.csv
import pyarrow.json
import pyarrow.parquet


def read(path, fmt):
    info = {}
    if fmt == "parquet":
        meta = pyarrow.parquet.ParquetFile(path).metadata
        info["row_groups"] = meta.num_row_groups
        info["compression"] = sorted(
            {
                meta.row_group(g).column(c).compression
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            }
        )
        table = pyarrow.parquet.read_table(path)
    elif fmt == "csv":
        table = pyarrow.csv.read_csv(
            path, convert_options=pyarrow.csv.ConvertOptions(strings_can_be_null=True)
        )
    elif fmt == "jsonl":
        table = pyarrow.json.read_json(path)
    else:
        raise SystemExit(f"unknown format {fmt}")
    info["columns"] = table.column_names
    info["rows"] = table.to_pylist()
    return info


def main():
    directory, fmt = sys.argv[1], sys.argv[2]
    final = re.compile(r"^[^.].*-\d{6,}\." + re.escape(fmt) + r"$")
    files, others = [], []
    for name in sorted(os.listdir(directory)):
        if final.match(name):
            entry = read(os.path.join(directory, name), fmt)
            entry["name"] = name
            files.append(entry)
        else:
            others.append(name)
    json.dump({"files": files, "others": others}, sys.stdout)


if __name__ == "__main__":
    main()
