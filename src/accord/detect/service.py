"""Detection for one node: load the indicators a principal may use, match, report sightings.

Indicators are read only through the policy gate (``Exchange.iter_all``): a
principal matches with what it may read, valid now and not revoked. Sightings go
back to each indicator's owner under the indicator's own marking, as STIX
``sighting`` objects the matching organisation owns, scoped to the owner
organisation as recipient, so federation carries them to the owner's node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import orjson

from accord.detect.matcher import Hit, MatcherSet
from accord.detect.observables import objects_of
from accord.detect.readers import LogRecord, ReadStats
from accord.detect.warninglists import Warninglists, shipped
from accord.domain.model import Principal
from accord.domain.stix import format_timestamp, parse_timestamp
from accord.domain.tlp import TLP
from accord.errors import Forbidden, InvalidInput
from accord.exchange.service import Exchange
from accord.store.accounts import OrganisationRepository
from accord.store.objects import ObjectQuery


@dataclass(frozen=True, slots=True)
class Source:
    """Where an indicator came from: its owner organisation and its marking."""

    owner: int
    tlp: TLP


@dataclass(slots=True)
class LoadedIndicators:
    """A principal's usable indicators, compiled, with what was left out and why."""

    matchers: MatcherSet
    sources: dict[str, Source]
    revoked: int = 0
    expired: int = 0
    not_yet_valid: int = 0
    not_stix: int = 0
    # Indicators with a value on a warning list, and the lists: flagged, still used.
    flagged: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (id, pattern) of every indicator compiled, in order, when asked (for Dask workers)
    patterns: list[tuple[str, str]] | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """One indicator matched by one record."""

    record: str
    indicator_id: str
    value: str | None
    field: str | None
    seen: datetime
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "indicator_id": self.indicator_id,
            "value": self.value,
            "field": self.field,
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class Tally:
    """Sightings of one indicator: how many, first and last seen."""

    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def add(self, seen: datetime) -> None:
        self.count += 1
        self.first_seen = seen if self.first_seen is None else min(self.first_seen, seen)
        self.last_seen = seen if self.last_seen is None else max(self.last_seen, seen)


@dataclass(slots=True)
class SightingReport:
    """What ``report_sightings`` stored: sighting ids per indicator, and what it skipped."""

    stored: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def _stamp_valid(obj: dict[str, Any], key: str) -> datetime | None:
    value = obj.get(key)
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


ENGINES = ("local", "dask")


