"""What the bench scripts share: real node processes, measuring them, and printing results.

The scripts in ``bench/`` are standalone (``python bench/x.py``); Python puts the script's
own directory on ``sys.path``, so each imports this module as ``support``.

- the workload: STIX 2.1 indicators with varied patterns, generated reproducibly;
- a node as its own server process (``python -m accord serve``) on a loopback port, and
  the CLI run against the same database (organisations, tokens, ``accord sync``);
- the peak resident memory of a process tree, and CPU seconds by phase;
- HTTP load from a light keep-alive load generator, so the client does not starve the server;
- nearest-rank percentiles (the product's) and plain-text tables;
- a database for a node: a SQLite file, or a scratch database on a PostgreSQL server
  that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from accord.coordinate.checks import percentile  # the product's, so both count alike

HOST = "127.0.0.1"
STAMP = "2026-11-01T10:00:00.000Z"
TLP_GREEN_MARKING = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


class SetupError(Exception):
    """An expected failure (no database, server did not start): one line, no traceback."""


class Skip(Exception):
    """This variant cannot run here (e.g. PostgreSQL unreachable); the others still do."""


# Statistics and output -------------------------------------------------------------------
def p50_p99_ms(seconds: Sequence[float]) -> tuple[float, float]:
    """The 50th and 99th percentiles of durations in seconds, in milliseconds."""
    return percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *map(line, rows)])


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def load_note() -> str:
    """The 1-minute load average now, and a warning when the machine is already busy."""
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    text = f"{cpus} CPU(s), load average {load:.2f} at start"
    if load > 0.5 * cpus:
        text += " (the machine was busy before the bench started; other work skews the numbers)"
    return text


# Workload --------------------------------------------------------------------------------
def _pattern(rng: random.Random, n: int) -> str:
    kind = n % 4
    if kind == 0:
        octets = f"{rng.randrange(1, 224)}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        return f"[ipv4-addr:value = '{octets}']"
    if kind == 1:
        return f"[domain-name:value = 'host{n}.bad-{rng.randrange(10**6)}.example']"
    if kind == 2:
        return f"[url:value = 'https://cdn{n % 97}.example.net/p/{n}/{rng.randrange(10**9)}']"
    digest = f"{rng.getrandbits(256):064x}"
    return f"[file:hashes.'SHA-256' = '{digest}']"


def indicator(
    rng: random.Random, n: int, creator: str | None = None, *, green: bool = False
) -> dict[str, Any]:
    """Indicator number ``n``: a random id, one of four pattern kinds; optionally marked
    TLP:GREEN (as TAXII collections and federation-scoped sharing require)."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created": STAMP,
        "modified": STAMP,
        "name": f"bench indicator {n}",
        "indicator_types": ["malicious-activity"],
        "pattern": _pattern(rng, n),
        "pattern_type": "stix",
        "valid_from": STAMP,
    }
    if creator is not None:
        obj["created_by_ref"] = creator
    if green:
        obj["object_marking_refs"] = [TLP_GREEN_MARKING]
    return obj


