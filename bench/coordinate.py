"""Coordination at regional scale: a communication check over 10,000 contacts, and the
request inbox with 100,000 requests stored. A script that prints a table, not a test.

What it measures (SQLite in a temporary directory; ``--contacts`` and ``--requests``
change the sizes):

- setup (untimed): 50 organisations in 10 states and ``--contacts`` points of contact,
  each with an e-mail address, stored through the directory repository;
- **send**: starting the check (one token per contact, stored as hashes, every e-mail
  queued in one transaction), then delivering every e-mail over SMTP to an aiosmtpd
  sink on a loopback port; the sink counts what it received and the bench checks that
  every contact got exactly one message;
- **acknowledge**: a real node process (``python -m accord serve --workers N``, N from
  ``--workers``, default 1) answers ``POST /api/v1/checks/ack/{token}`` for every token, from
  ``--concurrency`` keep-alive connections with one request in flight on each; every
  answer must be a 200 with the acknowledgement in it. Acknowledgements/s, p50/p99
  latency (target >= 1,000/s) and the cores the server and the client used. The client
  is the light load generator in ``support`` (httpx would spend about a millisecond of
  CPU a request, on the same two cores the server needs);
- **report**: time to compute the check's results (rates per state and kind, median and
  p90 response time, who never answered);
- **inbox**: ``--requests`` requests are stored (bulk, untimed) addressed to the 50
  organisations; then ``GET /api/v1/requests?box=inbox`` (first page of 50, newest
  first) is timed ``--samples`` times as one organisation, and as many times with a
  state filter; p50/p99 (target p99 <= 50 ms).

Between nodes (``--between-nodes``, or alone with ``--nodes-only``): three real node
processes a, b, c (SQLite each, default settings: push on, coordination tick 30 s),
peered both ways, each mailing through its own aiosmtpd sink; SingCERT homed on a,
MyCERT on b, ThaiCERT on c, each with a 24/7 desk on its own node:

- **request**: ``--node-samples`` (50) critical assistance requests filed at a
  (``POST /api/v1/requests``) to MyCERT, one after another; timed from just before the
  POST until b's sink has received the e-mail to MyCERT's desk (b's own SMTP). Targets:
  p50 under 1 s, p99 under 5 s;
- **acknowledge**: each is acknowledged at b (``POST .../actions``); timed until
  ``GET /api/v1/requests/{id}`` at a shows it acknowledged (polled every 10 ms). Same
  targets;
- **check** (``--check-contacts``, default 1,000; 0 skips it): that many technical
  contacts marked for the federation, a third homed on each node, added through each
  node's API (each copy travels to the other two on the push path; untimed beyond the
  setup row). SingCERT starts a check at a over all of them (``POST /api/v1/checks``);
  timed until every node's own sink has received the e-mails of the contacts it homes.
  Then every acknowledgement link is POSTed to the node in its e-mail (4 connections a
  node, the three nodes at once); timed until ``GET /api/v1/checks/{id}`` at a shows
  them all: acknowledgements/s accepted across nodes;
- **match**: SingCERT shares a TLP:GREEN indicator with the federation at a; once b
  holds it, ``--node-samples`` times ``POST /api/v1/match`` at b (an analyst of MyCERT,
  ``"sightings": true``) until the sighting is readable by SingCERT at a (polled every
  10 ms). Target p50 under 1 s.

Run: ``.venv/bin/python bench/coordinate.py`` (about a minute on 2 cores), or
``.venv/bin/python bench/coordinate.py --nodes-only`` for the between-nodes figures.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from accord.coordinate.contacts import ContactInput
from accord.coordinate.directory import contact_fields
from accord.domain.stix import format_timestamp
from accord.node import Node
from accord.settings import Settings
from accord.store.contacts import ContactRepository
from support import (
    CpuMeter,
    Server,
    accord_env,
    free_port,
    percentile,
    request_each,
    store_requests,
)

ACK_LINK = re.compile(r"http://[^/\s]+(/api/v1/checks/ack/ack_[A-Za-z0-9_-]+)")
STATES = ["SG", "MY", "TH", "ID", "PH", "VN", "BN", "KH", "LA", "MM"]


class TimedSink:
    """Each message's arrival (monotonic time) by its recipient and subject."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str]] = []
        self.links: list[str] = []  # acknowledgement links, in the order they arrived
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.monotonic()
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        subject = str(parsed["Subject"] or "")
        body = parsed.get_body(("plain",))
        found = ACK_LINK.search(body.get_content() if body is not None else "")
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals.append((now, rcpt, subject))
            if found:
                self.links.append(found.group(1))
        return "250 OK"

    def count(self, needle: str) -> int:
        with self.lock:
            return sum(needle in subject for _, _, subject in self.arrivals)

    def arrived(self, rcpt: str, needle: str) -> float | None:
        with self.lock:
            for at, to, subject in self.arrivals:
                if to == rcpt and needle in subject:
                    return at
        return None


