"""Read Iceberg tables through PyIceberg and print their live rows as JSON.

Used by the interop tests (deploy/interop) to check what Floe writes with an
independent reader. Usage:

    FLOE_PY_CATALOG='{"type": "sql", "uri": "postgresql+psycopg2://...", ...}' \
        python read_tables.py NAMESPACE.TABLE [...]

FLOE_PY_CATALOG holds PyIceberg catalog properties (type sql or rest, uri,
warehouse, s3.endpoint, s3.access-key-id, ...); FLOE_PY_CATALOG_NAME the
catalog name (default "floe"). Output: one JSON object mapping each table to
{"columns": [...], "types": [...], "reader": ..., "rows": [[...], ...]},
every value in the canonical text form the Go test compares (null for NULL):
integers in decimal, floats as repr (NaN, inf, -inf), decimals as plain
digits, binary as lowercase hex, uuid as text, dates as days and times and
timestamps as microseconds since the epoch/midnight, lists as JSON arrays of
canonical element strings.

PyIceberg 0.12 refuses to scan tables with equality-delete files, which Floe
writes for updates and deletes. For those tables the script still lets
PyIceberg load the table and read its manifests, then reads the Parquet files
with PyArrow and applies the equality deletes itself as the Iceberg spec says
(a delete removes rows with equal key values from data files of a lower data
sequence number), and the position deletes Floe writes beside them (a row
position of a data file whose sequence number is not above the delete's);
"reader" says which path was taken. A table with position deletes only is
scanned by PyIceberg itself.
"""

import json
import math
import os
import sys
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.catalog import load_catalog
from pyiceberg.manifest import DataFileContent


def canonical_array(arr: pa.Array) -> list:
    """Canonical text of every value of arr (None for NULL)."""
    t = arr.type
    if pa.types.is_date32(t):
        ints = pc.cast(arr, pa.int32())
        return [None if v is None else str(v) for v in ints.to_pylist()]
    if pa.types.is_time64(t) or pa.types.is_timestamp(t):
        if t.unit != "us":
            raise ValueError(f"unexpected unit {t.unit} in {t}")
        ints = pc.cast(arr, pa.int64())
        return [None if v is None else str(v) for v in ints.to_pylist()]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        out = []
        for i in range(len(arr)):
            if not arr[i].is_valid:
                out.append(None)
                continue
            elems = canonical_array(arr[i].values)
            out.append(json.dumps(elems, ensure_ascii=False, separators=(",", ":")))
        return out
    if isinstance(t, pa.ExtensionType):
        return canonical_array(arr.storage)
    vals = arr.to_pylist()
    return [None if v is None else canonical_value(v, t) for v in vals]


def canonical_value(v, t):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        if pa.types.is_fixed_size_binary(t) and t.byte_width == 16:
            return str(uuid.UUID(bytes=bytes(v)))
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    if hasattr(v, "as_tuple"):  # decimal.Decimal
        return format(v, "f")
    return str(v)


def conform(t: pa.Table, tbl_schema) -> pa.Table:
    """Read a data file's columns in the table's current schema, matching
    them by Iceberg field id: a column added after the file was written is
    all NULL, a column of a narrower type (int, float, decimal precision)
    is widened, a column dropped since is left out."""
    target = tbl_schema.as_arrow()
    by_id = {}
    for i, f in enumerate(t.schema):
        fid = (f.metadata or {}).get(b"PARQUET:field_id")
        if fid is not None:
            by_id[int(fid)] = i
    cols = []
    for f, af in zip(tbl_schema.fields, target):
        i = by_id.get(f.field_id)
        if i is None:
            cols.append(pa.nulls(t.num_rows, type=af.type))
        else:
            cols.append(t.column(i).cast(af.type))
    return pa.Table.from_arrays(cols, schema=target)


def live_rows_with_deletes(tbl) -> pa.Table:
    """Scan tbl's current snapshot applying equality and position deletes by hand."""
    snap = tbl.current_snapshot()
    schema = tbl.schema().as_arrow()
    if snap is None:
        return schema.empty_table()
    io = tbl.io
    data, deletes, pos_deletes = [], [], []
    for manifest in snap.manifests(io):
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
            df = entry.data_file
            seq = entry.sequence_number
            if df.content == DataFileContent.DATA:
                data.append((seq, df.file_path))
            elif df.content == DataFileContent.EQUALITY_DELETES:
                deletes.append((seq, df.file_path, list(df.equality_ids)))
            else:
                pos_deletes.append((seq, df.file_path))

    def read(path, columns=None):
        scheme, netloc, p = io.parse_location(path)
        return pq.read_table(p, filesystem=io.fs_by_scheme(scheme, netloc), columns=columns)

    by_field = {f.field_id: f.name for f in tbl.schema().fields}
    delete_sets = []
    for seq, path, ids in deletes:
        names = [by_field[i] for i in ids]
        t = read(path, names)
        keys = set(zip(*[canonical_array(t.column(n).combine_chunks()) for n in names]))
        delete_sets.append((seq, names, keys))
    # A position delete removes row pos of data file file_path when the
    # data file's sequence number is not above the delete's.
    dead_positions = {}
    for dseq, path in pos_deletes:
        t = read(path, ["file_path", "pos"])
        for fp, pos in zip(t.column("file_path").to_pylist(), t.column("pos").to_pylist()):
            dead_positions.setdefault(fp, []).append((dseq, pos))
    pieces = []
    for seq, path in data:
        t = conform(read(path), tbl.schema())
        keep = [True] * t.num_rows
        for dseq, pos in dead_positions.get(path, []):
            if dseq >= seq:
                keep[pos] = False
        for dseq, names, keys in delete_sets:
            if dseq <= seq:
                continue
            cols = [canonical_array(t.column(n).combine_chunks()) for n in names]
            for i, k in enumerate(zip(*cols)):
                if k in keys:
                    keep[i] = False
        pieces.append(t.filter(pa.array(keep, type=pa.bool_())))
    if not pieces:
        return schema.empty_table()
    return pa.concat_tables(pieces, promote_options="permissive")


def main() -> None:
    props = json.loads(os.environ["FLOE_PY_CATALOG"])
    cat = load_catalog(os.environ.get("FLOE_PY_CATALOG_NAME", "floe"), **props)
    out = {}
    for name in sys.argv[1:]:
        tbl = cat.load_table(name)
        try:
            arrow = tbl.scan().to_arrow()
            reader = "pyiceberg scan"
        except (ValueError, NotImplementedError) as e:
            if "equality deletes" not in str(e):
                raise
            arrow = live_rows_with_deletes(tbl)
            reader = "pyiceberg manifests + equality deletes applied by the script"
        cols = arrow.column_names
        canon = [canonical_array(arrow.column(c).combine_chunks()) for c in cols]
        rows = [list(r) for r in zip(*canon)] if canon else []
        out[name] = {
            "columns": cols,
            "types": [str(arrow.schema.field(c).type) for c in cols],
            "reader": reader,
            "rows": rows,
        }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