# Server processes ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def accord_env(
    database_url: str, port: int, name: str = "bench", **settings: str
) -> dict[str, str]:
    """The environment of a node's server and CLI; ``settings`` are more ACCORD_ values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        ACCORD_DATABASE_URL=database_url,
        ACCORD_HOST=HOST,
        ACCORD_PORT=str(port),
        ACCORD_NODE_NAME=name,
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.update({f"ACCORD_{k.upper()}": v for k, v in settings.items()})
    return env


def accord_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run ``python -m accord ARGS``; its stdout, or SetupError with its one-line error."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "accord", *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise SetupError(f"`accord {' '.join(args[:2])}` ran past {timeout:.0f}s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise SetupError(f"`accord {' '.join(args[:2])}` failed: {lines[-1] if lines else '?'}")
    return proc.stdout


def add_org(name: str, env: dict[str, str], cwd: Path) -> str:
    """Create a national CERT organisation with the CLI; its STIX identity id."""
    out = accord_cli(["org", "add", name, "--kind", "national-cert", "--state", "SG"], env, cwd)
    found = re.search(r"identity--[0-9a-f-]{36}", out)
    if not found:
        raise SetupError(f"`accord org add` printed no identity id: {out.strip()!r}")
    return found.group(0)


def add_token(org: str, env: dict[str, str], cwd: Path, role: str = "analyst") -> str:
    """Issue an API token for ``org`` with the CLI; the token."""
    out = accord_cli(["token", "create", org, "--role", role, "--name", "bench"], env, cwd)
    token = next((t for t in out.split() if t.startswith("accord_")), None)
    if token is None:
        raise SetupError("`accord token create` printed no token")
    return token


class Server:
    """A server process (by default ``python -m accord serve``) in ``workdir``, logging to
    ``workdir/server.log``; always stopped by ``stop``."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        port: int,
        command: list[str] | None = None,
        health: str = "/api/v1/health",
    ) -> None:
        self.base = f"http://{HOST}:{port}"
        self.log_path = workdir / "server.log"
        self._health = health
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "accord", "serve"],
            env=env,
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
        """Wait until the health URL answers anything below 500, or raise SetupError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SetupError(f"the server exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                url = f"{self.base}{self._health}"
                if httpx.get(url, timeout=2, headers=headers).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SetupError(f"the server did not answer {self._health} in {timeout:.0f}s")

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class CpuMeter:
    """CPU seconds used by the server, PostgreSQL's processes and this client, by phase."""

    def __init__(self, server_pid: int, postgres: bool) -> None:
        self._server = psutil.Process(server_pid)
        self._with_postgres = postgres
        self.used: dict[str, dict[str, float]] = {}
        self.wall: dict[str, float] = {}

    def _now(self) -> dict[tuple[str, int], float]:
        """CPU seconds so far of each process that counts, by (who, pid)."""
        procs = [("server", self._server), ("client", psutil.Process())]
        with contextlib.suppress(psutil.Error):
            procs += [("server", c) for c in self._server.children(recursive=True)]
        if self._with_postgres:  # PostgreSQL backends come and go: look them up each time
            procs += [
                ("postgres", p)
                for p in psutil.process_iter(["name"])
                if p.info["name"] in ("postgres", "postmaster")
            ]
        seconds = {}
        for who, p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                seconds[(who, p.pid)] = t.user + t.system
        return seconds

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        before, start = self._now(), time.perf_counter()
        try:
            yield
        finally:
            after = self._now()
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - start
            used = self.used.setdefault(name, {"server": 0.0, "postgres": 0.0, "client": 0.0})
            for key, value in after.items():  # a process born in the phase counts in full
                used[key[0]] += max(0.0, value - before.get(key, 0.0))

    def summary(self, name: str) -> str:
        """Average cores busy during phase ``name``."""
        wall = self.wall.get(name)
        if not wall:
            return "-"
        used = self.used[name]
        parts = [f"{k} {used[k] / wall:.2f}" for k in ("server", "postgres", "client")]
        if not self._with_postgres:
            parts.pop(1)
        return ", ".join(parts)


