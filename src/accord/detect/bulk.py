"""Bulk reading of CSV logs: chunks parsed by pyarrow in worker threads, through the screen.

``read_log_screened`` reads a log as ``read_log`` does, leaving out the CSV rows the
screen (``accord.detect.screen``) rules out. The file is cut into chunks of whole lines,
parsed by pyarrow in a worker thread while the previous chunk is screened, and each row
keeps its line number. A chunk pyarrow and Python's ``csv`` module might read
differently (malformed rows, NUL bytes, text that is not UTF-8, lone carriage returns)
goes through the per-record reader instead (``accord.detect.readers``), which reports
its malformed lines with their numbers; quoted line breaks send the rest of the file
there. Parquet logs go through the screen a row group at a time
(``accord.detect.parquet``); other formats are read record by record, as ``read_log``
reads them. ``csv_part`` screens one range of whole CSV lines on its own: the unit a
Dask task (``accord.detect.distributed``) works on.

numpy and pyarrow are imported here at the top: callers import this module where a log
is read, not at start-up.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

import numpy as np
import pyarrow as pa
from pyarrow import csv as pacsv

from accord.detect.matcher import Hit, MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import (
    FORMATS,
    GZIP_ERRORS,
    CSVLayout,
    LogRecord,
    ReadStats,
    csv_layout,
    csv_record,
    csv_records,
    damaged,
    detect_format,
    is_parquet,
    log_name,
    open_binary,
    read_lines,
)
from accord.detect.screen import Screen, screen_for
from accord.errors import InvalidInput

CHUNK_SIZE = 16 << 20


def read_log_screened(
    path: str,
    stats: ReadStats,
    matchers: MatcherSet,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    name: str | None = None,
) -> Iterator[LogRecord]:
    """The records of the log at ``path`` (``-``: stdin) that may match ``matchers``, in order.

    ``read_log`` with the CSV and Parquet rows the screen rules out left out: the same
    references, times, malformed lines and errors; ``stats`` counts every line and
    record read. Other formats yield every record. ``name``: what references call the
    log (by default, ``path`` as given).
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r}; use one of: {', '.join(FORMATS)}")
    name = name or log_name(path)
    with open_binary(path) as stream:
        if is_parquet(stream, fmt):
            from accord.detect.parquet import parquet_records

            screen = screen_for(matchers)
            yield from parquet_records(stream, name, stats, mapping, screen=screen)
            return
        try:
            head = stream.readline()
        except GZIP_ERRORS as exc:
            raise damaged(name, 0, exc) from None
        header = _csv_header(head, name, fmt)
        if header is None:
            raw = itertools.chain([head], stream) if head else stream
            yield from read_lines(raw, name, stats, fmt=fmt, mapping=mapping)
            return
        layout = csv_layout(header, name, mapping)
        stats.lines += 1
        screen = screen_for(matchers)
        buffered = cast(io.BufferedIOBase, stream)  # open_binary's streams all are
        yield from _screened_csv(buffered, name, stats, layout, screen, chunk_size)


