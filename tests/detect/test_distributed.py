"""Matching on Dask: the same matches and counts as one process, over partitions of logs.

One ``LocalCluster`` of two worker processes on loopback serves the module.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.detect import distributed
from accord.detect.bulk import read_log_screened
from accord.detect.distributed import local_cluster, match_on_dask
from accord.detect.matcher import MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import ReadStats
from accord.domain.tlp import TLP
from accord.errors import AccordError, InvalidInput
from tests.builders import bundle, indicator
from tests.test_cli import run

INDICATORS = [
    ("indicator--ip", "[ipv4-addr:value = '10.0.0.1']"),
    ("indicator--net", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
    ("indicator--dom", "[domain-name:value = 'evil.example']"),
    ("indicator--url", "[url:value = 'http://evil.example/a']"),
    ("indicator--and", "[ipv4-addr:value = '10.0.0.7' AND ipv4-addr:value ISSUBSET '10.0.0.0/8']"),
]
# stix2-matcher patterns let every row through the screen: small logs only.
FALLBACK = [("indicator--fallback", "[domain-name:value = 'slow.example'] WITHIN 5 SECONDS")]
VALUES = [
    "10.0.0.1",
    "10.0.0.7",
    "10.1.2.3",
    "10.1.3.3",
    "evil.example",
    "a.evil.example",
    "slow.example",
    "http://evil.example/a",
    "ok.example",
    "192.0.2.1",
    "",
    "x y",
]
TIMES = ["1763632800", "2026-11-20T10:00:00Z", "", "soon"]
# Lines a log may hold besides well-formed rows: each reader must treat them alike.
ODD_CSV = [
    "",
    "1763632800,10.0.0.1",  # a column short
    '1763632800,"10.0.0.1",evil.example',
    '1763632800,"10.1.2.9\nstill quoted",ok.example',  # a quoted line break
    'x"y,10.0.0.1,evil.example',  # a quote inside a value
    "1763632800,10.0.0.1,\x00",
    "1763632800,10.0.0.1,evil.example\r",
]
ODD_JSON = ["", "nope", "[1, 2]", '{"domain": "evil.example", "nested": {"src": "10.0.0.1"}}']


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with local_cluster(2) as cluster:
        yield cluster.scheduler_address


def _single(
    logs: list[str], indicators: list[tuple[str, str]] = INDICATORS, **kwargs: Any
) -> tuple[list[Any], ReadStats]:
    matchers = MatcherSet(indicators)
    stats = ReadStats()
    found = []
    for log in logs:
        for record in read_log_screened(log, stats, matchers, **kwargs):
            for hit in matchers.match(objects_of(record.fields, record.field_map)):
                found.append((record.ref, record.seen, hit))
    return found, stats


def _dask(
    logs: list[str],
    scheduler: str,
    indicators: list[tuple[str, str]] = INDICATORS,
    **kwargs: Any,
) -> tuple[list[Any], ReadStats]:
    stats = ReadStats()
    found = [
        (ref, seen, hit)
        for ref, seen, hits in match_on_dask(
            indicators, False, logs, stats, scheduler=scheduler, **kwargs
        )
        for hit in hits
    ]
    return found, stats


rows = st.lists(
    st.tuples(st.sampled_from(TIMES), st.sampled_from(VALUES), st.sampled_from(VALUES)),
    min_size=0,
    max_size=120,
)


def _write(
    folder: Path, table: list[tuple[str, str, str]], odd: list[tuple[int, int]], group: int
) -> list[str]:
    csv_lines = [f"{t},{src},{dom}" for t, src, dom in table]
    json_lines = [f'{{"ts": "{t}", "src": "{src}", "domain": "{dom}"}}' for t, src, dom in table]
    for at, which in sorted(odd, reverse=True):
        csv_lines.insert(at % (len(csv_lines) + 1), ODD_CSV[which % len(ODD_CSV)])
        json_lines.insert(at % (len(json_lines) + 1), ODD_JSON[which % len(ODD_JSON)])
    (folder / "log.csv").write_text("ts,src,domain\n" + "\n".join(csv_lines) + "\n")
    (folder / "log.jsonl").write_text("\n".join(json_lines))
    columns = list(zip(*table, strict=True)) if table else [(), (), ()]
    parquet = pa.table(
        {
            "ts": pa.array(columns[0], pa.string()),
            "src": pa.array(columns[1], pa.string()),
            "domain": pa.array(columns[2], pa.string()),
        }
    )
    pq.write_table(parquet, folder / "log.parquet", row_group_size=group)
    return [str(folder / name) for name in ("log.csv", "log.jsonl", "log.parquet")]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=rows,
    odd=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=4),
    partition=st.integers(16, 2048),
    group=st.integers(1, 50),
)
def test_dask_matches_what_one_process_matches(
    scheduler: str,
    tmp_path_factory: pytest.TempPathFactory,
    table: list[tuple[str, str, str]],
    odd: list[tuple[int, int]],
    partition: int,
    group: int,
) -> None:
    logs = _write(tmp_path_factory.mktemp("logs"), table, odd, group)
    indicators = INDICATORS + FALLBACK
    single = _single(logs, indicators)
    assert _dask(logs, scheduler, indicators, partition_size=partition) == single


def _big_csv(path: Path) -> list[str]:
    rows = [f"{1763632800 + i},10.2.{i % 200}.1,ok{i}.example" for i in range(6000)]
    for i in range(0, 6000, 297):
        rows[i] = f"1763632800,10.0.0.1,{'evil.example' if i % 2 else 'ok.example'}"
    rows[4321] = "1763632800,10.0.0.1"  # one column short
    path.write_text("ts,src,domain\n" + "\n".join(rows) + "\n")
    return [str(path)]


def test_other_formats_and_urls_read_as_one_process_reads_them(
    scheduler: str, tmp_path: Path
) -> None:
    logs = _big_csv(tmp_path / "fw.csv")
    text = (tmp_path / "fw.csv").read_bytes()
    (tmp_path / "fw.csv.gz").write_bytes(gzip.compress(text))
    (tmp_path / "values.txt").write_text("# values\n10.0.0.1\n\nevil.example\nok.example\n")
    (tmp_path / "conn.log").write_text(
        "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.resp_h\n"
        "1763632800\t10.0.0.1\t192.0.2.1\n"
    )
    # A quoted line break two thirds in: from the part that holds it, one task reads on.
    lines = text.decode().split("\n")
    lines[4000] = '1763632800,"10.0.0.1\nstill quoted",evil.example'
    (tmp_path / "quoted.csv").write_text("\n".join(lines))
    logs += [str(tmp_path / n) for n in ("fw.csv.gz", "values.txt", "conn.log", "quoted.csv")]
    logs.append(f"file://{tmp_path / 'fw.csv'}")
    single = _single(logs)
    assert len(single[0]) > 60 and single[1].malformed == 4
    assert _dask(logs, scheduler, partition_size=4096) == single


def _break_parts(broken: bool) -> None:
    """Run on every worker: tasks fail as they would where Accord is not installed."""
    if broken:
        original = distributed.match_part

        def failing(*_: object) -> None:
            raise ModuleNotFoundError("No module named 'accord'")

        failing.original = original  # type: ignore[attr-defined]
        distributed.match_part = failing  # type: ignore[assignment]
    else:
        distributed.match_part = distributed.match_part.original  # type: ignore[attr-defined]


def test_a_failing_task_is_one_error(scheduler: str, tmp_path: Path) -> None:
    (tmp_path / "fw.csv").write_text("src\n10.0.0.1\n")
    logs = [str(tmp_path / "fw.csv")]
    with Client(scheduler) as client:
        client.wait_for_workers(2)
        client.run(_break_parts, True)
        try:
            with pytest.raises(AccordError, match="a Dask task matching .* failed: Module"):
                _dask(logs, scheduler)
        finally:
            client.run(_break_parts, False)


def test_damage_raises_after_what_came_before_as_one_process_does(
    scheduler: str, tmp_path: Path
) -> None:
    _big_csv(tmp_path / "fw.csv")
    packed = gzip.compress((tmp_path / "fw.csv").read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    expected: list[Any] = []
    matchers = MatcherSet(INDICATORS)
    stats = ReadStats()
    with pytest.raises(InvalidInput) as single:
        for record in read_log_screened(str(cut), stats, matchers):
            expected += matchers.match(objects_of(record.fields, record.field_map))
    got: list[Any] = []
    with pytest.raises(InvalidInput) as dask:
        for _, _, hits in match_on_dask(
            INDICATORS, False, [str(cut)], ReadStats(), scheduler=scheduler
        ):
            got += hits
    assert dask.value.detail == single.value.detail and "cut short" in dask.value.detail
    assert got == expected and got


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_input_is_refused_before_anything_is_matched(tmp_path: Path) -> None:
    log = _big_csv(tmp_path / "fw.csv")
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(InvalidInput, match="cannot reach the Dask scheduler"):
        list(match_on_dask(INDICATORS, False, log, ReadStats(), scheduler=nowhere, timeout=0.5))
    bad = [
        ("log.xml", b"<log/>", {"fmt": "xml"}, "unknown log format"),
        ("absent.csv", None, {}, "cannot read"),
        ("cut.parquet", b"PAR1 and then nothing", {}, "not a readable Parquet file"),
        ("fw.csv", None, {"mapping": {"dst": "ipv4-addr:value"}}, "no column dst"),
        ("-", None, {}, "not from stdin"),
        ("zip://fw.csv::logs.zip", b"no zip", {}, "cannot read .*not a zip file"),
    ]
    for name, content, kwargs, message in bad:
        if content is not None:
            (tmp_path / name.rsplit("::", 1)[-1]).write_bytes(content)
        path = name if name == "-" else str(tmp_path / name)
        if "::" in name:
            path = name.replace("::", f"::{tmp_path}/")
        stats = ReadStats()
        with pytest.raises(InvalidInput, match=message):
            # Refused while planning, before any scheduler is reached.
            list(match_on_dask(INDICATORS, False, [*log, path], stats, scheduler=nowhere, **kwargs))
        assert stats.records == 0


@pytest.mark.parametrize("answer", [b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4, None])
def test_a_scheduler_address_where_no_dask_scheduler_answers_is_one_error(
    tmp_path: Path, answer: bytes | None
) -> None:
    """Another protocol (the dashboard's HTTP) or silence at the address: InvalidInput
    within the timeout, not a MemoryError or a wait for as long as the server stays."""
    import threading
    import time

    log = _big_csv(tmp_path / "fw.csv")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = server.accept()
                    held.append(conn)
                    if answer is not None:
                        conn.sendall(answer)

        threading.Thread(target=serve, daemon=True).start()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(InvalidInput, match="cannot reach the Dask scheduler"):
            list(match_on_dask(INDICATORS, False, log, ReadStats(), scheduler=address, timeout=1))
        assert time.monotonic() - started < 10
        for conn in held:
            conn.close()


def test_cli_dask_prints_what_local_prints_and_reports_sightings_once(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scheduler: str,
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)
    run(capsys, "org", "add", "SingCERT", "--kind", "national-cert", "--state", "SG")
    run(capsys, "org", "add", "MyCERT", "--kind", "national-cert", "--state", "MY")
    feed = [indicator("10.0.0.1", tlp=TLP.GREEN), indicator("evil.example", tlp=TLP.GREEN)]
    feed[1]["pattern"] = "[domain-name:value = 'evil.example']"
    (tmp_path / "feed.json").write_bytes(orjson.dumps(bundle(*feed)))
    assert run(capsys, "share", "feed.json", "--org", "SingCERT")[0] == 0
    _big_csv(tmp_path / "fw.csv")
    pq.write_table(
        pa.table({"src": ["10.0.0.1", "10.9.9.9"], "domain": ["a.example", "evil.example"]}),
        tmp_path / "fw.parquet",
    )
    logs = ["fw.csv", "fw.parquet"]
    code, local, err = run(capsys, "match", *logs, "--org", "MyCERT")
    assert code == 0, err
    dask = ["--engine", "dask", "--scheduler", scheduler, "--partition-mb", "1"]
    code, out, err = run(capsys, "match", *logs, "--org", "MyCERT", *dask, "--sightings")
    assert code == 0, err
    assert out == local and "fw.parquet:2" in out and "2 sightings reported" in err
    code, out, _ = run(capsys, "objects", "list", "--org", "SingCERT", "--type", "sighting")
    assert out.count("sighting--") == 2
    # Bad input: one line, a non-zero exit, and no sighting half-written.
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 0.5)
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    packed = gzip.compress((tmp_path / "fw.csv").read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    for argv, message in [
        (["fw.csv", "--engine", "dask", "--scheduler", nowhere], "cannot reach the Dask"),
        (["fw.csv", "cut.csv.gz", *dask], "cut short"),
        (["fw.csv", "--engine", "spark"], "unknown engine"),
        (["fw.csv", "--scheduler", scheduler], "need the dask engine"),
    ]:
        code, _, err = run(capsys, "match", *argv, "--org", "MyCERT", "--sightings")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    code, out, _ = run(capsys, "objects", "list", "--org", "SingCERT", "--type", "sighting")
    assert out.count("sighting--") == 2


# Last: the worker it kills comes back only after a while.
def _kill_on_first_part() -> None:
    """Run on one worker: the next part it takes kills its process."""

    def dying(*_: object) -> None:
        os._exit(1)

    distributed.match_part = dying  # type: ignore[assignment]


def test_a_worker_lost_mid_job_is_retried_and_nothing_counted_twice(
    scheduler: str, tmp_path: Path
) -> None:
    logs = _big_csv(tmp_path / "fw.csv")
    single = _single(logs)
    with Client(scheduler) as client:
        client.wait_for_workers(2)
        before = sorted(client.scheduler_info()["workers"])
        client.run(_kill_on_first_part, workers=[before[0]])
        assert _dask(logs, scheduler, partition_size=2048) == single
        client.wait_for_workers(2)
        after = sorted(client.scheduler_info()["workers"])
    assert before[0] not in after  # that worker died, its nanny started a new one
