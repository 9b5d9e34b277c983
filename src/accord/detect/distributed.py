# mypy: disallow-untyped-calls=False, warn-return-any=False
"""Matching on a Dask cluster: the single-process screen and confirmation over partitions.

``match_on_dask`` runs what ``accord.detect.bulk.read_log_screened`` and the exact
matcher run, one partition of a log per Dask task, and hands back each matching record
as ``(reference, time, hits)``, in log order, with ``ReadStats`` counted as the
single-process path counts them. The caller (``Detection.match_logs``) turns them into
matches and, at the end, into sightings: nothing is stored by a task, so a task Dask
runs again after losing its worker is counted once, in the one result the client takes.

- The readable indicators travel once: scattered to every worker (``broadcast``) as
  their ``(id, pattern)`` pairs in load order, compiled there into the same
  ``MatcherSet`` and screen, once per worker process (``_compiled``).
- The client plans the partitions, reading only each log's head and a few bytes at each
  cut: CSV, JSON Lines, Suricata and value lists are cut into byte ranges of whole lines
  (``partition_size``); a task numbers its lines from 1 and the client adds the lines
  before it, so references keep their line numbers. A CSV range with quoted line breaks
  cannot be read on its own: from the first such range, one task reads the rest of the
  log with the csv module, as the single-process path does. Parquet is cut by row
  groups, whose first rows the footer gives. A gzip log (not splittable), a Zeek log
  (its headers may change mid-file) and a log whose first line is not clean text are
  each one task running the single-process reader.
- Without a scheduler address, a ``LocalCluster`` of worker processes on 127.0.0.1
  (no dashboard) runs for the call; with one, the call joins that cluster, whose
  workers must have Accord installed and reach the logs by the same path or URL.

dask and distributed are imported here at the top: this module is only loaded for
``--engine dask``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, cast

import dask
import fsspec
from distributed import Client, Future, LocalCluster

from accord.detect.bulk import csv_header, csv_part, read_log_screened
from accord.detect.matcher import Hit, MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import (
    FORMATS,
    KEEP_MALFORMED,
    PARQUET_MAGIC,
    URL_ERRORS,
    CSVLayout,
    LogRecord,
    ReadStats,
    csv_layout,
    csv_records,
    detect_format,
    is_url,
    read_lines,
)
from accord.detect.screen import screen_for
from accord.errors import AccordError, InvalidInput

PARTITION_SIZE = 64 << 20
CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before giving up

# A matching record: (line or row, its time, the indicators it matched).
Row = tuple[int, datetime | None, list[Hit]]


@dataclass(frozen=True, slots=True)
class Indicators:
    """What every worker compiles: the readable indicators' (id, pattern), in load order."""

    token: str
    pairs: tuple[tuple[str, str], ...]
    subdomains: bool

    @classmethod
    def of(cls, pairs: Sequence[tuple[str, str]], subdomains: bool) -> Indicators:
        digest = hashlib.sha256(repr(subdomains).encode())
        for stix_id, pattern in pairs:
            digest.update(f"{len(stix_id)}:{stix_id}{len(pattern)}:{pattern}".encode())
        return cls(digest.hexdigest(), tuple(pairs), subdomains)


@dataclass(frozen=True, slots=True)
class Part:
    """One task's share of a log.

    ``kind``: ``csv`` (bytes ``start``-``end`` of whole lines after the header, screened),
    ``csv-rest`` (from ``start`` to the end, by the csv module), ``lines`` (bytes of whole
    lines of a line-per-record format ``fmt``), ``parquet`` (row groups ``start``-``end``,
    the first row numbered ``first``), ``whole`` (the log, by the single-process reader).
    """

    path: str  # where workers read it: absolute, or a URL
    name: str  # what references call it: the path as given
    kind: str
    start: int = 0
    end: int | None = None
    first: int = 1
    fmt: str = "auto"
    mapping: Mapping[str, str] | None = None
    layout: CSVLayout | None = None


