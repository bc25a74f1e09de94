"""The labelling ontology: classes with stable ids, their attributes and rules, in versions.

A change makes a new version and never moves an id: a class keeps its id when it is renamed, a
removed class stays in the ontology as retired (tasks labelled under an older version still map
through it), and a new class takes an id no class ever had. A task keeps the version it was
labelled under; `Ontology.map_id` answers for any version's ids.

The file form (YAML or JSON) is `OntologyFile`:

    classes:
      - {id: 1, name: car, colour: "#e6194b", attributes: [occluded, {name: state, values: [parked, moving]}],
         required_attributes: [state], min_box_px: 8}
      - {id: 2, name: person}
      - {name: night, kind: frame}   # a frame-level classification; ids are given on first sight
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class OntologyError(ValueError):
    """An ontology (file or API body) that cannot become a version; the message names the class."""


class ClassKind(StrEnum):
    BOX = "box"  # an object drawn as a box
    FRAME = "frame"  # a frame-level classification (night, rain, crowded, ...)


class Attribute(BaseModel):
    """A per-box attribute: a flag ("true"/"false") when `values` is empty, else one of `values`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=_NAME)]
    values: tuple[Annotated[str, Field(pattern=_NAME)], ...] = ()

    def allows(self, value: str) -> bool:
        return value in (self.values or ("true", "false"))


class OntologyClass(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[int, Field(ge=1, le=1_000_000)]
    name: Annotated[str, Field(pattern=_NAME)]
    display_name: str = ""
    colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#4363d8"
    kind: ClassKind = ClassKind.BOX
    attributes: tuple[Attribute, ...] = ()
    required_attributes: tuple[str, ...] = ()
    # Boxes smaller than this many pixels on either side break the ontology's rules (a QA flag).
    min_box_px: Annotated[int, Field(ge=0)] = 0
    retired: bool = False

    @field_validator("attributes", mode="before")
    @classmethod
    def _flags_by_name(cls, value: Any) -> Any:
        """`attributes: [occluded]` is shorthand for a flag attribute."""
        return [{"name": item} if isinstance(item, str) else item for item in value or ()]

    @model_validator(mode="after")
    def _required_are_declared(self) -> OntologyClass:
        names = [a.name for a in self.attributes]
        if len(set(names)) != len(names):
            raise ValueError(f"class {self.name!r} declares an attribute twice")
        missing = sorted(set(self.required_attributes) - set(names))
        if missing:
            raise ValueError(f"class {self.name!r} requires undeclared attributes {missing}")
        return self

    @property
    def title(self) -> str:
        return self.display_name or self.name

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)


class ProposedClass(OntologyClass):
    """A class as a file or an API body gives it: the id may be left out for a new class."""

    id: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # type: ignore[assignment]


class OntologyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: list[ProposedClass]


class Ontology(BaseModel):
    """One version: every class ever defined (retired ones included), by id."""

    model_config = ConfigDict(frozen=True)

    version: int
    classes: tuple[OntologyClass, ...]

    def active(self, kind: ClassKind | None = None) -> list[OntologyClass]:
        return [c for c in self.classes if not c.retired and (kind is None or c.kind == kind)]

    def by_name(self, name: str) -> OntologyClass | None:
        """The active class of that name (a retired class's name may be taken again)."""
        return next((c for c in self.classes if c.name == name and not c.retired), None)

    def by_id(self, class_id: int) -> OntologyClass | None:
        return next((c for c in self.classes if c.id == class_id), None)

    def map_id(self, class_id: int) -> OntologyClass:
        """What an id from any earlier version is called in this one (ids never move)."""
        found = self.by_id(class_id)
        if found is None:
            raise OntologyError(f"class id {class_id} was never part of this ontology")
        return found

    def document(self) -> dict[str, Any]:
        return {"version": self.version, "classes": [c.model_dump(mode="json") for c in self.classes]}


def read_file(path: Path) -> OntologyFile:
    """A YAML or JSON ontology file; errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OntologyError(f"cannot read the ontology file {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise OntologyError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return parse(document, source=str(path))


def parse(document: Any, *, source: str = "the ontology") -> OntologyFile:
    try:
        return OntologyFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OntologyError(f"{source}: {where}: {first['msg']}") from None


def next_version(current: Ontology | None, proposed: OntologyFile) -> Ontology | None:
    """The version `proposed` makes after `current`, or None when it changes nothing."""
    earlier = {c.id: c for c in current.classes} if current else {}
    # New classes without an id take the next ones after every id used before or given here.
    taken = max([*earlier, *(c.id for c in proposed.classes if c.id is not None)], default=0)
    classes: dict[int, OntologyClass] = {}
    for given in proposed.classes:
        class_id = given.id
        if class_id is None:  # a new class, or an existing one named without its id
            match = current.by_name(given.name) if current else None
            if match is None:
                taken += 1
            class_id = match.id if match else taken
        if class_id in classes:
            raise OntologyError(f"class id {class_id} is given twice ({classes[class_id].name!r}, {given.name!r})")
        if class_id not in earlier and class_id <= max(earlier, default=0):
            raise OntologyError(f"class id {class_id} ({given.name!r}) was never used: new classes take new ids")
        if class_id in earlier and earlier[class_id].kind != given.kind:
            raise OntologyError(f"class {class_id} ({given.name!r}) cannot change kind: ids never move")
        classes[class_id] = OntologyClass(**{**given.model_dump(), "id": class_id})
    missing = sorted(set(earlier) - set(classes))
    if missing:
        names = ", ".join(f"{i} ({earlier[i].name!r})" for i in missing)
        raise OntologyError(f"classes {names} are missing: retire a class with `retired: true` (ids never move)")
    active = [c.name for c in classes.values() if not c.retired]
    twice = sorted({n for n in active if active.count(n) > 1})
    if twice:
        raise OntologyError(f"class names {twice} are used by more than one active class")
    ordered = tuple(sorted(classes.values(), key=lambda c: c.id))
    if current is not None and ordered == current.classes:
        return None
    return Ontology(version=(current.version if current else 0) + 1, classes=ordered)
