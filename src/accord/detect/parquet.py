"""Parquet logs: records a row group at a time, through the screen where one is given.

A Parquet log's columns are named as JSON Lines fields are: a struct column's fields
are ``column.field``. Which columns carry observables is the field mapping, or guessed
from the names as for CSV; the record time is the first column named ``ts``,
``timestamp``, ``time`` or ``@timestamp`` (any case), epoch seconds, ISO 8601 or a
Parquet timestamp. Only those columns are read. A record's reference is ``name:row``,
rows counted from 1 over the whole file, so a row group read on its own (by
``accord.detect.distributed``) names its rows as the whole file does. Each row counts
as one line and one record in ``ReadStats``.

With a screen (``accord.detect.screen``), only the rows it lets through become records;
columns of strings or integers are screened (an integer is matched as its decimal
text, as ``objects_of`` reads it), and a mapped column of any other type lets every
row through to the exact matcher.

pyarrow is imported here at the top: this module is loaded only when a Parquet log is
read.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from accord.detect.readers import _TIME_FIELDS, LogRecord, ReadStats, _guess, _when
from accord.detect.screen import Screen
from accord.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ParquetLayout:
    """Which (flattened) columns a Parquet log's records hold, and what each observes."""

    read: list[str]  # the flattened columns read: the field map's and the time column
    tops: list[str]  # the top-level columns they come from
    field_map: dict[str, str]
    time_column: str | None


def parquet_file(source: IO[bytes], name: str) -> pq.ParquetFile:
    """The Parquet file in ``source``, or InvalidInput (not Parquet, cut short)."""
    if not source.seekable():
        source = io.BytesIO(source.read())
    try:
        return pq.ParquetFile(source)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidInput(f"{name}: not a readable Parquet file ({exc})") from None


def _flat_names(schema: pa.Schema) -> dict[str, str]:
    """Every leaf column's flattened name -> the top-level column it lies in."""
    names: dict[str, str] = {}

    def walk(field: pa.Field, prefix: str, top: str) -> None:
        if pa.types.is_struct(field.type):
            for i in range(field.type.num_fields):
                walk(field.type.field(i), f"{prefix}{field.name}.", top)
        else:
            names[f"{prefix}{field.name}"] = top

    for field in schema:
        walk(field, "", field.name)
    return names


def parquet_layout(
    schema: pa.Schema, name: str, mapping: Mapping[str, str] | None
) -> ParquetLayout:
    """What a Parquet schema says; InvalidInput when ``mapping`` names a column it lacks."""
    columns = _flat_names(schema)
    field_map = dict(mapping) if mapping else _guess(list(columns))
    missing = [c for c in field_map if c not in columns]
    if missing:
        raise InvalidInput(
            f"{name}: no column {', '.join(missing)} in the Parquet schema ({', '.join(columns)})"
        )
    time_column = next((c for c in columns if c.lower() in _TIME_FIELDS), None)
    read = list(dict.fromkeys([*field_map, *([time_column] if time_column else [])]))
    tops = list(dict.fromkeys(columns[c] for c in read))
    return ParquetLayout(read, tops, field_map, time_column)


def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _screened_rows(table: pa.Table, layout: ParquetLayout, screen: Screen) -> np.ndarray:
    mask = np.zeros(table.num_rows, dtype=bool)
    for column, kind in layout.field_map.items():
        values = table.column(column)
        kind_of = values.type
        if not (
            pa.types.is_string(kind_of)
            or pa.types.is_large_string(kind_of)
            or pa.types.is_integer(kind_of)
        ):
            return np.arange(table.num_rows)  # lists, floats, binary…: the matcher decides
        mask |= screen.column(values, kind)
    return np.flatnonzero(mask)


def parquet_records(
    source: IO[bytes] | pq.ParquetFile,
    name: str,
    stats: ReadStats,
    mapping: Mapping[str, str] | None,
    *,
    screen: Screen | None = None,
    row_groups: Iterable[int] | None = None,
    first_row: int = 1,
) -> Iterator[LogRecord]:
    """The records of a Parquet log (of ``row_groups``, the first numbered ``first_row``)."""
    file = source if isinstance(source, pq.ParquetFile) else parquet_file(source, name)
    layout = parquet_layout(file.schema_arrow, name, mapping)
    groups = range(file.num_row_groups) if row_groups is None else row_groups
    row = first_row
    for group in groups:
        try:
            table = _flatten(file.read_row_group(group, columns=layout.tops))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInput(
                f"{name}: row group {group} cannot be read ({exc}); "
                "the records before it were matched"
            ) from None
        table = table.select(layout.read)
        count = table.num_rows
        stats.lines += count
        stats.records += count
        rows = np.arange(count) if screen is None else _screened_rows(table, layout, screen)
        if len(rows):
            picked: list[dict[str, Any]] = table.take(pa.array(rows)).to_pylist()
            column = layout.time_column
            for offset, fields in zip(rows.tolist(), picked, strict=True):
                seen = _when(fields.get(column)) if column else None
                yield LogRecord(f"{name}:{row + offset}", fields, layout.field_map, seen)
        row += count
