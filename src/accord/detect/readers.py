"""Stream log records out of files: CSV, JSON Lines, Zeek TSV, Suricata eve.json, value lists,
Parquet.

Every reader is a generator of ``LogRecord`` (a reference ``name:line``, the record's
fields, the field map that says which observable each field carries, and when it was
seen if the log says). Lines are read one at a time, so memory does not grow with
the log. A malformed line is counted in ``ReadStats`` with its line number and the
run goes on; gzip (by its magic bytes) and stdin (``-``) work for every format, and a
path with a scheme (``file://``, ``zip://``…) is opened through fsspec. An unreadable
file (binary garbage, a truncated gzip stream) raises ``InvalidInput``. Parquet logs (by
their magic bytes, or ``--format parquet``) are read a row group at a time by
``accord.detect.parquet``; a Parquet record's reference is ``name:row``, rows from 1.
``accord.detect.bulk`` reads CSV a chunk at a time and falls back on the CSV parts here
(``csv_layout``, ``csv_records``) wherever pyarrow and the ``csv`` module might differ.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import orjson

from accord.detect.observables import (
    AUTO,
    DOMAIN,
    DST,
    EMAIL,
    IPV4,
    IPV6,
    OBSERVABLE_KEYS,
    URL,
)
from accord.errors import InvalidInput

FORMATS = ("auto", "csv", "jsonl", "zeek", "suricata", "values", "parquet")
KEEP_MALFORMED = 20

# Short names accepted in field mappings (``--field dst_ip=ipv4``).
ALIASES = {
    "ipv4": IPV4,
    "ipv6": IPV6,
    "ip": AUTO,
    "domain": DOMAIN,
    "url": URL,
    "email": EMAIL,
    "dst": DST,
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.SHA-1",
    "sha256": "file:hashes.SHA-256",
    "cert-sha1": "x509-certificate:hashes.SHA-1",
    "cert-sha256": "x509-certificate:hashes.SHA-256",
    "auto": AUTO,
}

# Zeek logs: which columns carry what, per log path.
ZEEK_FIELDS: dict[str, dict[str, str]] = {
    "conn": {"id.orig_h": AUTO, "id.resp_h": DST},
    "dns": {"id.orig_h": AUTO, "id.resp_h": DST, "query": DOMAIN, "answers": AUTO},
    "http": {"id.orig_h": AUTO, "id.resp_h": DST, "host": AUTO, "url": URL},
    "files": {
        "tx_hosts": AUTO,
        "rx_hosts": AUTO,
        "md5": "file:hashes.MD5",
        "sha1": "file:hashes.SHA-1",
        "sha256": "file:hashes.SHA-256",
    },
    "ssl": {
        "id.orig_h": AUTO,
        "id.resp_h": DST,
        "server_name": DOMAIN,
        "cert_chain_fps": "x509-certificate:hashes.SHA-256",
    },
}

SURICATA_FIELDS = {
    "src_ip": AUTO,
    "dest_ip": DST,
    "dns.rrname": DOMAIN,
    "dns.queries.rrname": DOMAIN,
    "dns.answers.rdata": AUTO,
    "http.hostname": AUTO,
    "http.url": URL,
    "tls.sni": DOMAIN,
    "tls.fingerprint": "x509-certificate:hashes.SHA-1",
    "fileinfo.md5": "file:hashes.MD5",
    "fileinfo.sha1": "file:hashes.SHA-1",
    "fileinfo.sha256": "file:hashes.SHA-256",
}

# Column names that say what they hold, for CSV and JSON Lines without a mapping.
_GUESSES = {
    "src": AUTO,
    "src_ip": AUTO,
    "source": AUTO,
    "client": AUTO,
    "dst": DST,
    "dst_ip": DST,
    "dest_ip": DST,
    "destination": DST,
    "ip": AUTO,
    "domain": DOMAIN,
    "host": AUTO,
    "hostname": AUTO,
    "query": DOMAIN,
    "url": URL,
    "email": EMAIL,
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.SHA-1",
    "sha256": "file:hashes.SHA-256",
    "value": AUTO,
}
_TIME_FIELDS = ("ts", "timestamp", "time", "@timestamp")


@dataclass(slots=True)
class LogRecord:
    """One record: where it is, its fields, what each field observes, when it was seen."""

    ref: str
    fields: dict[str, Any]
    field_map: Mapping[str, str]
    seen: datetime | None = None


@dataclass(slots=True)
class ReadStats:
    """Lines read and the malformed ones (the first few kept with their line numbers)."""

    lines: int = 0
    records: int = 0
    malformed: int = 0
    examples: list[tuple[str, int, str]] = field(default_factory=list)

    def bad(self, name: str, line: int, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < KEEP_MALFORMED:
            self.examples.append((name, line, reason))


def parse_mapping(items: list[str]) -> dict[str, str]:
    """``["col=ipv4", "x=url:value"]`` as a field map, or InvalidInput."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, kind = item.partition("=")
        key = ALIASES.get(kind, kind)
        if not sep or not column or (key not in OBSERVABLE_KEYS and key != AUTO):
            known = ", ".join(sorted(ALIASES))
            raise InvalidInput(
                f"field mapping {item!r} must be COLUMN=KIND with KIND one of {known} "
                "or a STIX property such as file:hashes.SHA-256"
            )
        mapping[column] = key
    return mapping


