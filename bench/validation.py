"""Cost of validating STIX 2.1 objects: ``accord.exchange.validation`` vs stix2-validator.

What it measures, in this process on one core:

- ``--indicators`` realistic indicators (20,000 by default; simple patterns on IPv4
  addresses, domains, URLs, SHA-256 hashes, and ORs of them, as threat feeds carry them)
  plus ``--others`` other objects (malware, identity, relationship, sighting, report),
  generated before any timing starts, are validated with ``validate_objects`` in
  batches of ``--batch`` (1,000);
- the same validation of a ``--sample`` (1,000) object sample by stix2-validator
  (``validate_instance`` with ``ValidationOptions(version="2.1")``), and the verdicts of
  both are checked to agree on that sample;
- ``--complex`` indicators with distinct qualified patterns (``WITHIN``, ``REPEATS``,
  parentheses) that the fast pattern path leaves to stix2-validator's ANTLR parser;
- the one-off cost of the first call (loading and compiling the schemas).

Run it with, for example::

    .venv/bin/python bench/validation.py
    .venv/bin/python bench/validation.py --indicators 100000 --sample 2000

Target: well under 50 us per typical indicator, i.e. validation must not stop a
2-core node from ingesting 10,000 objects/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from stix2validator import ValidationOptions, validate_instance

from accord.exchange.validation import validate_objects

TLP_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
IDENTITY = "identity--311b2d2d-f010-4473-83ec-1edf84858f4c"


def _stamp(rng: random.Random) -> str:
    return (
        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
        f"{rng.randint(0, 999):03d}Z"
    )


def _ipv4(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def _domain(rng: random.Random) -> str:
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 12)))
    return f"{word}.{rng.choice(['com', 'net', 'org', 'info', 'xyz'])}"


def _pattern(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.35:
        return f"[ipv4-addr:value = '{_ipv4(rng)}']"
    if kind < 0.60:
        return f"[domain-name:value = '{_domain(rng)}']"
    if kind < 0.75:
        path = "/".join(_domain(rng).split(".")[:1] * rng.randint(1, 3))
        return f"[url:value = 'http://{_domain(rng)}/{path}?id={rng.randint(1, 99999)}']"
    if kind < 0.95:
        return f"[file:hashes.'SHA-256' = '{rng.randbytes(32).hex()}']"
    return (
        f"[ipv4-addr:value = '{_ipv4(rng)}' OR ipv4-addr:value = '{_ipv4(rng)}'"
        f" OR domain-name:value = '{_domain(rng)}']"
    )


def _complex_pattern(rng: random.Random) -> str:
    return (
        f"([network-traffic:dst_ref.value = '{_ipv4(rng)}' AND network-traffic:dst_port = "
        f"{rng.randint(1, 65535)}] REPEATS {rng.randint(2, 9)} TIMES)"
        f" WITHIN {rng.randint(60, 3600)} SECONDS"
    )


def _indicator(rng: random.Random, pattern: str) -> dict[str, Any]:
    created = _stamp(rng)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created_by_ref": IDENTITY,
        "created": created,
        "modified": created,
        "name": "Malicious infrastructure",
        "description": "Observed in a phishing campaign against regional banks.",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": created,
        "confidence": rng.randint(30, 100),
        "object_marking_refs": [rng.choice([TLP_AMBER, TLP_GREEN])],
    }
    if rng.random() < 0.3:
        obj["valid_until"] = "2026-01-01T00:00:00.000Z"
    if rng.random() < 0.2:
        obj["kill_chain_phases"] = [
            {"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}
        ]
    if rng.random() < 0.1:
        obj["external_references"] = [
            {
                "source_name": "regional-cert",
                "url": f"https://cert.example/a/{rng.randint(1, 9999)}",
            }
        ]
    return obj


def _other(rng: random.Random) -> dict[str, Any]:
    created = _stamp(rng)

    def new_id(otype: str) -> str:
        return f"{otype}--{uuid.UUID(int=rng.getrandbits(128), version=4)}"

    common: dict[str, Any] = {"spec_version": "2.1", "created": created, "modified": created}
    kind = rng.choice(["malware", "identity", "relationship", "sighting", "report"])
    extra: dict[str, Any]
    if kind == "malware":
        extra = {"name": "BlackEnergy", "is_family": True, "malware_types": ["trojan"]}
    elif kind == "identity":
        extra = {"name": "Regional CERT", "identity_class": "organization"}
    elif kind == "relationship":
        extra = {
            "relationship_type": "indicates",
            "source_ref": new_id("indicator"),
            "target_ref": new_id("malware"),
        }
    elif kind == "sighting":
        extra = {"sighting_of_ref": new_id("indicator"), "count": rng.randint(1, 50)}
    else:
        extra = {
            "name": "Weekly report",
            "published": created,
            "object_refs": [new_id("indicator") for _ in range(5)],
        }
    return {"type": kind, "id": new_id(kind), **common, **extra}


def _per_object_seconds(run: Callable[[], object], count: int, repeat: int) -> float:
    """Best of ``repeat`` runs, per object (the best run is the least disturbed one)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=20_000)
    parser.add_argument("--others", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--complex", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20241123)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    objects = [_indicator(rng, _pattern(rng)) for _ in range(args.indicators)]
    objects += [_other(rng) for _ in range(args.others)]
    rng.shuffle(objects)
    batches = [objects[i : i + args.batch] for i in range(0, len(objects), args.batch)]
    complex_objects = [_indicator(rng, _complex_pattern(rng)) for _ in range(args.complex)]
    sample = rng.sample(objects, min(args.sample, len(objects)))
    options = ValidationOptions(version="2.1")

    start = time.perf_counter()
    validate_objects(objects[:1])
    cold = time.perf_counter() - start
    validate_objects(objects[: args.batch])  # compile the remaining types' schemas

    def ours_all() -> None:
        for batch in batches:
            if validate_objects(batch):
                raise SystemExit("a generated object was rejected")

    ours = _per_object_seconds(ours_all, len(objects), args.repeat)
    batch_times = []
    for batch in batches:
        begin = time.perf_counter()
        validate_objects(batch)
        batch_times.append((time.perf_counter() - begin) / len(batch))

    def reference() -> None:
        for obj in sample:
            validate_instance(obj, options)

    theirs = _per_object_seconds(reference, len(sample), 1)
    disagreements = sum(
        validate_instance(obj, options).is_valid != (validate_objects([obj]) == [])
        for obj in sample
    )
    # Distinct patterns, so every one is parsed by ANTLR once (the first run fills the
    # per-pattern cache, which the best-of timing would otherwise measure).
    start = time.perf_counter()
    complex_issues = validate_objects(complex_objects)
    slow = (time.perf_counter() - start) / max(1, len(complex_objects))
    cached = _per_object_seconds(
        lambda: validate_objects(complex_objects), max(1, len(complex_objects)), args.repeat
    )

    def row(name: str, count: int, seconds: float) -> None:
        print(f"{name:<44} {count:>8,} {seconds * 1e6:>12.1f} {1 / seconds:>14,.0f}")

    print(f"{'workload':<44} {'objects':>8} {'us/object':>12} {'objects/s':>14}")
    print("-" * 81)
    row(f"accord validate_objects (batches of {args.batch})", len(objects), ours)
    row("  slowest batch", args.batch, max(batch_times))
    row("  median batch", args.batch, statistics.median(batch_times))
    row("stix2-validator validate_instance", len(sample), theirs)
    row("accord, qualified patterns, first sight", len(complex_objects), slow)
    row("accord, qualified patterns, cached", len(complex_objects), cached)
    print("-" * 81)
    print(f"speed-up over stix2-validator: {theirs / ours:,.0f}x")
    print(f"first call (loads and compiles schemas): {cold * 1e3:,.0f} ms")
    print(f"verdict disagreements on the {len(sample):,}-object sample: {disagreements}")
    if complex_issues:
        print(f"unexpected issues on qualified patterns: {complex_issues[:3]}")


if __name__ == "__main__":
    main()
