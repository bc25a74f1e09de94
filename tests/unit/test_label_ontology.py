"""The versioned ontology: ids never move when classes are renamed, added or retired."""

from __future__ import annotations

import json

import pytest

from framesift.services.label.ontology import ClassKind, OntologyError, next_version, parse, read_file

FIRST = {
    "classes": [
        {"id": 1, "name": "car", "attributes": ["occluded", {"name": "state", "values": ["parked", "moving"]}]},
        {"id": 2, "name": "person", "colour": "#3cb44b"},
        {"name": "night", "kind": "frame"},
    ]
}


def first():
    made = next_version(None, parse(FIRST))
    assert made is not None
    return made


def test_a_first_version_gives_new_classes_the_next_ids() -> None:
    made = first()
    assert made.version == 1
    assert [(c.id, c.name, c.kind) for c in made.classes] == [
        (1, "car", ClassKind.BOX),
        (2, "person", ClassKind.BOX),
        (3, "night", ClassKind.FRAME),
    ]
    assert made.by_name("car").attribute("state").allows("parked")
    assert not made.by_name("car").attribute("state").allows("flying")
    assert made.by_name("car").attribute("occluded").allows("true")


def test_renaming_adding_and_retiring_keep_every_id() -> None:
    v1 = first()
    renamed = {
        "classes": [
            {"id": 1, "name": "vehicle", "display_name": "Vehicle", "attributes": FIRST["classes"][0]["attributes"]},
            {"id": 2, "name": "person", "colour": "#3cb44b", "retired": True},
            {"id": 3, "name": "night", "kind": "frame"},
            {"name": "bicycle"},
        ]
    }
    v2 = next_version(v1, parse(renamed))
    assert v2 is not None
    assert v2.version == 2
    assert v2.map_id(1).name == "vehicle"  # a task labelled "car" under v1 maps to its new name
    assert v2.map_id(2).retired
    assert v2.by_name("person") is None  # retired: no longer labelled, still mapped
    assert v2.by_name("bicycle").id == 4  # a new class takes an id no class ever had
    # A retired class comes back under its own id, and a new class after it still takes a new one.
    back = {
        "classes": [
            *renamed["classes"][:1],
            {"id": 2, "name": "person"},
            *renamed["classes"][2:3],
            {"id": 4, "name": "bicycle"},
            {"name": "bus"},
        ]
    }
    v3 = next_version(v2, parse(back))
    assert v3.by_name("person").id == 2
    assert v3.by_name("bus").id == 5
    with pytest.raises(OntologyError, match="never part"):
        v3.map_id(99)


def test_an_unchanged_ontology_makes_no_version_and_a_named_class_keeps_its_id() -> None:
    v1 = first()
    assert next_version(v1, parse(FIRST)) is None
    without_ids = {"classes": [{k: v for k, v in c.items() if k != "id"} for c in FIRST["classes"]]}
    assert next_version(v1, parse(without_ids)) is None  # matched by name: the same ids


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([{"id": 1, "name": "car"}, {"id": 3, "name": "night", "kind": "frame"}], r"2 \('person'\) are missing"),
        ([*FIRST["classes"][:2], {"id": 3, "name": "night", "kind": "box"}], "cannot change kind"),
        ([*FIRST["classes"], {"id": 1, "name": "truck"}], "given twice"),
        ([*FIRST["classes"], {"id": 4, "name": "car"}], "more than one active class"),
    ],
)
def test_changes_that_would_move_an_id_are_refused_with_the_class_named(classes, message) -> None:
    with pytest.raises(OntologyError, match=message):
        next_version(first(), parse({"classes": classes}))


def test_a_never_used_id_below_the_highest_is_refused() -> None:
    v1 = next_version(None, parse({"classes": [{"id": 1, "name": "car"}, {"id": 5, "name": "bus"}]}))
    with pytest.raises(OntologyError, match="never used"):
        next_version(
            v1, parse({"classes": [{"id": 1, "name": "car"}, {"id": 5, "name": "bus"}, {"id": 3, "name": "x"}]})
        )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"classes": [{"name": "Car!"}]}, r"classes\.0\.name"),
        ({"classes": [{"name": "car", "colour": "red"}]}, r"classes\.0\.colour"),
        ({"classes": [{"name": "car", "required_attributes": ["parked"]}]}, "undeclared attributes"),
        ({"classes": [{"name": "car", "size": 3}]}, r"classes\.0\.size"),
        ({"labels": []}, "classes"),
    ],
)
def test_a_bad_document_names_the_field(document, message) -> None:
    with pytest.raises(OntologyError, match=message):
        parse(document)


def test_yaml_and_json_files_give_the_same_ontology(tmp_path) -> None:
    import yaml

    (tmp_path / "o.yaml").write_text(yaml.safe_dump(FIRST))
    (tmp_path / "o.json").write_text(json.dumps(FIRST))
    assert read_file(tmp_path / "o.yaml") == read_file(tmp_path / "o.json")
    (tmp_path / "bad.yaml").write_text("classes: [unclosed")
    with pytest.raises(OntologyError, match="not valid YAML"):
        read_file(tmp_path / "bad.yaml")
    with pytest.raises(OntologyError, match="cannot read"):
        read_file(tmp_path / "missing.yaml")
