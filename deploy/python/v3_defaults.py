"""Write an Iceberg format-version 3 table whose column was added with an
initial default, and read it back through PyIceberg.

Used by deploy/interop's TestFormatV3Readers, which then reads the same
table through Trino: the evidence for which Iceberg format Floe writes.
Usage:

    FLOE_PY_CATALOG='{"type": "sql", ...}' python v3_defaults.py NAMESPACE.TABLE

It creates the table (id long), appends ids 1 and 2, adds column tier
(int) with initial default 3, appends id 3 with tier 7, and prints JSON
{"format_version": N, "rows": {"1": tier, ...}} as PyIceberg reads it
(tier null where PyIceberg does not apply the default), or
{"error": "..."} when PyIceberg refuses a step.
"""

import json
import os
import sys

import pyarrow as pa
from pyiceberg.catalog import load_catalog
from pyiceberg.schema import Schema
from pyiceberg.types import IntegerType, LongType, NestedField


def main() -> None:
    props = json.loads(os.environ["FLOE_PY_CATALOG"])
    catalog = load_catalog(os.environ.get("FLOE_PY_CATALOG_NAME", "floe"), **props)
    ident = sys.argv[1]
    namespace = ident.split(".")[0]
    try:
        catalog.create_namespace(namespace)
    except Exception:  # already there
        pass
    try:
        table = catalog.create_table(
            ident,
            schema=Schema(NestedField(1, "id", LongType(), required=False)),
            properties={"format-version": "3"},
        )
        table.append(pa.table({"id": pa.array([1, 2], pa.int64())}))
        with table.update_schema() as update:
            update.add_column("tier", IntegerType(), default_value=3)
        table = catalog.load_table(ident)
        table.append(pa.table({"id": pa.array([3], pa.int64()), "tier": pa.array([7], pa.int32())}))
        table = catalog.load_table(ident)
        read = table.scan().to_arrow()
    except Exception as e:  # the step PyIceberg refused, for the test to report
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    rows = {str(i): t for i, t in zip(read.column("id").to_pylist(), read.column("tier").to_pylist())}
    print(json.dumps({"format_version": table.metadata.format_version, "rows": rows}))


if __name__ == "__main__":
    main()
