"""Ontology versions in SQL: the latest, any earlier one, and applying a proposed ontology."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from .ontology import Ontology, OntologyClass, OntologyError, OntologyFile, next_version
from .tables import OntologyVersion

VERSIONS = OntologyVersion.__table__


class OntologyVersionNotFoundError(LookupError):
    pass


def _load(row) -> Ontology:
    return Ontology(version=row.version, classes=tuple(OntologyClass(**c) for c in row.classes))


def latest(connection: Connection) -> Ontology | None:
    row = connection.execute(sa.select(VERSIONS).order_by(VERSIONS.c.version.desc()).limit(1)).first()
    return _load(row) if row else None


def version(connection: Connection, number: int) -> Ontology:
    row = connection.execute(sa.select(VERSIONS).where(VERSIONS.c.version == number)).first()
    if row is None:
        raise OntologyVersionNotFoundError(f"no ontology version {number}")
    return _load(row)


def versions(connection: Connection) -> list[Ontology]:
    return [_load(row) for row in connection.execute(sa.select(VERSIONS).order_by(VERSIONS.c.version))]


def apply(connection: Connection, proposed: OntologyFile, *, author: str, now: float) -> tuple[Ontology, bool]:
    """The version `proposed` makes (True) or the latest when it changes nothing (False)."""
    current = latest(connection)
    made = next_version(current, proposed)
    if made is None:
        assert current is not None  # next_version only answers None for an unchanged ontology
        return current, False
    try:
        with connection.begin_nested():
            connection.execute(
                VERSIONS.insert().values(
                    version=made.version,
                    classes=[c.model_dump(mode="json") for c in made.classes],
                    created_at=now,
                    author=author[:128],
                )
            )
    except IntegrityError:
        raise OntologyError(f"ontology version {made.version} was made meanwhile: apply again") from None
    return made, True
