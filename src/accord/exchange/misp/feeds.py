"""Pulling a MISP feed (a directory or an http(s) URL): ``manifest.json``, ``<uuid>.json``,
``hashes.csv``; incremental by the manifest's timestamps; hashes checked where listed.

An event is fetched only when the manifest's timestamp for it is newer than the one the
feed's cursor recorded. Each fetched event must be what the manifest says it is (same
UUID and timestamp) and, where ``hashes.csv`` lists the event, its attribute values must
hash to exactly the listed md5s: a feed that lies is refused, naming the event. Every
event is checked before any is stored; each is then stored whole.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
import orjson

from accord.domain.model import Principal, Role
from accord.domain.tlp import TLP
from accord.errors import AccordError, InvalidInput, NotFound, PeerUnavailable, Problem
from accord.exchange.misp.convert import ImportReport, read_event
from accord.exchange.misp.mapping import MispDistribution, whole_number
from accord.exchange.misp.service import Misp, PreparedEvent, bulk, feed_url, md5_of_values
from accord.store.misp import Feed

log = logging.getLogger("accord.misp")

Fetch = Callable[[str], bytes | None]  # a feed file's bytes, None when absent
# A feed file is read whole within this many seconds (a peer that trickles its answer
# would otherwise hold a pull, and the scheduled job's other feeds, for ever).
FILE_SECONDS = 600.0
# A manifest's keys name the files fetched: UUIDs only, never a path or another URL.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(slots=True)
class PullResult:
    report: ImportReport = field(default_factory=ImportReport)
    fetched: int = 0
    up_to_date: int = 0


def source(
    location: str,
    client: httpx.Client | None = None,
    max_bytes: int = 256 << 20,
    max_seconds: float = FILE_SECONDS,
) -> Fetch:
    """How to read files of the feed at ``location`` (a directory, or an http(s) URL)."""
    if location.startswith(("http://", "https://")):
        base = feed_url(location)
        http = client or httpx.Client(timeout=30, follow_redirects=False)

        def fetch_url(name: str) -> bytes | None:
            deadline = time.monotonic() + max_seconds
            try:
                with http.stream("GET", urljoin(base, name)) as response:
                    if response.status_code == 404:
                        return None
                    if response.status_code != 200:
                        raise PeerUnavailable(f"{base}{name}: HTTP {response.status_code}")
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise InvalidInput(f"{base}{name}: over {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise PeerUnavailable(
                                f"{base}{name}: not sent whole within {max_seconds:g} s"
                            )
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.HTTPError as exc:
                raise PeerUnavailable(f"{base}{name}: {type(exc).__name__}") from None

        return fetch_url
    root = Path(location)
    if not root.is_dir():
        raise InvalidInput(f"no feed directory or http(s) URL: {location}")

    def fetch_file(name: str) -> bytes | None:
        path = root / name
        return path.read_bytes() if path.is_file() else None

    return fetch_file


def _manifest(fetch: Fetch) -> dict[str, int]:
    raw = fetch("manifest.json")
    if raw is None:
        raise NotFound("the feed has no manifest.json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"manifest.json is not JSON (truncated?): {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("manifest.json must map event UUIDs to their summaries")
    found: dict[str, int] = {}
    for key, entry in data.items():
        stamp = whole_number(entry.get("timestamp")) if isinstance(entry, dict) else None
        if stamp is None or not _UUID.fullmatch(key.lower()):  # never negative: below any cursor
            raise InvalidInput(
                f"manifest.json: entry {key[:40]!r} needs a UUID and a timestamp",
                [Problem("bad manifest entry", field=f"manifest.{key[:40]}")],
            )
        found[key.lower()] = stamp
    return found


def _hashes(fetch: Fetch) -> dict[str, set[str]] | None:
    raw = fetch("hashes.csv")
    if raw is None:
        return None
    listed: dict[str, set[str]] = {}
    for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 2:
            raise InvalidInput(f"hashes.csv line {n}: expected 'md5,event uuid'")
        listed.setdefault(parts[1].lower(), set()).add(parts[0].lower())
    return listed


def fetch_events(fetch: Fetch, cursor: dict[str, int]) -> tuple[list[bytes], list[str], int]:
    """The events newer than ``cursor``, checked against the manifest and the hashes;
    with their names and how many were up to date."""
    manifest = _manifest(fetch)
    hashes = _hashes(fetch)
    payloads: list[bytes] = []
    names: list[str] = []
    current = 0
    for event_uuid, stamp in sorted(manifest.items(), key=lambda kv: (kv[1], kv[0])):
        if cursor.get(event_uuid, -1) >= stamp:
            current += 1
            continue
        name = f"{event_uuid}.json"
        raw = fetch(name)
        if raw is None:
            raise InvalidInput(f"{name}: listed in manifest.json but absent")
        try:
            event = read_event(raw)  # a truncated file stops here, naming the file
        except InvalidInput as exc:
            exc.detail = f"{name}: {exc.detail}"
            raise
        if event.get("uuid", "").lower() != event_uuid:
            raise InvalidInput(f"{name}: holds event {event.get('uuid')!r}, not {event_uuid}")
        if str(event.get("timestamp")) != str(stamp):
            raise InvalidInput(
                f"{name}: timestamp {event.get('timestamp')} but the manifest says {stamp}"
            )
        if hashes is not None and event_uuid in hashes:
            actual = md5_of_values({"Event": event})
            if actual != hashes[event_uuid]:
                raise InvalidInput(
                    f"{name}: its attribute values do not match hashes.csv "
                    f"({len(actual ^ hashes[event_uuid])} md5s differ); nothing was stored"
                )
        payloads.append(raw)
        names.append(name)
    return payloads, names, current


def pull(
    misp: Misp,
    principal: Principal,
    fetch: Fetch,
    cursor: dict[str, int],
    *,
    tlp: TLP | None,
    distribution: MispDistribution | None,
    on_event: Callable[[], None] | None = None,
) -> tuple[PullResult, dict[str, int]]:
    """Fetch, check and store what is new; the new cursor entries of what was stored."""
    result = PullResult()
    payloads, names, result.up_to_date = fetch_events(fetch, cursor)
    result.fetched = len(payloads)
    stored: dict[str, int] = {}
    with bulk():
        prepared = misp.prepare(
            principal, payloads, result.report, tlp=tlp, distribution=distribution, names=names
        )

        def kept(event: PreparedEvent) -> None:
            stored[event.uuid] = event.timestamp
            if on_event:
                on_event()

        misp.store_all(principal, prepared, result.report, kept)
    return result, stored


def pull_feed(misp: Misp, feed: Feed, client: httpx.Client | None = None) -> PullResult:
    """Pull one configured feed as its organisation, advancing its cursor."""
    if client is None:
        with httpx.Client(timeout=30, follow_redirects=False) as own:
            return pull_feed(misp, feed, own)
    principal = Principal(org=feed.org, role=Role.ANALYST)
    now = misp.clock()
    try:
        result, stored = pull(
            misp,
            principal,
            source(feed.url, client),
            feed.cursor,
            tlp=TLP(feed.tlp),
            distribution=MispDistribution(feed.distribution),
        )
    except AccordError as exc:
        misp.repo.failed(feed.id, exc.detail, now)
        raise
    misp.repo.advance(feed.id, stored, now)
    return result


def pull_all(misp: Misp) -> None:
    """The scheduled job: every feed in turn; one failing feed does not stop the rest."""
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        for feed in misp.repo.feeds():
            try:
                result = pull_feed(misp, feed, client)
                log.info("misp feed %s: %d events fetched", feed.name, result.fetched)
            except AccordError as exc:
                log.warning("misp feed %s failed: %s", feed.name, exc.detail)