@dataclass(slots=True)
class PartResult:
    """What one task found: its matching rows and counts (lines from 1 in its range)."""

    rows: list[Row] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    rest_by_record: bool = False  # csv: the csv module must read the log from here
    error: str | None = None  # a damaged log: raised after the rows before it


_COMPILED: dict[str, MatcherSet] = {}
_COMPILING = threading.Lock()


def _compiled(indicators: Indicators) -> MatcherSet:
    """The indicators compiled, with their screen: once per worker process and set."""
    with _COMPILING:
        matchers = _COMPILED.get(indicators.token)
        if matchers is None:
            _COMPILED.clear()
            matchers = MatcherSet(indicators.pairs, subdomains=indicators.subdomains)
            screen_for(matchers)
            _COMPILED[indicators.token] = matchers
    return matchers


def run_part(part: Part, indicators: Indicators) -> PartResult:
    """A Dask task: match one part of a log."""
    return match_part(part, _compiled(indicators))


def match_part(part: Part, matchers: MatcherSet) -> PartResult:
    """Match one part of a log with ``matchers`` (the body of a task)."""
    result = PartResult()
    name = part.name
    try:
        records: Iterator[LogRecord] | list[LogRecord]
        if part.kind == "whole":
            records = read_log_screened(
                part.path, result.stats, matchers, fmt=part.fmt, mapping=part.mapping, name=name
            )
            _confirm(records, matchers, result)
        elif part.kind == "parquet":
            from accord.detect.parquet import parquet_file, parquet_records

            assert part.end is not None
            with _open(part.path, name) as handle:
                records = parquet_records(
                    parquet_file(handle, name),
                    name,
                    result.stats,
                    part.mapping,
                    screen=screen_for(matchers),
                    row_groups=range(part.start, part.end),
                    first_row=part.first,
                )
                _confirm(records, matchers, result)
        elif part.kind == "csv-rest":
            assert part.layout is not None
            with _open(part.path, name) as handle:
                handle.seek(part.start)
                records = csv_records(handle, 1, name, result.stats, part.layout)
                _confirm(records, matchers, result)
        else:
            data = _read_range(part)
            if part.kind == "csv":
                assert part.layout is not None
                screen = screen_for(matchers)
                found = csv_part(data, 1, name, result.stats, part.layout, screen)
                if found is None:
                    return PartResult(rest_by_record=True)
                _confirm(found, matchers, result)
            else:
                records = read_lines(
                    io.BytesIO(data), name, result.stats, fmt=part.fmt, mapping=part.mapping
                )
                _confirm(records, matchers, result)
    except InvalidInput as exc:
        result.error = exc.detail
    except OSError as exc:  # the log went away or broke off while it was read
        result.error = f"cannot read {name}: {_reason(exc)}"
    return result


def _confirm(
    records: Iterator[LogRecord] | list[LogRecord],
    matchers: MatcherSet,
    result: PartResult,
) -> None:
    for record in records:
        hits = matchers.match(objects_of(record.fields, record.field_map))
        if hits:
            result.rows.append((int(record.ref.rsplit(":", 1)[1]), record.seen, hits))


class _open:  # noqa: N801 - used as a function
    """A log opened through fsspec for reading, InvalidInput when it cannot be."""

    def __init__(self, path: str, name: str) -> None:
        self._path = path
        self._name = name
        self._stack = ExitStack()

    def __enter__(self) -> IO[bytes]:
        try:
            return cast(IO[bytes], self._stack.enter_context(fsspec.open(self._path, "rb")))
        except URL_ERRORS as exc:
            raise InvalidInput(f"cannot read {self._name}: {_reason(exc)}") from None

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


def _read_range(part: Part) -> bytes:
    with _open(part.path, part.name) as handle:
        handle.seek(part.start)
        size = -1 if part.end is None else part.end - part.start
        return handle.read(size)


# --- the client's side: plans, the cluster, results in order ---------------------------