class RssSampler:
    """Peak resident memory of a process and its children, sampled every ``interval``."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self._proc = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self._proc, *self._proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


# HTTP load -------------------------------------------------------------------------------
async def request_each(
    port: int,
    method: str,
    paths: Sequence[str],
    concurrency: int,
    check: Callable[[int, bytes], None],
) -> list[float]:
    """Send ``METHOD path`` (no body) for every path to HOST:port from ``concurrency``
    keep-alive HTTP/1.1 connections, one request in flight on each; the latency of each.

    ``check(status, body)`` sees every response; what it raises ends the run. This is a
    load generator, not a client: a fixed request, responses framed by Content-Length (as
    uvicorn sends them). It spends tens of microseconds of CPU a request where httpx spends
    about a millisecond, which on a 2-core machine is a core the server under test needs.
    """
    latencies: list[float] = []
    queue = list(reversed(paths))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                writer.write(
                    f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    "Content-Length: 0\r\n\r\n".encode()
                )
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                status_line, *lines = head.split("\r\n")
                headers = dict(line.split(":", 1) for line in lines if ":" in line)
                if "content-length" not in headers:
                    raise SetupError(f"a response without Content-Length: {status_line}")
                body = await reader.readexactly(int(headers["content-length"]))
                latencies.append(time.perf_counter() - started)
                check(int(status_line.split()[1]), body)
                if headers.get("connection", "").strip() == "close":
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies


# Assistance requests ---------------------------------------------------------------------
def store_requests(engine: Any, org_ids: Sequence[int], count: int) -> None:
    """Insert ``count`` assistance requests in bulk, one a minute up to now, between
    neighbouring organisations, across the workflow's states. Those already late are
    marked escalated, as they were when they fell late, so the node's scheduler does not
    replay months of escalations while a bench measures."""
    from sqlalchemy import insert

    from accord.coordinate.workflow import State, overdue_phase
    from accord.store.requests import coord_requests

    now = datetime.now(UTC)
    states = ["submitted", "acknowledged", "in_progress", "responded", "closed"]
    rows: list[dict[str, Any]] = []
    with engine.execution_options(writer=True).begin() as conn:
        for i in range(count):
            submitted = now - timedelta(minutes=count - i)
            ack_due, respond_due = submitted + timedelta(hours=8), submitted + timedelta(hours=72)
            state = states[i % len(states)]
            rows.append(
                {
                    "case_id": f"case--bench-{i}",
                    "kind": "assistance",
                    "requester_org": org_ids[(i + 1) % len(org_ids)],
                    "recipient_org": org_ids[i % len(org_ids)],
                    "urgency": "high",
                    "tlp": "TLP:AMBER",
                    "title": f"Request {i}",
                    "details": {
                        "description": "bench",
                        "sector": "energy",
                        "incident_category": "availability/ddos",
                        "asks": ["mitigation"],
                    },
                    "evidence": [],
                    "state": state,
                    "created": submitted,
                    "submitted": submitted,
                    "ack_due": ack_due,
                    "respond_due": respond_due,
                    "escalated": overdue_phase(State(state), now, ack_due, respond_due),
                }
            )
            if len(rows) == 5_000:
                conn.execute(insert(coord_requests), rows)
                rows = []
        if rows:
            conn.execute(insert(coord_requests), rows)


# Databases -------------------------------------------------------------------------------
@dataclass
class Database:
    url: str
    # Refreshes planner statistics before reads where nothing else would (PostgreSQL with
    # autovacuum off); a no-op otherwise.
    analyze: Callable[[], None] = lambda: None


@contextlib.contextmanager
def sqlite_database(workdir: Path, name: str = "accord.db") -> Iterator[Database]:
    yield Database(f"sqlite:///{workdir / name}")


@contextlib.contextmanager
def postgres_database(admin_url: str, analyze: bool) -> Iterator[Database]:
    """A scratch database on the PostgreSQL server, dropped afterwards; Skip when the server
    cannot be reached."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(admin_url)
    if url.host not in (HOST, "localhost"):
        raise SetupError("--pg-url must point at 127.0.0.1")
    name = f"accord_bench_{os.getpid()}_{random.randrange(10**6)}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise Skip(f"PostgreSQL is not reachable at {url.host}:{url.port} ({reason})") from None
    scratch = url.set(database=name)
    database = Database(scratch.render_as_string(hide_password=False))
    stats = create_engine(scratch, isolation_level="AUTOCOMMIT")
    try:
        with stats.connect() as conn:
            autovacuum = conn.execute(text("SHOW autovacuum")).scalar()
        if autovacuum != "on" and analyze:
            print(
                "note: autovacuum is off on this PostgreSQL server; the bench runs ANALYZE "
                "(untimed) before each read phase in its place (--no-analyze: don't)",
                flush=True,
            )

            def run_analyze() -> None:
                with stats.connect() as conn:
                    conn.execute(text("ANALYZE"))

            database.analyze = run_analyze
        yield database
    finally:
        stats.dispose()
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except SQLAlchemyError as exc:
            print(f"note: could not drop scratch database {name}: {exc}", file=sys.stderr)
        engine.dispose()


def name_list(text: str) -> list[str]:
    """An argparse type: a comma-separated list of names, not empty."""
    names = [x.strip() for x in text.split(",") if x.strip()]
    if not names:
        raise argparse.ArgumentTypeError("an empty list")
    return names


def int_list(text: str) -> list[int]:
    """An argparse type: comma-separated positive integers (``_`` allowed), sorted, unique."""
    try:
        values = sorted({int(x.replace("_", "")) for x in name_list(text)})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if values[0] < 1:
        raise argparse.ArgumentTypeError(f"values must be positive: {text!r}")
    return values