def _wait(what: str, check: Any, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.002)
    raise SystemExit(f"not within {within:.0f} s: {what}")


def between_nodes(samples: int, check_contacts: int = 0) -> list[tuple[str, str, str]]:
    """Requests between three real node processes (see the module's docstring)."""
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="accord-bench-coordfed-") as tmp:
        nodes: dict[str, dict[str, Any]] = {}
        servers: list[Server] = []
        controllers: list[Controller] = []
        try:
            for name, org, state in (
                ("a", "SingCERT", "SG"),
                ("b", "MyCERT", "MY"),
                ("c", "ThaiCERT", "TH"),
            ):
                work = Path(tmp) / name
                work.mkdir()
                sink = TimedSink()
                smtp_port, http_port = free_port(), free_port()
                controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
                controller.start()
                controllers.append(controller)
                env = accord_env(
                    f"sqlite:///{work}/node.db", http_port, name, smtp_port=str(smtp_port)
                )
                handle = Node.open(
                    Settings(_env_file=None, database_url=env["ACCORD_DATABASE_URL"])  # type: ignore[call-arg]
                )
                created = handle.accounts.add_org(None, org, "national-cert", state)
                token = handle.accounts.create_token(None, org, "liaison", "bench", None)
                analyst = handle.accounts.create_token(None, org, "analyst", "bench", None)
                server = Server(env, work, http_port)
                servers.append(server)
                nodes[name] = {
                    "node": handle,
                    "sink": sink,
                    "base": server.base,
                    "org": created.identity_id,
                    "desk": f"desk@{org.lower()}.example.org",
                    "auth": {"Authorization": f"Bearer {token.plaintext}"},
                    "analyst": {"Authorization": f"Bearer {analyst.plaintext}"},
                }
            for server in servers:
                server.wait_healthy()
            for x, y in (("a", "b"), ("b", "c"), ("a", "c")):
                nx, ny = nodes[x]["node"], nodes[y]["node"]
                _, for_y = nx.federation.add_peer(y, nodes[y]["base"], ny.key.public_b64, None)
                _, for_x = ny.federation.add_peer(x, nodes[x]["base"], nx.key.public_b64, for_y)
                nx.federation.set_peer_token(y, for_x)
            a, b = nodes["a"], nodes["b"]
            _wait(
                "a learns MyCERT and b SingCERT",
                lambda: (
                    a["node"].accounts.orgs.by_identity([b["org"]])
                    and b["node"].accounts.orgs.by_identity([a["org"]])
                ),
            )
            with httpx.Client(timeout=30) as http:
                for n in nodes.values():
                    created = http.post(
                        f"{n['base']}/api/v1/contacts",
                        json={
                            "kind": "24-7-desk",
                            "name": "Duty desk",
                            "email": n["desk"],
                            "languages": ["en"],
                            "timezone": "Asia/Singapore",
                        },
                        headers=n["auth"],
                    )
                    assert created.status_code == 201, created.text
                filed_times, ack_times = [], []
                for i in range(samples):
                    title = f"Grid outage {i} {time.time_ns()}"
                    t0 = time.monotonic()
                    filed = http.post(
                        f"{a['base']}/api/v1/requests",
                        json={
                            "kind": "assistance",
                            "title": title,
                            "recipients": [b["org"]],
                            "urgency": "critical",
                            "incident_category": "availability/ddos",
                            "sector": "energy",
                            "asks": ["mitigation"],
                        },
                        headers=a["auth"],
                    )
                    assert filed.status_code == 201, filed.text
                    at = _wait(
                        "b mails MyCERT's desk", lambda t=title: b["sink"].arrived(b["desk"], t)
                    )
                    filed_times.append(at - t0)
                    case = filed.json()["items"][0]["case"]
                    mine = f"{a['base']}/api/v1/requests/{filed.json()['items'][0]['id']}"
                    inbox = http.get(
                        f"{b['base']}/api/v1/requests?box=inbox&limit=5", headers=b["auth"]
                    ).json()["items"]
                    (theirs,) = [r for r in inbox if r["case"] == case]
                    t0 = time.monotonic()
                    acked = http.post(
                        f"{b['base']}/api/v1/requests/{theirs['id']}/actions",
                        json={"action": "acknowledge"},
                        headers=b["auth"],
                    )
                    assert acked.status_code == 200, acked.text

                    def shown(url: str = mine) -> bool:
                        got = http.get(url, headers=a["auth"]).json()
                        return bool(got["state"] == "acknowledged")

                    t1 = _wait_every("a shows it acknowledged", shown, 0.01)
                    ack_times.append(t1 - t0)
                if check_contacts:
                    rows += _check_across_nodes(http, nodes, check_contacts)
                rows += _match_across_nodes(http, nodes, samples)
            for label, times in (
                ("request filed at a -> e-mail leaves b's SMTP", filed_times),
                ("acknowledged at b -> state shown at a", ack_times),
            ):
                rows.append(
                    (
                        label,
                        f"{len(times)} requests",
                        f"p50 {statistics.median(times) * 1000:.0f} ms, "
                        f"p99 {percentile(times, 99) * 1000:.0f} ms "
                        "(targets p50 < 1 s, p99 < 5 s)",
                    )
                )
        finally:
            for server in servers:
                server.stop()
            for controller in controllers:
                controller.stop()
            for n in nodes.values():
                n["node"].close()
    return rows