def match_log(
    path: str,
    stats: ReadStats,
    matchers: MatcherSet,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[tuple[LogRecord, Hit]]:
    """Every (record, hit) of the log at ``path``, as the per-record path finds them."""
    for record in read_log_screened(
        path, stats, matchers, fmt=fmt, mapping=mapping, chunk_size=chunk_size
    ):
        for hit in matchers.match(objects_of(record.fields, record.field_map)):
            yield record, hit


def csv_part(
    data: bytes, line: int, name: str, stats: ReadStats, layout: CSVLayout, screen: Screen
) -> list[LogRecord] | None:
    """The records of the whole CSV lines ``data`` (from line ``line``) that may match.

    ``data`` must begin where a record begins. None: the lines hold quoted line breaks
    or quotes used otherwise than RFC 4180 uses them, so where its records end is not
    known from ``data`` alone; the csv module must read the log from ``data``'s first
    line to its end (``csv_records``), as ``read_log_screened`` then does. Otherwise
    ``data`` ends where a record ends, and ``stats`` counts its lines and records.
    """
    chunk = _process(_Read(bytearray(data), True, None), _CSVColumns.of(layout), screen)
    if chunk.rest_by_record:
        return None
    if chunk.candidates is None:
        return list(csv_records(io.BytesIO(data), line, name, stats, layout))
    stats.lines += chunk.lines
    stats.records += chunk.records
    return [csv_record(name, line + offset, fields, layout) for offset, fields in chunk.candidates]


def csv_header(head: bytes, name: str, fmt: str) -> list[str] | None:
    """The header of a CSV log whose first line is ``head``, as ``read_log_screened`` reads it."""
    return _csv_header(head, name, fmt)


def _csv_header(head: bytes, name: str, fmt: str) -> list[str] | None:
    """The header of a CSV log whose first line is ``head``; None: read it record by record.

    That is any other format, and a first line the per-record reader would treat
    specially (not UTF-8, NUL bytes, a quoted line break, nothing at all).
    """
    if fmt not in ("auto", "csv") or not head.strip() or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    if fmt == "auto" and detect_format(text, name) != "csv":
        return None
    if "\r" in text or ('"' in text and not _quotes_well_formed(head.rstrip(b"\r\n"))):
        return None
    try:
        return next(csv.reader([text]), None)
    except csv.Error:
        return None


@dataclass(frozen=True, slots=True)
class _CSVColumns:
    """How a CSV log's columns are named for pyarrow, and which of them are read."""

    names: list[str]  # c0, c1, …: header names may repeat or be empty
    read: dict[str, str]  # header name -> pyarrow name, the last column of that name
    kinds: dict[str, str]  # pyarrow name -> observable kind

    @classmethod
    def of(cls, layout: CSVLayout) -> _CSVColumns:
        last = {h: i for i, h in enumerate(layout.header)}
        wanted = [*layout.field_map]
        if layout.time_column is not None:
            wanted.append(layout.time_column)
        read = {h: f"c{last[h]}" for h in dict.fromkeys(wanted)}
        kinds = {read[h]: kind for h, kind in layout.field_map.items()}
        return cls([f"c{i}" for i in range(len(layout.header))], read, kinds)


@dataclass(frozen=True, slots=True)
class _Read:
    """Whole lines of a CSV log as read, and how the stream went on."""

    data: bytearray
    end: bool  # the stream ended after these lines
    failure: BaseException | None  # the gzip error that ended it


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Lines of a CSV log, parsed and screened where they could be."""

    read: _Read
    lines: int
    records: int
    # (line from 0, fields) of each row that may match; None: read the lines record by record
    candidates: list[tuple[int, dict[str, str]]] | None
    rest_by_record: bool  # quoted line breaks: read from here on record by record


def _screened_csv(
    stream: io.BufferedIOBase,
    name: str,
    stats: ReadStats,
    layout: CSVLayout,
    screen: Screen,
    chunk_size: int,
) -> Iterator[LogRecord]:
    columns = _CSVColumns.of(layout)
    line = 2  # of the first line of the next chunk
    # This thread reads chunks in order; workers parse and screen a few of them at once
    # (pyarrow and numpy let go of the GIL), and their results are taken in order.
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="accord-csv") as pool:
        pending: deque[Future[_Chunk]] = deque()
        end = False
        while pending or not end:
            while not end and len(pending) <= _WORKERS:
                read = _read_chunk(stream, chunk_size)
                end = read.end
                pending.append(pool.submit(_process, read, columns, screen))
            chunk = pending.popleft().result()
            if chunk.rest_by_record:
                later = [f.result().read.data for f in pending]
                raw = itertools.chain(*map(io.BytesIO, [chunk.read.data, *later]), stream)
                yield from csv_records(raw, line, name, stats, layout)
                return
            if chunk.candidates is None:
                yield from csv_records(io.BytesIO(chunk.read.data), line, name, stats, layout)
            else:
                stats.lines += chunk.lines
                stats.records += chunk.records
                for offset, fields in chunk.candidates:
                    yield csv_record(name, line + offset, fields, layout)
            line += chunk.lines
            if chunk.read.failure is not None:
                raise damaged(name, line - 1, chunk.read.failure)


_WORKERS = max(2, min(4, os.cpu_count() or 2))


def _read_chunk(stream: io.BufferedIOBase, size: int) -> _Read:
    """The next whole lines of ``stream``, about ``size`` bytes of them."""
    data = bytearray(size)
    total = 0
    end = False
    failure: BaseException | None = None
    try:
        with memoryview(data) as view:
            while total < size:
                # readinto1: a gzip stream that breaks off loses no more than its last line.
                got = stream.readinto1(view[total:])
                if not got:
                    end = True
                    break
                total += got
        del data[total:]
        if not end and not data.endswith(b"\n"):
            tail = stream.readline()
            data += tail
            end = not tail.endswith(b"\n")
    except GZIP_ERRORS as exc:
        failure, end = exc, True
        del data[data.rfind(b"\n", 0, total) + 1 :]  # as in the per-record reader
    return _Read(data, end, failure)


def _process(read: _Read, columns: _CSVColumns, screen: Screen) -> _Chunk:
    """Parse and screen one chunk (in a worker thread)."""
    data = read.data
    lines = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A))
    lines += 0 if data.endswith(b"\n") or not data else 1
    table, line_index, rest = _parse(data, lines, columns)
    if table is None:
        return _Chunk(read, lines, 0, None, rest)
    rows = screen.rows(table, columns.kinds)
    candidates: list[tuple[int, dict[str, str]]] = []
    if len(rows):
        picked = table.take(pa.array(rows)).to_pydict()
        offsets = line_index[rows] if line_index is not None else rows
        for i, offset in enumerate(offsets.tolist()):
            candidates.append((offset, {h: picked[c][i] for h, c in columns.read.items()}))
    return _Chunk(read, lines, table.num_rows, candidates, False)


def _parse(
    data: bytearray, lines: int, columns: _CSVColumns
) -> tuple[pa.Table | None, np.ndarray | None, bool]:
    """(table, line of each row or None for one row a line, rest by record) for ``data``.

    The table is None where pyarrow and the ``csv`` module might disagree; then those
    lines are read record by record, and so is the rest of the log where a quoted value
    may run past them.
    """
    if not data:
        return None, None, False
    # Without quotes, every line ends a record for both readers; with quotes, only when
    # they are used as RFC 4180 uses them (else both may differ, and so may where a
    # record ends). Where the csv module must read lines with quotes, it reads on from
    # there to the end: its state cannot be handed from one chunk to the next.
    quoted = b'"' in data
    if quoted and not _quotes_well_formed(data):
        return None, None, True
    if b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None, None, quoted
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None, None, quoted
    invalid: list[object] = []

    def skip(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=columns.names, use_threads=False, block_size=len(data) + 1
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=quoted, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                check_utf8=False,  # checked above, for every column
                include_columns=list(columns.read.values()),
                column_types=dict.fromkeys(columns.read.values(), pa.string()),
            ),
        )
    except pa.ArrowException:  # whatever pyarrow cannot read, the csv module reads
        return None, None, quoted
    if invalid:  # rows of the wrong width, which the csv module reports
        return None, None, False
    if table.num_rows == lines:
        return table, None, False
    if table.num_rows > lines:
        return None, None, quoted
    kept = _non_blank_lines(data)
    if len(kept) != table.num_rows:
        return None, None, True  # line breaks inside quoted values
    return table, kept, False


def _quotes_well_formed(data: bytes | bytearray) -> bool:
    """Whether every quote in ``data`` opens, closes or doubles inside a quoted field.

    That is, quoting as RFC 4180 has it, from outside a quoted field to outside one. The
    quotes before a quote say where it stands: after an even number it is entered from
    outside, so it must open a field (follow a comma or a line break) unless it follows
    a quote; after an odd number, it leaves the field, so it must end it (precede a
    comma or a line break) unless a quote follows.
    """
    text = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(text == 0x22)
    if len(quotes) % 2:
        return False
    if not len(quotes):
        return True
    entered, left = quotes[0::2], quotes[1::2]
    before = text[np.maximum(entered - 1, 0)]
    before[entered == 0] = 0x0A
    after = text[np.minimum(left + 1, len(text) - 1)]
    after[left == len(text) - 1] = 0x0A
    return bool(_MAY_PRECEDE_OPENING[before].all() and _MAY_FOLLOW_CLOSING[after].all())


_MAY_PRECEDE_OPENING = np.zeros(256, dtype=bool)
_MAY_PRECEDE_OPENING[[0x2C, 0x0A, 0x22]] = True
_MAY_FOLLOW_CLOSING = np.zeros(256, dtype=bool)
_MAY_FOLLOW_CLOSING[[0x2C, 0x0A, 0x0D, 0x22]] = True


def _non_blank_lines(data: bytearray) -> np.ndarray:
    """The lines of ``data`` (from 0) that are not empty: blank lines hold no CSV row."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    crlf = (length == 1) & (
        np.frombuffer(data, dtype=np.uint8)[np.minimum(starts, len(data) - 1)] == 0x0D
    )
    return np.flatnonzero((length > 0) & ~crlf)