def plan(
    name: str, fmt: str, mapping: Mapping[str, str] | None, partition_size: int
) -> tuple[list[Part], int]:
    """The parts of the log ``name`` (a path or URL) and the lines before the first part."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown log format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if name == "-":
        raise InvalidInput("the dask engine reads logs by path or URL, not from stdin")
    # Workers have their own working directory: they read a local log by its full path.
    path = name if is_url(name) else os.path.abspath(name)
    whole = [Part(path, name, "whole", fmt=fmt, mapping=mapping)], 0
    with _open(path, name) as handle:
        try:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            magic = handle.read(4)
            if magic[:2] == b"\x1f\x8b" or fmt == "zeek" or size == 0:
                return whole
            if fmt == "parquet" or (fmt == "auto" and magic == PARQUET_MAGIC):
                return _parquet_parts(handle, path, name, mapping), 0
            handle.seek(0)
            head = handle.readline()
            if fmt in ("auto", "csv"):
                header = csv_header(head, name, fmt)
                if header is not None:
                    layout = csv_layout(header, name, mapping)
                    cuts = _cuts(handle, len(head), size, partition_size)
                    parts = [Part(path, name, "csv", a, b, layout=layout) for a, b in cuts]
                    return parts, 1
                if fmt == "csv":
                    return whole
                try:
                    text = head.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    return whole
                if b"\x00" in head:
                    return whole
                fmt = detect_format(text, name)
                if fmt not in ("jsonl", "suricata", "values"):
                    return whole
            cuts = _cuts(handle, 0, size, partition_size)
            return [Part(path, name, "lines", a, b, fmt=fmt, mapping=mapping) for a, b in cuts], 0
        except OSError as exc:
            raise InvalidInput(f"cannot read {name}: {_reason(exc)}") from None


def _cuts(handle: IO[bytes], start: int, size: int, every: int) -> list[tuple[int, int]]:
    """Ranges [a, b) of ``start``..``size`` about ``every`` bytes long, each of whole lines."""
    bounds = [start]
    at = start + every
    while at < size:
        handle.seek(at - 1)
        at += len(handle.readline()) - 1  # to just after the line holding byte at - 1
        if at >= size:
            break
        bounds.append(at)
        at += every
    bounds.append(size)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _parquet_parts(
    handle: IO[bytes], path: str, name: str, mapping: Mapping[str, str] | None
) -> list[Part]:
    from accord.detect.parquet import parquet_file, parquet_layout

    file = parquet_file(handle, name)
    parquet_layout(file.schema_arrow, name, mapping)  # a missing column, refused here
    parts = []
    first = 1
    for group in range(file.num_row_groups):
        part = Part(path, name, "parquet", group, group + 1, first=first, mapping=mapping)
        parts.append(part)
        first += file.metadata.row_group(group).num_rows
    return parts


def match_on_dask(
    pairs: Sequence[tuple[str, str]],
    subdomains: bool,
    logs: Sequence[str],
    stats: ReadStats,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    partition_size: int = PARTITION_SIZE,
    timeout: float | None = None,
) -> Iterator[tuple[str, datetime | None, list[Hit]]]:
    """Every matching record of ``logs`` as ``(reference, time, hits)``, in log order.

    ``pairs``: the readable indicators, as ``Detection.load(..., patterns=True)`` keeps
    them. Every log is planned (and so checked) before the cluster is reached; a damaged
    log raises InvalidInput after the rows before the damage, as the single-process
    path does.
    """
    if partition_size < 1:
        raise InvalidInput("the partition size must be at least one byte")
    plans = [plan(path, fmt, mapping, partition_size) for path in logs]
    with ExitStack() as stack:
        client = _client(stack, scheduler, workers, timeout or CONNECT_TIMEOUT)
        indicators = client.scatter(Indicators.of(pairs, subdomains), broadcast=True, hash=False)
        pending = [
            [client.submit(run_part, part, indicators, pure=False) for part in parts]
            for parts, _ in plans
        ]
        for path, (parts, before), futures in zip(logs, plans, pending, strict=True):
            yield from _results(client, path, parts, before, futures, indicators, stats)


def local_cluster(workers: int | None = None) -> LocalCluster:
    """A Dask cluster of ``workers`` processes (one thread each) on 127.0.0.1, no dashboard.

    Its workers keep glibc's own malloc trimming (Dask's nanny sets
    ``MALLOC_TRIM_THRESHOLD_=65536``, which makes every large Arrow and numpy buffer a
    fresh ``mmap``: the screen then runs about 2.7 times slower) and no statistical
    profiler. A cluster of one's own is best configured the same way.
    """
    with dask.config.set(WORKER_CONFIG):
        return _local_cluster(workers)


WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


def _local_cluster(workers: int | None) -> LocalCluster:
    return LocalCluster(
        n_workers=workers or max(1, os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # No dashboard; the scheduler's HTTP routes (health) on loopback, any free port.
        dashboard_address=None,
        worker_dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.CRITICAL,  # a failed task is reported as one line, by the client
    )


def _client(stack: ExitStack, scheduler: str | None, workers: int | None, timeout: float) -> Client:
    if scheduler is None:
        cluster = stack.enter_context(local_cluster(workers))
        return stack.enter_context(Client(cluster))
    try:
        _handshake(scheduler, timeout)
        client = stack.enter_context(Client(scheduler, timeout=timeout))
    except Exception as exc:  # no server, a malformed address, or no Dask scheduler there
        why = (
            _reason(exc)
            if isinstance(exc, OSError | ValueError | TypeError)
            else f"what answers there is no Dask scheduler: {type(exc).__name__}"
        )
        raise InvalidInput(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({why})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise InvalidInput(
            f"the Dask scheduler at {scheduler} has no worker after {timeout:g} s"
        ) from None
    return client


def _handshake(address: str, timeout: float) -> None:
    """Connect to ``address`` and exchange Dask's handshake, all within ``timeout`` seconds.

    ``Client`` bounds only the connection: a server that accepts and says nothing holds
    it until that server hangs up, and one that speaks another protocol (the dashboard's
    HTTP, say) fails it with any error, a MemoryError or an AssertionError among them."""
    from distributed.comm.core import connect

    async def attempt() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    asyncio.run(asyncio.wait_for(attempt(), timeout))


def _results(
    client: Client,
    path: str,
    parts: list[Part],
    before: int,
    futures: list[Future[PartResult]],
    indicators: Future[Indicators],
    stats: ReadStats,
) -> Iterator[tuple[str, datetime | None, list[Hit]]]:
    lines = before  # of this log, before the next part: a CSV header
    stats.lines += before
    for i, (part, future) in enumerate(zip(parts, futures, strict=True)):
        result = _result(future, path)
        last = i == len(parts) - 1
        if result.rest_by_record:
            client.cancel(futures[i + 1 :])
            rest = Part(part.path, path, "csv-rest", part.start, layout=part.layout)
            result = _result(client.submit(run_part, rest, indicators, pure=False), path)
            last = True
        offset = 0 if part.kind in ("whole", "parquet") else lines
        lines += result.stats.lines
        _merge(stats, result.stats, offset)
        for line, seen, hits in result.rows:
            yield f"{path}:{line + offset}", seen, hits
        if result.error is not None:
            client.cancel(futures[i + 1 :])
            raise InvalidInput(result.error)
        if last:
            return


def _result(future: Future[PartResult], path: str) -> PartResult:
    """A task's result; a task that failed (its workers lost too often, Accord missing on a
    worker) is a one-line AccordError."""
    try:
        return future.result()
    except AccordError:
        raise
    except Exception as exc:
        raise AccordError(
            f"a Dask task matching {path} failed: {type(exc).__name__}: {exc}"
        ) from None


def _merge(stats: ReadStats, found: ReadStats, offset: int) -> None:
    stats.lines += found.lines
    stats.records += found.records
    stats.malformed += found.malformed
    for name, line, reason in found.examples:
        if len(stats.examples) < KEEP_MALFORMED:
            stats.examples.append((name, line + offset, reason))