def _check_across_nodes(
    http: httpx.Client, nodes: dict[str, dict[str, Any]], total: int
) -> list[tuple[str, str, str]]:
    """A check organised at a over ``total`` contacts homed a third on each node."""
    per_node = {name: total // 3 + (i < total % 3) for i, name in enumerate(nodes)}
    started = time.perf_counter()
    for name, n in nodes.items():  # through the API: each change travels on the push path
        for i in range(per_node[name]):
            created = http.post(
                f"{n['base']}/api/v1/contacts",
                json={
                    "kind": "technical",
                    "name": f"Check contact {name}{i}",
                    "email": f"poc{i}@{name}.check.example.org",
                    "languages": ["en"],
                    "timezone": "Asia/Singapore",
                    "federation": True,
                },
                headers=n["auth"],
            )
            assert created.status_code == 201, created.text
    a = nodes["a"]

    def copies_at_a() -> bool:
        held = http.get(f"{a['base']}/api/v1/contacts?kind=technical", headers=a["auth"]).json()
        return len(held) == total

    _wait("every contact copied to a", copies_at_a, within=600)
    setup = time.perf_counter() - started
    title = f"Regional ping {time.time_ns()}"
    deadline = format_timestamp(a["node"].clock() + timedelta(days=1))
    t0 = time.monotonic()
    check = http.post(
        f"{a['base']}/api/v1/checks",
        json={"title": title, "deadline": deadline, "kind": "technical"},
        headers=a["auth"],
    )
    assert check.status_code == 201, check.text
    check_id = check.json()["id"]
    left_at: dict[str, float] = {}
    for name, n in nodes.items():
        _wait(
            f"{name} mails its {per_node[name]} contacts",
            lambda n=n, name=name: n["sink"].count(title) >= per_node[name],
            within=600,
        )
        left_at[name] = time.monotonic() - t0
    mailed = sum(n["sink"].count(title) for n in nodes.values())
    assert mailed == total, (mailed, total)

    async def ack_all() -> list[list[float]]:
        return await asyncio.gather(
            *(
                request_each(
                    int(n["base"].rsplit(":", 1)[1]), "POST", list(n["sink"].links), 4, acknowledged
                )
                for n in nodes.values()
            )
        )

    t0 = time.monotonic()
    asyncio.run(ack_all())
    at_homes = time.monotonic() - t0

    def all_back() -> bool:
        got = http.get(f"{a['base']}/api/v1/checks/{check_id}", headers=a["auth"]).json()
        return bool(got["acknowledged"] == total)

    back = _wait_every("every acknowledgement shown at a", all_back, 0.05, within=600) - t0
    spread = ", ".join(f"{k}: {per_node[k]}" for k in nodes)
    return [
        ("check setup: contacts via API, copied to a", f"{total:,} ({spread})", f"{setup:.1f} s"),
        (
            "check started at a -> every e-mail left (each node's SMTP)",
            f"{total:,} contacts",
            f"{max(left_at.values()):.2f} s ("
            + ", ".join(f"{k} {v:.2f} s" for k, v in left_at.items())
            + ")",
        ),
        (
            "acknowledgements at home nodes -> all shown at a",
            f"{total:,} acks",
            f"{total / back:,.0f}/s accepted across nodes ({back:.2f} s; "
            f"{total / at_homes:,.0f}/s at the home nodes)",
        ),
    ]


def _match_across_nodes(
    http: httpx.Client, nodes: dict[str, dict[str, Any]], samples: int
) -> list[tuple[str, str, str]]:
    """SingCERT's indicator (a) matched through the API at b with sightings, until each
    sighting is readable by SingCERT at a."""
    a, b = nodes["a"], nodes["b"]
    stamp = "2026-11-01T00:00:00.000Z"
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "name": "C2 server",
        "pattern": "[ipv4-addr:value = '203.0.113.77']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
    }
    shared = http.post(
        f"{a['base']}/api/v1/objects",
        params={"tlp": "TLP:GREEN", "scope": "federation"},
        json=indicator,
        headers=a["analyst"],
    )
    assert shared.status_code in (200, 201), shared.text
    _wait(
        "b holds SingCERT's indicator",
        lambda: (
            (
                http.get(f"{b['base']}/api/v1/objects/{indicator['id']}", headers=b["analyst"])
            ).status_code
            == 200
        ),
    )
    times = []
    for _ in range(samples):
        t0 = time.monotonic()
        matched = http.post(
            f"{b['base']}/api/v1/match",
            json={"observables": ["203.0.113.77"], "sightings": True},
            headers=b["analyst"],
        )
        assert matched.status_code == 200, matched.text
        sighting = matched.json()["sightings"][indicator["id"]]
        url = f"{a['base']}/api/v1/objects/{sighting}"
        t1 = _wait_every(
            "the sighting readable at a",
            lambda url=url: http.get(url, headers=a["analyst"]).status_code == 200,
            0.01,
        )
        times.append(t1 - t0)
        got = http.get(url, headers=a["analyst"]).json()
        assert got["object"]["sighting_of_ref"] == indicator["id"], got
    return [
        (
            "match at b (API, sightings) -> sighting readable at a",
            f"{len(times)} matches",
            f"p50 {statistics.median(times) * 1000:.0f} ms, "
            f"p99 {percentile(times, 99) * 1000:.0f} ms (target p50 < 1 s)",
        )
    ]