@contextmanager
def open_binary(path: str) -> Iterator[IO[bytes]]:
    """The bytes of ``path`` (``-``: stdin), decompressed when they are gzip; closed after."""
    with ExitStack() as stack:
        if path == "-":
            raw: IO[bytes] = sys.stdin.buffer
        elif is_url(path):
            raw = stack.enter_context(open_url(path))
        else:
            try:
                raw = stack.enter_context(Path(path).open("rb"))
            except OSError as exc:
                raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
        if not isinstance(raw, io.BufferedReader):
            raw = io.BufferedReader(cast(io.RawIOBase, raw))
        if raw.peek(2)[:2] == b"\x1f\x8b":
            yield cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=raw)))
        else:
            yield raw


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# What opening an fsspec URL raises for a log that cannot be read: missing, unreachable,
# a protocol not installed, or an archive (``zip://``, ``tar://``) that is no archive.
URL_ERRORS = (OSError, ValueError, ImportError, zipfile.BadZipFile, tarfile.TarError)


def is_url(path: str) -> bool:
    """Whether ``path`` names a log by URL (``file://``, ``zip://``…), read through fsspec."""
    return _SCHEME.match(path) is not None


@contextmanager
def open_url(path: str) -> Iterator[IO[bytes]]:
    """The raw bytes at an fsspec URL, or InvalidInput saying in one line why not."""
    import fsspec  # only when a log is named by URL

    try:
        with fsspec.open(path, "rb") as handle:
            yield cast(IO[bytes], handle)
    except URL_ERRORS as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None


def is_parquet(stream: IO[bytes], fmt: str) -> bool:
    """Whether the log in ``stream`` (from ``open_binary``) is read as Parquet."""
    if fmt == "parquet":
        return True
    peek = getattr(stream, "peek", None)
    return fmt == "auto" and peek is not None and peek(4)[:4] == PARQUET_MAGIC


PARQUET_MAGIC = b"PAR1"


def _lines(
    stream: Iterable[bytes], name: str, stats: ReadStats, number: int = 0
) -> Iterator[tuple[int, str]]:
    """Decoded lines with their numbers (after ``number``); undecodable lines are malformed."""
    try:
        for raw in stream:
            number += 1
            stats.lines += 1
            if b"\x00" in raw:
                stats.bad(name, number, "binary data, not text")
                continue
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                stats.bad(name, number, "not UTF-8 text")
    except GZIP_ERRORS as exc:
        raise damaged(name, number, exc) from None


# What reading a damaged or truncated gzip stream raises.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def damaged(name: str, line: int, exc: BaseException) -> InvalidInput:
    """The error for a gzip stream that breaks off after line ``line``."""
    return InvalidInput(
        f"{name}: the gzip data is damaged or cut short after line {line} ({exc}); "
        "the records before it were matched"
    )


def detect_format(first: str, name: str) -> str:
    """The format a log's first line and name suggest."""
    if first.startswith(("#separator", "#fields")):
        return "zeek"
    stripped = first.lstrip()
    if stripped.startswith("{"):
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return "jsonl"
        return "suricata" if isinstance(obj, dict) and "event_type" in obj else "jsonl"
    lowered = name.lower().removesuffix(".gz")
    if lowered.endswith((".csv", ".tsv")) or "," in first:
        return "csv"
    return "values"