class Detection:
    """Matching of logs and observables against the indicators a principal may read."""

    def __init__(
        self,
        exchange: Exchange,
        orgs: OrganisationRepository,
        clock: Callable[[], datetime],
        warninglists: Warninglists | None = None,
    ) -> None:
        self._exchange = exchange
        self._orgs = orgs
        self._clock = clock
        self.warninglists = warninglists or shipped()

    def load(
        self, principal: Principal, *, subdomains: bool = False, patterns: bool = False
    ) -> LoadedIndicators:
        """Compile every indicator ``principal`` may read that is valid now and not revoked.

        ``patterns``: keep each one's (id, pattern) too, for ``match_logs`` on Dask.
        """
        now = self._clock()
        loaded = LoadedIndicators(MatcherSet((), subdomains=subdomains), {})
        if patterns:
            loaded.patterns = []
        query = ObjectQuery(types=("indicator",), limit=1000)
        for rows in self._exchange.iter_all(principal, query):
            for row in rows:
                if row.revoked:
                    loaded.revoked += 1
                    continue
                obj = orjson.loads(row.doc)
                if obj.get("pattern_type", "stix") != "stix" or not isinstance(
                    obj.get("pattern"), str
                ):
                    loaded.not_stix += 1
                    continue
                valid_from = _stamp_valid(obj, "valid_from")
                valid_until = _stamp_valid(obj, "valid_until")
                if valid_from is not None and valid_from > now:
                    loaded.not_yet_valid += 1
                    continue
                if valid_until is not None and valid_until <= now:
                    loaded.expired += 1
                    continue
                loaded.matchers.add(row.stix_id, obj["pattern"])
                if loaded.patterns is not None:
                    loaded.patterns.append((row.stix_id, obj["pattern"]))
                loaded.sources[row.stix_id] = Source(row.owner, row.tlp)
        self._flag(loaded)
        return loaded

    def _flag(self, loaded: LoadedIndicators) -> None:
        matchers = loaded.matchers
        for index, conjunction in matchers.conjunctions:
            for test in conjunction.tests:
                values = list(test.values)
                if test.subnet is not None:
                    s = test.subnet
                    kind = IPv4Address if s.version == 4 else IPv6Address
                    values.append(f"{kind(s.network)}/{s.prefix}")
                for value in values:
                    found = self.warninglists.check(value)
                    if found:
                        stix_id = matchers.ids[index]
                        merged = set(loaded.flagged.get(stix_id, ())) | set(found)
                        loaded.flagged[stix_id] = tuple(sorted(merged))

    def match_records(
        self, loaded: LoadedIndicators, records: Iterable[LogRecord]
    ) -> Iterator[Match]:
        """Every (record, indicator) match, in record order."""
        matchers = loaded.matchers
        warned: dict[str, tuple[str, ...]] = {}
        for record in records:
            objects = objects_of(record.fields, record.field_map)
            if not objects:
                continue
            hits = matchers.match(objects)
            if hits:
                yield from self._matches(record.ref, record.seen, hits, warned)

    def _matches(
        self,
        ref: str,
        seen: datetime | None,
        hits: list[Hit],
        warned: dict[str, tuple[str, ...]],
    ) -> Iterator[Match]:
        when = seen or self._clock()
        for hit in hits:
            warnings: tuple[str, ...] = ()
            if hit.value is not None:
                warnings = warned.get(hit.value) or self.warninglists.check(hit.value)
                if len(warned) < 100_000:
                    warned[hit.value] = warnings
            yield Match(ref, hit.indicator_id, hit.value, hit.field, when, warnings)

    def match_logs(
        self,
        loaded: LoadedIndicators,
        logs: Sequence[str],
        stats: ReadStats,
        *,
        fmt: str = "auto",
        mapping: Mapping[str, str] | None = None,
        engine: str = "local",
        scheduler: str | None = None,
        workers: int | None = None,
        partition_size: int | None = None,
    ) -> Iterator[Match]:
        """Every match in ``logs`` (paths or fsspec URLs), in log and record order.

        ``engine``: ``local`` reads in this process (``accord.detect.bulk``); ``dask``
        runs the same screen and confirmation over partitions of the logs on a Dask
        cluster (``accord.detect.distributed``): the one at ``scheduler``, or a local
        one of ``workers`` processes. Both give the same matches and ``stats``. Nothing
        is stored here: sightings are ``report_sightings`` over the finished matches.
        """
        if engine not in ENGINES:
            raise InvalidInput(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
        if engine == "local":
            if scheduler is not None or workers is not None or partition_size is not None:
                raise InvalidInput("a scheduler, workers or partitions need the dask engine")
            from accord.detect.bulk import read_log_screened  # brings numpy and pyarrow

            for path in logs:
                records = read_log_screened(path, stats, loaded.matchers, fmt=fmt, mapping=mapping)
                yield from self.match_records(loaded, records)
            return
        if loaded.patterns is None:
            raise ValueError("the dask engine needs indicators loaded with patterns=True")
        if workers is not None and (workers < 1 or scheduler is not None):
            raise InvalidInput("workers: at least 1, and only for a local cluster")
        from accord.detect import distributed  # brings dask

        warned: dict[str, tuple[str, ...]] = {}
        found = distributed.match_on_dask(
            loaded.patterns,
            loaded.matchers.subdomains,
            logs,
            stats,
            fmt=fmt,
            mapping=mapping,
            scheduler=scheduler,
            workers=workers,
            partition_size=partition_size or distributed.PARTITION_SIZE,
        )
        for ref, seen, hits in found:
            yield from self._matches(ref, seen, hits, warned)

    def match_values(self, loaded: LoadedIndicators, values: Iterable[str]) -> list[list[Hit]]:
        """For each bare observable value (its kind recognised), the indicators it matches."""
        return [
            loaded.matchers.match(objects_of({"value": value}, {"value": "auto"}))
            for value in values
        ]

    def require_reporter(self, principal: Principal) -> None:
        """Forbidden unless ``principal`` may report sightings (an admin or analyst)."""
        if principal.org is None or not principal.can_write():
            raise Forbidden("only an admin or analyst may report sightings")

    def report_sightings(
        self,
        principal: Principal,
        loaded: LoadedIndicators,
        tallies: dict[str, Tally],
    ) -> SightingReport:
        """Store one sighting per sighted indicator, shared back to the indicator's owner.

        Each sighting is owned by ``principal``'s organisation, marked with the
        indicator's TLP and distributed to the owner organisation as recipient (only
        kept by ourselves when we own the indicator). Each is its own transaction.
        """
        self.require_reporter(principal)
        owners = self._orgs.identities({loaded.sources[i].owner for i in tallies})
        report = SightingReport()
        for indicator_id, tally in sorted(tallies.items()):
            source = loaded.sources[indicator_id]
            if tally.count < 1 or tally.first_seen is None or tally.last_seen is None:
                report.skipped.append(indicator_id)
                continue
            seen = (format_timestamp(tally.first_seen), format_timestamp(tally.last_seen))
            sighting_id, result = self._exchange.report_sighting(
                principal, indicator_id, owners[source.owner], source.tlp, tally.count, seen
            )
            if result.stored:
                report.stored[indicator_id] = sighting_id
        return report


def tally(matches: Iterable[Match]) -> dict[str, Tally]:
    """Matches aggregated per indicator."""
    tallies: dict[str, Tally] = {}
    for m in matches:
        tallies.setdefault(m.indicator_id, Tally()).add(m.seen)
    return tallies