def _wait_every(what: str, check: Any, every: float, within: float = 60) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(every)
    raise SystemExit(f"not within {within:.0f} s: {what}")


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.recipients: set[str] = set()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.count += 1
            self.recipients.update(envelope.rcpt_tos)
        return "250 OK"


def acknowledged(status: int, body: bytes) -> None:
    """What every acknowledgement must answer: 200, with the time it was recorded."""
    if status != 200 or json.loads(body).get("acknowledged") is None:
        raise SystemExit(f"ack failed: {status} {body[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        # One, the node's default: uvicorn's workers share one listening socket, and the
        # first to wake accepts every connection opened together, so more workers do not
        # spread a few keep-alive connections.
        help="server worker processes (accord serve --workers N); default 1",
    )
    parser.add_argument("--node-samples", type=int, default=50)
    parser.add_argument(
        "--between-nodes", action="store_true", help="also requests between three nodes"
    )
    parser.add_argument("--nodes-only", action="store_true", help="only between nodes")
    parser.add_argument(
        "--check-contacts",
        type=int,
        default=1000,
        help="between nodes: contacts (a third homed on each node) in the check; 0: none",
    )
    args = parser.parse_args()

    if args.nodes_only:
        _print(between_nodes(args.node_samples, args.check_contacts))
        return
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="accord-bench-coord-") as tmp:
        workdir = Path(tmp)
        sink = CountingSink()
        smtp_port, http_port = free_port(), free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        env = accord_env(
            f"sqlite:///{workdir}/bench.db",
            http_port,
            smtp_port=str(smtp_port),
            coordination_interval="3600",
        )
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=env["ACCORD_DATABASE_URL"],
            port=http_port,
            smtp_port=smtp_port,
        )
        node = Node.open(settings)
        orgs = [
            node.accounts.add_org(None, f"Org {i:02d}", "national-cert", STATES[i % len(STATES)])
            for i in range(50)
        ]
        kinds = ["technical", "diplomatic", "policy", "law-enforcement", "24-7-desk"]
        values = []
        for i in range(args.contacts):
            data = ContactInput(
                kind=kinds[i % len(kinds)],
                name=f"Contact {i}",
                email=f"poc{i}@org{i % 50}.example.org",
                languages=("en",),
                timezone="Asia/Singapore",
            )
            clean = data.clean()
            values.append(contact_fields(orgs[i % 50].id, clean))
        # Seeded straight into the store: the bench times the check, not the import.
        ContactRepository(node.engine).add_many(values, None, node.clock())

        started = time.perf_counter()
        deadline = node.clock() + timedelta(days=2)
        started_check = node.coordination.checks.start(
            None, "Bench ping", deadline, organiser=orgs[0].id
        )
        check_id, targets = started_check.id, started_check.targets
        queued = time.perf_counter() - started
        started = time.perf_counter()
        delivered = 0
        while delivered < len(targets):
            done = node.coordination.notifier.deliver_due()
            if done.failed or done.retried:
                raise SystemExit(f"delivery failed: {done}")
            delivered += done.sent
        send = time.perf_counter() - started
        deadline_wait = time.monotonic() + 10
        while sink.count < len(targets) and time.monotonic() < deadline_wait:
            time.sleep(0.05)
        assert sink.count == len(targets) == len(sink.recipients), (sink.count, len(targets))
        rows.append(
            ("check start: tokens + queue", f"{len(targets):,} contacts", f"{queued:.2f} s")
        )
        rows.append(
            (
                "e-mails delivered to SMTP sink",
                f"{sink.count:,}",
                f"{send:.2f} s ({sink.count / send:,.0f}/s)",
            )
        )

        # Workers on the command line: the bench's environment does not pass ACCORD_WORKERS.
        serve = [sys.executable, "-m", "accord", "serve", "--workers", str(args.workers)]
        server = Server(env, workdir, http_port, serve)
        base = server.base
        try:
            server.wait_healthy()
            paths = [f"/api/v1/checks/ack/{t.token}" for t in targets]
            meter = CpuMeter(server.proc.pid, postgres=False)
            started = time.perf_counter()
            with meter.phase("ack"):
                latencies = asyncio.run(
                    request_each(http_port, "POST", paths, args.concurrency, acknowledged)
                )
            elapsed = time.perf_counter() - started
            rate = len(paths) / elapsed
            rows.append(
                (
                    f"acknowledgements through the API ({args.workers} worker(s))",
                    f"{len(paths):,}",
                    f"{rate:,.0f}/s (target >= 1,000); "
                    f"p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                    f"p99 {percentile(latencies, 99) * 1000:.1f} ms; cores: {meter.summary('ack')}",
                )
            )
            started = time.perf_counter()
            results = node.coordination.checks.results(None, check_id)
            report = time.perf_counter() - started
            assert results.acknowledged == len(paths), results.acknowledged
            rows.append(("check report", f"{len(paths):,} answers", f"{report * 1000:.0f} ms"))

            store_requests(node.engine, [o.id for o in orgs], args.requests)
            token = node.accounts.create_token(None, orgs[0].name, "liaison", "bench", None)
            headers = {"Authorization": f"Bearer {token.plaintext}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for label, url in (
                    ("inbox first page", "/api/v1/requests?box=inbox&limit=50"),
                    ("inbox, state filter", "/api/v1/requests?box=inbox&state=submitted"),
                ):
                    client.get(url)  # warm-up
                    times = []
                    for _ in range(args.samples):
                        t0 = time.perf_counter()
                        response = client.get(url)
                        times.append(time.perf_counter() - t0)
                        assert response.status_code == 200 and response.json()["items"]
                    rows.append(
                        (
                            f"{label} ({args.requests:,} stored)",
                            f"{args.samples} GETs",
                            f"p50 {statistics.median(times) * 1000:.1f} ms, "
                            f"p99 {percentile(times, 99) * 1000:.1f} ms (target <= 50 ms)",
                        )
                    )
        finally:
            server.stop()
            controller.stop()
            node.close()

    if args.between_nodes:
        rows += between_nodes(args.node_samples, args.check_contacts)
    _print(rows)


def _print(rows: list[tuple[str, str, str]]) -> None:
    print(f"Accord coordination bench (SQLite, load average {os.getloadavg()[0]:.2f})")
    width = max(len(r[0]) for r in rows)
    for what, size, result in rows:
        print(f"{what:<{width}}  {size:>16}  {result}")


if __name__ == "__main__":
    main()
