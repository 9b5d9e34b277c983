"""Norms reports at regional scale. A script that prints a table, not a test.

Setup (untimed, SQLite in a temporary directory): ``--states`` states (default 30), one
national CERT each; each publishes ``--versions`` versions (default 5) of its report with
an answer to every one of the 11 norms (TLP:GREEN, community); ``--postings`` needs and
offers (default 10,000, half each), tagged with random CMM dimensions and norms,
ingested in bundles.

Timed, in process through the app (``fastapi.testclient``: the server's own work, no
network), ``--samples`` times each, as one state's analyst:

- **regional view**: ``GET /api/v1/norms/matrix`` (every state by every norm, with the
  evidence queries for each state) and ``GET /api/v1/norms/matrix.svg``; repeated by one
  reader, the published answers come from the service's per-reader cache, so the view is
  measured again "cold" (the cache emptied before each call);
- **comparison**: ``GET /api/v1/norms/compare`` of three states;
- **matching**: ``Capacity.matches`` over every need and offer the reader may see;
- **PDF**: rendering one state's full report (WeasyPrint), per report.

Target: regional view and comparison p99 under 200 ms.
Run: ``PYTHONPATH=src .venv/bin/python bench/norms.py``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
import warnings
from pathlib import Path

from accord.app import create_app
from accord.domain.model import Principal, Role
from accord.domain.stix import format_timestamp
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.norms.capability import NORMS
from accord.norms.capacity import KINDS, NEED, OFFER
from accord.norms.export import report_pdf
from accord.norms.service import AnswerInput
from accord.settings import Settings
from support import TLP_GREEN_MARKING, load_note, mark, p50_p99_ms, table

STATES = (
    "SG MY TH ID PH VN BN KH LA MM AU NZ JP KR CN IN US RU CA FR DE GB IT ES NL SE NO FI CH BR"
).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=30)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--postings", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    print(load_note())
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'norms.db'}"
        node = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        service = NORMS.service(node)
        assert service.capacity is not None
        states = STATES[: args.states]
        people: dict[str, Principal] = {}
        t0 = time.perf_counter()
        for s in states:
            o = node.accounts.add_org(None, f"CERT-{s}", "national-cert", s)
            people[s] = Principal(org=o.id, role=Role.ANALYST)
            for _ in range(args.versions):
                v = service.start_draft(people[s])
                for n in service.framework.norms:
                    given = AnswerInput(n.code, f"Measures of {s} on ({n.code})", "Gaps", ("Act",))
                    service.answer(people[s], v.id, given)
                service.publish(people[s], v.id, "federation")
        setup_reports = time.perf_counter() - t0
        codes = [d.code for d in service.framework.dimensions] + list("abcdefghijk")
        t0 = time.perf_counter()
        stamp = format_timestamp(node.clock())
        per_state = -(-args.postings // len(states))
        for s in states:
            org = node.accounts.orgs.find(f"CERT-{s}")
            objects = []
            for i in range(per_state):
                kind = NEED if i % 2 == 0 else OFFER
                obj = {
                    "type": kind,
                    "spec_version": "2.1",
                    "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                    "created": stamp,
                    "modified": stamp,
                    "created_by_ref": org.identity_id,
                    "object_marking_refs": [TLP_GREEN_MARKING],
                    "state": s,
                    "kind": rng.choice(KINDS),
                    "name": f"{kind.rsplit('-', 1)[-1]} {i} of {s}",
                    "tags": sorted(rng.sample(codes, 2)),
                }
                if kind == NEED:
                    obj["step"] = "open"
                objects.append(obj)
            bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
            node.exchange.ingest(
                people[s], bundle, ShareRequest.parse(None, "federation", (), None)
            )
        setup_postings = time.perf_counter() - t0
        print(
            f"setup: {len(states)} states x {args.versions} versions x 11 norms in "
            f"{setup_reports:.1f} s; {per_state * len(states)} needs and offers in "
            f"{setup_postings:.1f} s"
        )
        token = node.accounts.create_token(None, f"CERT-{states[0]}", "analyst", "bench", None)
        auth = {"Authorization": f"Bearer {token.plaintext}"}
        rows: list[list[str]] = []
        with TestClient(create_app(node=node)) as client:
            compare = "&".join(f"states={s}" for s in states[:3])
            for name, path in (
                ("regional view (JSON)", "/api/v1/norms/matrix"),
                ("regional view (SVG)", "/api/v1/norms/matrix.svg"),
                ("comparison of 3 states", f"/api/v1/norms/compare?{compare}"),
            ):
                assert client.get(path, headers=auth).status_code == 200
                times = []
                for _ in range(args.samples):
                    t = time.perf_counter()
                    r = client.get(path, headers=auth)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200
                p50, p99 = p50_p99_ms(times)
                rows.append([name, f"{p50:.1f}", f"{p99:.1f}", mark(p99 < 200)])
            # The same with the published answers parsed afresh each time (first reader,
            # or an answer just stored): the cache of Norms.published emptied per call.
            times = []
            for _ in range(max(args.samples // 3, 3)):
                service._published.clear()
                t = time.perf_counter()
                assert client.get("/api/v1/norms/matrix", headers=auth).status_code == 200
                times.append(time.perf_counter() - t)
            p50, p99 = p50_p99_ms(times)
            rows.append(["regional view, cold", f"{p50:.1f}", f"{p99:.1f}", mark(p99 < 200)])
        capacity = service.capacity
        times = []
        for _ in range(max(args.samples // 10, 3)):
            t = time.perf_counter()
            found = capacity.matches(people[states[0]])
            times.append(time.perf_counter() - t)
        p50, p99 = p50_p99_ms(times)
        rows.append([f"matching ({len(found)} proposals)", f"{p50:.1f}", f"{p99:.1f}", ""])
        times = []
        for s in states[:10]:
            report, number = service.state_report(people[s], s)
            evidence = service.evidence(people[s], s)
            t = time.perf_counter()
            pdf = report_pdf(service.framework, report, number, evidence)
            times.append(time.perf_counter() - t)
            assert pdf.startswith(b"%PDF-")
        p50, p99 = p50_p99_ms(times)
        rows.append(["PDF per report", f"{p50:.1f}", f"{p99:.1f}", ""])
        node.close()
    print(table(["operation", "p50 ms", "p99 ms", "< 200 ms"], rows))


if __name__ == "__main__":
    main()