def read_log(
    path: str,
    stats: ReadStats,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
) -> Iterator[LogRecord]:
    """Every record of the log at ``path`` (``-``: stdin), in order."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r}; use one of: {', '.join(FORMATS)}")
    with open_binary(path) as stream:
        if is_parquet(stream, fmt):
            from accord.detect.parquet import parquet_records  # brings pyarrow

            yield from parquet_records(stream, log_name(path), stats, mapping)
            return
        yield from read_lines(stream, log_name(path), stats, fmt=fmt, mapping=mapping)


def log_name(path: str) -> str:
    """The name records of the log at ``path`` are referenced by."""
    return "stdin" if path == "-" else path


def read_lines(
    raw: Iterable[bytes],
    name: str,
    stats: ReadStats,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
) -> Iterator[LogRecord]:
    """Every record of a log given as its raw lines, as ``read_log`` reads them."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if fmt == "parquet":
        raise InvalidInput(f"{name}: a Parquet log is not read line by line")
    lines = _lines(raw, name, stats)
    first = next(lines, None)
    if first is None:
        return
    if fmt == "auto":
        fmt = detect_format(first[1], name)
    chained = _chain(first, lines)
    if fmt == "zeek":
        yield from _zeek(chained, name, stats)
    elif fmt == "suricata":
        yield from _json_lines(chained, name, stats, mapping or SURICATA_FIELDS)
    elif fmt == "jsonl":
        yield from _json_lines(chained, name, stats, mapping)
    elif fmt == "csv":
        yield from _csv(chained, name, stats, mapping)
    else:
        yield from _values(chained, name, stats)


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _values(lines: Iterator[tuple[int, str]], name: str, stats: ReadStats) -> Iterator[LogRecord]:
    mapping = {"value": AUTO}
    for number, line in lines:
        value = line.strip()
        if not value or value.startswith("#"):
            continue
        stats.records += 1
        yield LogRecord(f"{name}:{number}", {"value": value}, mapping)


def _csv(
    lines: Iterator[tuple[int, str]],
    name: str,
    stats: ReadStats,
    mapping: Mapping[str, str] | None,
) -> Iterator[LogRecord]:
    numbers: list[int] = []

    def texts() -> Iterator[str]:
        for number, line in lines:
            numbers.append(number)
            yield line

    reader = csv.reader(texts())
    try:
        header = next(reader)
    except StopIteration:
        return
    layout = csv_layout(header, name, mapping)
    yield from _csv_rows(reader, numbers, name, stats, layout)


@dataclass(frozen=True, slots=True)
class CSVLayout:
    """A CSV log's header (names stripped), its field map, and the column with record times."""

    header: list[str]
    field_map: dict[str, str]
    time_column: str | None


def csv_layout(header: list[str], name: str, mapping: Mapping[str, str] | None) -> CSVLayout:
    """What a CSV header says; InvalidInput when ``mapping`` names a column it lacks."""
    header = [h.strip() for h in header]
    field_map = dict(mapping) if mapping else _guess(header)
    missing = [c for c in field_map if c not in header]
    if missing:
        raise InvalidInput(
            f"{name}: no column {', '.join(missing)} in the header ({', '.join(header)})"
        )
    time_column = next((c for c in header if c.lower() in _TIME_FIELDS), None)
    return CSVLayout(header, field_map, time_column)


def csv_records(
    raw: Iterable[bytes], line: int, name: str, stats: ReadStats, layout: CSVLayout
) -> Iterator[LogRecord]:
    """The records of the CSV rows in ``raw`` (lines after the header, from line ``line``)."""
    numbers: list[int] = []

    def texts() -> Iterator[str]:
        for number, text in _lines(raw, name, stats, line - 1):
            numbers.append(number)
            yield text

    yield from _csv_rows(csv.reader(texts()), numbers, name, stats, layout)


def csv_record(name: str, line: int, fields: dict[str, Any], layout: CSVLayout) -> LogRecord:
    """One CSV row as a record: its reference, fields, field map and time."""
    column = layout.time_column
    seen = _when(fields.get(column)) if column else None
    return LogRecord(f"{name}:{line}", fields, layout.field_map, seen)


