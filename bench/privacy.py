"""Personal-data scan: objects/s, recall and precision on planted identifiers, vs Presidio.

    python bench/privacy.py [--objects 100000] [--presidio-objects N] [--seed 7]

Builds a reproducible corpus of realistic STIX objects (indicators, reports, notes,
opinions, malware, e-mail observables) whose text carries the noise threat reports carry
(dates, times, CVE ids, versions, ports, counts, hashes, IP addresses, ticket numbers),
and plants identifiers in about a third of them: e-mail addresses, phone numbers of seven
states (international form, and national form in the owner's own region), and national
ids with valid check digits (SG NRIC, MY MyKad, TH ID, ID NIK, IN Aadhaar, KR RRN).
Decoys with a wrong check digit are planted too: finding one is a false positive.

Accord's scan (``accord.privacy.detect.scan``, one core) runs over every object; in the
same run ``presidio-analyzer``'s pattern recognizers for the kinds it has (e-mail, phone
for the same regions, SG NRIC/FIN, TH TNIN, KR RRN, IN Aadhaar: no spaCy model, each
recognizer's ``analyze`` called directly) run over the same strings of the first
``--presidio-objects`` objects (all by default). Recall and precision count a finding
as right when its span is a planted identifier's span of the same kind.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from stdnum import verhoeff
from stdnum.kr import rrn as kr_rrn
from stdnum.my import nric as my_nric
from stdnum.th import pin as th_pin

from accord.privacy.detect import TEXT_FIELDS, scan, sg_nric_valid

STAMP = "2026-11-01T10:00:00.000Z"
REGIONS = ("SG", "MY", "TH", "ID", "PH", "IN", "KR")
# What Presidio calls each kind it has, and which of ours it is.
PRESIDIO_KIND = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "SG_NRIC_FIN": "sg-nric",
    "TH_TNIN": "th-pid",
    "KR_RRN": "kr-rrn",
    "IN_AADHAAR": "in-aadhaar",
}
SHARED_KINDS = set(PRESIDIO_KIND.values())
WORDS = (
    "the actor used spear-phishing lures against ministry staff and critical "
    "infrastructure operators; payloads beaconed to infrastructure hosted abroad, "
    "persistence through scheduled tasks, credential theft, lateral movement over SMB"
).split()


@dataclass
class Planted:
    kind: str
    value: str


@dataclass
class Corpus:
    objects: list[dict[str, Any]] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    # Per object: field -> planted (kind, value); decoys are not listed.
    planted: list[list[Planted]] = field(default_factory=list)


# Identifiers ---------------------------------------------------------------------------
def _phone(rng: random.Random, region: str, national: bool) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    while True:
        digits = str(example.national_number)
        tail = "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.parse(f"+{example.country_code}{digits[:-4]}{tail}")
        if phonenumbers.is_valid_number(number):
            form = (
                phonenumbers.PhoneNumberFormat.NATIONAL
                if national
                else phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            return phonenumbers.format_number(number, form)


def _sg_nric(rng: random.Random, valid: bool = True) -> str:
    while True:
        value = rng.choice("ST") + "".join(rng.choice("0123456789") for _ in range(7))
        letters = "ABCDEFGHIJZ"
        for letter in letters:
            if sg_nric_valid(value + letter) == valid:
                return value + letter


def _date(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)


def _mykad(rng: random.Random) -> str:
    while True:
        y, m, d = _date(rng)
        place = f"{rng.randint(1, 16):02d}"
        value = f"{y % 100:02d}{m:02d}{d:02d}{place}{rng.randint(0, 9999):04d}"
        if my_nric.is_valid(value):
            return f"{value[:6]}-{value[6:8]}-{value[8:]}"


def _th(rng: random.Random, valid: bool = True) -> str:
    body = str(rng.randint(1, 8)) + "".join(rng.choice("0123456789") for _ in range(11))
    check = int(th_pin.calc_check_digit(body))
    return body + str(check if valid else (check + 1) % 10)


def _nik(rng: random.Random) -> str:
    y, m, d = _date(rng)
    d += 40 if rng.random() < 0.5 else 0
    place = rng.choice(["317101", "327301", "357801", "517101"])
    return f"{place}{d:02d}{m:02d}{y % 100:02d}{rng.randint(1, 9999):04d}"


def _aadhaar(rng: random.Random, valid: bool = True) -> str:
    body = str(rng.randint(2, 9)) + "".join(rng.choice("0123456789") for _ in range(10))
    check = int(verhoeff.calc_check_digit(body))
    value = body + str(check if valid else (check + 1) % 10)
    return f"{value[:4]} {value[4:8]} {value[8:]}"


def _kr(rng: random.Random) -> str:
    while True:
        y, m, d = _date(rng)
        gender = "1" if y < 2000 else "3"
        body = f"{y % 100:02d}{m:02d}{d:02d}{gender}{rng.randint(0, 99999):05d}"
        value = body + str(kr_rrn.calc_check_digit(body))
        if kr_rrn.is_valid(value):
            return f"{value[:6]}-{value[6:]}"


def _email(rng: random.Random) -> str:
    first = rng.choice(["alice", "budi", "chen", "dewi", "kim", "lee", "maria", "somchai"])
    last = rng.choice(["tan", "wong", "santos", "park", "rahman", "lim", "nguyen", "singh"])
    domain = rng.choice(["gov.sg", "example.com.my", "mail.co.th", "corp.example.id", "gmail.com"])
    return f"{first}.{last}{rng.randint(1, 999)}@{domain}"


def _identifier(rng: random.Random, region: str) -> Planted:
    pick = rng.random()
    if pick < 0.3:
        return Planted("email", _email(rng))
    if pick < 0.55:
        national = rng.random() < 0.5
        return Planted("phone", _phone(rng, region if national else rng.choice(REGIONS), national))
    makers: list[tuple[str, Callable[[random.Random], str]]] = [
        ("sg-nric", _sg_nric),
        ("my-mykad", _mykad),
        ("th-pid", _th),
        ("id-nik", _nik),
        ("in-aadhaar", _aadhaar),
        ("kr-rrn", _kr),
    ]
    kind, make = rng.choice(makers)
    return Planted(kind, make(rng))


def _noise(rng: random.Random) -> str:
    parts = [
        f"first seen {rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} UTC",
        f"CVE-{rng.randint(2015, 2026)}-{rng.randint(1000, 49999)}",
        f"version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
        f"port {rng.choice([443, 8080, 4444, 3389, 445])}",
        f"{rng.randint(2, 90000):,} hosts",
        f"sha256 {rng.getrandbits(256):064x}",
        "C2 " + ".".join(str(rng.randint(1, 223)) for _ in range(4)),
        f"ticket INC{rng.randint(100000, 999999)}",
    ]
    rng.shuffle(parts)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    return f"{words}; {', '.join(parts[: rng.randint(2, 6)])}."


def _decoy(rng: random.Random) -> str:
    """Shaped like an id with a wrong check digit: finding it is a false positive."""
    return rng.choice([_sg_nric(rng, valid=False), _th(rng, valid=False), _aadhaar(rng, False)])


def build(count: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    for i in range(count):
        region = rng.choice(REGIONS)
        kind = rng.choice(["indicator", "report", "note", "opinion", "malware", "email-addr"])
        base = {
            "type": kind,
            "spec_version": "2.1",
            "id": f"{kind}--{uuid.UUID(int=rng.getrandbits(128))}",
            "created": STAMP,
            "modified": STAMP,
        }
        planted: list[Planted] = []
        text = _noise(rng)
        if rng.random() < 0.33:
            for _ in range(rng.randint(1, 3)):
                p = _identifier(rng, region)
                planted.append(p)
                text += f" Contact {p.value} for details."
        if rng.random() < 0.1:
            text += f" Reference {_decoy(rng)}."
        if kind == "indicator":
            obj = {
                **base,
                "name": f"Beacon to host {i}",
                "description": text,
                "pattern": f"[domain-name:value = 'c2-{i}.example.net']",
                "pattern_type": "stix",
            }
        elif kind == "report":
            obj = {**base, "name": f"Campaign report {i}", "description": text}
        elif kind == "note":
            obj = {**base, "abstract": "Analyst note", "content": text}
        elif kind == "opinion":
            obj = {**base, "opinion": "agree", "explanation": text}
        elif kind == "malware":
            obj = {**base, "name": f"loader-{i}", "is_family": False, "description": text}
        else:
            p = Planted("email", _email(rng))
            planted = [p]
            obj = {**base, "value": p.value}
        corpus.objects.append(obj)
        corpus.regions.append(region)
        corpus.planted.append(planted)
    return corpus


# Scoring -------------------------------------------------------------------------------
def _texts(obj: dict[str, Any]) -> list[str]:
    return [obj[k] for k in TEXT_FIELDS if isinstance(obj.get(k), str)]


@dataclass
class Score:
    found: int = 0
    right: int = 0
    planted: int = 0
    recalled: int = 0

    def add(self, found: list[tuple[str, str]], planted: list[Planted]) -> None:
        wanted = {(p.kind, p.value) for p in planted}
        got = set(found)
        self.found += len(got)
        self.right += len(got & wanted)
        self.planted += len(wanted)
        self.recalled += len(got & wanted)

    def line(self) -> str:
        recall = self.recalled / self.planted if self.planted else 1.0
        precision = self.right / self.found if self.found else 1.0
        return (
            f"planted {self.planted:>7,}  found {self.found:>7,}  "
            f"recall {recall:7.2%}  precision {precision:7.2%}"
        )


@dataclass
class Timing:
    wall: float
    cpu: float  # this process's CPU seconds: the rate a shared, busy machine still shows

    def rates(self, count: int) -> str:
        return (
            f"{count / self.wall:>10,.0f} objects/s wall, {count / self.cpu:>10,.0f} per CPU "
            f"second  ({self.wall:.2f} s wall, {self.cpu:.2f} s CPU, over {count:,} objects)"
        )


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> Timing:
    wall, cpu = _clock()
    return Timing(wall - start[0], cpu - start[1])


def run_accord(corpus: Corpus) -> tuple[Timing, list[list[tuple[str, str]]]]:
    found: list[list[tuple[str, str]]] = []
    start = _clock()
    for obj, region in zip(corpus.objects, corpus.regions, strict=True):
        found.append([(f.kind, f.value) for f in scan(obj, region)])
    return _since(start), found


def presidio_recognizers() -> list[Any]:
    import tldextract

    # Presidio's e-mail check asks tldextract for the public suffix list; nothing may be
    # downloaded, so it reads the snapshot tldextract ships.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())  # type: ignore[assignment]
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        InAadhaarRecognizer,
        KrRrnRecognizer,
        PhoneRecognizer,
        SgFinRecognizer,
        ThTninRecognizer,
    )

    return [
        EmailRecognizer(),
        PhoneRecognizer(supported_regions=REGIONS),
        SgFinRecognizer(),
        ThTninRecognizer(),
        KrRrnRecognizer(),
        InAadhaarRecognizer(),
    ]


def run_presidio(corpus: Corpus, count: int) -> tuple[Timing, list[list[tuple[str, str]]]]:
    recognizers = presidio_recognizers()
    plan = [(r, list(r.supported_entities)) for r in recognizers]
    found: list[list[tuple[str, str]]] = []
    start = _clock()
    for obj in corpus.objects[:count]:
        hits: list[tuple[str, str]] = []
        for text in _texts(obj):
            for recognizer, entities in plan:
                for r in recognizer.analyze(text, entities, None):
                    kind = PRESIDIO_KIND.get(r.entity_type)
                    if kind is not None:
                        hits.append((kind, text[r.start : r.end]))
        found.append(hits)
    return _since(start), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--presidio-objects", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    corpus = build(args.objects, args.seed)
    objects = len(corpus.objects)
    planted = sum(len(p) for p in corpus.planted)
    print(f"corpus: {objects:,} objects, {planted:,} planted identifiers, seed {args.seed}")

    ours_time, ours = run_accord(corpus)
    print(f"accord    {ours_time.rates(objects)}")
    every = Score()
    by_kind: dict[str, Score] = {}
    for found, wanted in zip(ours, corpus.planted, strict=True):
        every.add(found, wanted)
        for kind in sorted({k for k, _ in found} | {p.kind for p in wanted}):
            by_kind.setdefault(kind, Score()).add(
                [f for f in found if f[0] == kind], [p for p in wanted if p.kind == kind]
            )
    print(f"  all kinds   {every.line()}")
    for kind, score in sorted(by_kind.items()):
        print(f"  {kind:<11} {score.line()}")

    n = min(args.presidio_objects or objects, objects)
    p_time, theirs = run_presidio(corpus, n)
    print(f"presidio  {p_time.rates(n)}")
    ours_shared, theirs_shared, same = Score(), Score(), 0
    for i in range(n):
        wanted = [p for p in corpus.planted[i] if p.kind in SHARED_KINDS]
        mine = sorted({f for f in ours[i] if f[0] in SHARED_KINDS})
        other = sorted(set(theirs[i]))
        ours_shared.add(mine, wanted)
        theirs_shared.add(other, wanted)
        same += mine == other
    print(f"  kinds both have ({', '.join(sorted(SHARED_KINDS))}):")
    print(f"  accord    {ours_shared.line()}")
    print(f"  presidio  {theirs_shared.line()}")
    print(f"  objects with the same findings: {same:,} of {n:,} ({same / n:.2%})")
    wall = (objects / ours_time.wall) / (n / p_time.wall)
    cpu = (objects / ours_time.cpu) / (n / p_time.cpu)
    print(f"ratio: accord is {wall:,.1f}x presidio's rate (wall), {cpu:,.1f}x (per CPU second)")


if __name__ == "__main__":
    main()
