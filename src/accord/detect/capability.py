"""Detection as a capability: compiled STIX patterns over logs, sightings, correlation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.capability import Capability

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.detect.correlate import Correlations
    from accord.detect.service import Detection
    from accord.exchange.service import Index
    from accord.node import Node


@dataclass(frozen=True, slots=True)
class DetectServices:
    detection: Detection
    correlations: Correlations


def _wire(node: Node) -> DetectServices:
    from accord.detect.correlate import Correlations
    from accord.detect.service import Detection
    from accord.detect.warninglists import shipped
    from accord.store.detect import ObservableIndexRepository

    detection = Detection(node.exchange, node.orgs, node.clock)
    correlations = Correlations(
        node.exchange, ObservableIndexRepository(node.engine), node.orgs, warninglists=shipped()
    )
    return DetectServices(detection, correlations)


def _indexes(node: Node) -> Sequence[Index]:
    return [DETECT.service(node).correlations]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import detect

    return [detect.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import detect

    return [detect.commands]


def _tables() -> Sequence[Table]:
    from accord.store import detect

    return [detect.observable_index]


DETECT: Capability[DetectServices] = Capability(
    name="detect",
    summary="Match logs against readable indicators; sightings back to their owners.",
    wire=_wire,
    api=_api,
    commands=_commands,
    indexes=_indexes,
    tables=_tables,
)