def _csv_rows(
    reader: Iterator[list[str]],
    numbers: list[int],
    name: str,
    stats: ReadStats,
    layout: CSVLayout,
) -> Iterator[LogRecord]:
    header = layout.header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            stats.bad(name, numbers[-1] if numbers else 0, f"bad CSV: {exc}")
            continue
        number = numbers[-1]
        numbers.clear()
        if not row:
            continue
        if len(row) != len(header):
            stats.bad(name, number, f"{len(row)} columns where the header has {len(header)}")
            continue
        stats.records += 1
        yield csv_record(name, number, dict(zip(header, row, strict=True)), layout)


def _guess(columns: list[str]) -> dict[str, str]:
    guessed = {c: _GUESSES[c.lower()] for c in columns if c.lower() in _GUESSES}
    return guessed or dict.fromkeys(columns, AUTO)


def _flatten(obj: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            _flatten(value, f"{prefix}{key}.", into)
    elif isinstance(obj, list):
        for item in obj:
            _flatten(item, prefix, into)
    else:
        key = prefix[:-1]
        held = into.get(key)
        if held is None:
            into[key] = obj
        elif isinstance(held, list):
            held.append(obj)
        else:
            into[key] = [held, obj]


def _json_lines(
    lines: Iterator[tuple[int, str]],
    name: str,
    stats: ReadStats,
    mapping: Mapping[str, str] | None,
) -> Iterator[LogRecord]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            stats.bad(name, number, f"not JSON: {exc}")
            continue
        if not isinstance(obj, dict):
            stats.bad(name, number, "not a JSON object")
            continue
        fields: dict[str, Any] = {}
        _flatten(obj, "", fields)
        fingerprint = fields.get("tls.fingerprint")
        if isinstance(fingerprint, str):  # Suricata writes SHA-1 fingerprints as aa:bb:…
            fields["tls.fingerprint"] = fingerprint.replace(":", "")
        field_map = mapping if mapping is not None else _guess(list(fields))
        stats.records += 1
        seen = next((_when(fields.get(k)) for k in _TIME_FIELDS if k in fields), None)
        yield LogRecord(f"{name}:{number}", fields, field_map, seen)


def _zeek(lines: Iterator[tuple[int, str]], name: str, stats: ReadStats) -> Iterator[LogRecord]:
    separator = "\t"
    set_separator = ","
    columns: list[str] = []
    field_map: Mapping[str, str] = {}
    for number, line in lines:
        if line.startswith("#"):
            directive, _, rest = line.partition(" " if line.startswith("#separator") else separator)
            if directive == "#separator":
                separator = rest.strip().encode().decode("unicode_escape") or "\t"
            elif directive == "#set_separator":
                set_separator = rest
            elif directive == "#path":
                path = rest.strip()
                if path not in ZEEK_FIELDS:
                    known = ", ".join(ZEEK_FIELDS)
                    raise InvalidInput(f"{name}: Zeek log {path!r} is not one of: {known}")
                field_map = ZEEK_FIELDS[path]
            elif directive == "#fields":
                columns = rest.split(separator)
            continue
        if not columns or not field_map:
            stats.bad(name, number, "a record before the Zeek #path and #fields headers")
            continue
        row = line.split(separator)
        if len(row) != len(columns):
            stats.bad(name, number, f"{len(row)} columns where #fields has {len(columns)}")
            continue
        fields: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=True):
            if value in ("-", "(empty)"):
                continue
            wanted = field_map.get(column)
            fields[column] = (
                value.split(set_separator) if wanted and set_separator in value else value
            )
        if "host" in fields and "uri" in fields:
            fields["url"] = f"http://{fields['host']}{fields['uri']}"
        stats.records += 1
        yield LogRecord(f"{name}:{number}", fields, field_map, _when(fields.get("ts")))


def _when(value: Any) -> datetime | None:
    """A record's time: epoch seconds (Zeek) or ISO 8601 (Suricata, most JSON)."""
    if value is None or isinstance(value, list):
        return None
    if isinstance(value, datetime):  # a Parquet timestamp
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float) or value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), UTC)
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
