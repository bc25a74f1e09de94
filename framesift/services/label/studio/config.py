"""A Label Studio labelling config generated from one ontology version.

Boxes are RectangleLabels whose `category` is the class id (ids never move, so a new version
updates the project without renumbering); each box class's attributes are per-region Choices
shown only for that class; a flag is a one-choice checkbox (checked: "true", unchecked:
"false"). Frame classes are Choices on the image; a per-region TextArea holds the track id;
`$review` shows the reviewer's last verdict.
The control names are ours and stable: `controls()` maps them back when an annotation arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from ..ontology import Attribute, ClassKind, Ontology, OntologyClass

IMAGE = "image"
BOXES = "box"
FRAME = "frame"
TRACK = "track"
REVIEW = "review"


@dataclass(frozen=True)
class AttributeControl:
    class_id: int
    attribute: Attribute

    @property
    def is_flag(self) -> bool:
        return not self.attribute.values


def attribute_control(cls: OntologyClass, attribute: Attribute) -> str:
    # Names only our own characters (ids and [a-z0-9_.-]): never parsed, only looked up.
    return f"attr-{cls.id}-{attribute.name}"


def controls(ontology: Ontology) -> dict[str, AttributeControl]:
    """Every attribute control of the version's active box classes, by control name."""
    return {
        attribute_control(cls, a): AttributeControl(cls.id, a)
        for cls in ontology.active(ClassKind.BOX)
        for a in cls.attributes
    }


def label_config(ontology: Ontology) -> str:
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=f"${REVIEW}", size="6")
    ET.SubElement(view, "Image", name=IMAGE, value=f"${IMAGE}", zoom="true")
    boxes = ET.SubElement(view, "RectangleLabels", name=BOXES, toName=IMAGE, strokeWidth="2", canRotate="false")
    box_classes = ontology.active(ClassKind.BOX)
    for cls in box_classes:
        ET.SubElement(boxes, "Label", value=cls.name, category=str(cls.id), background=cls.colour, hint=cls.title)
    for cls in box_classes:
        for attribute in cls.attributes:
            choices = ET.SubElement(
                view,
                "Choices",
                name=attribute_control(cls, attribute),
                toName=IMAGE,
                perRegion="true",
                whenLabelValue=cls.name,
                choice="single",
                showInline="true",
                required="true" if attribute.name in cls.required_attributes else "false",
            )
            if attribute.values:
                ET.SubElement(choices, "Header", value=attribute.name, size="6")
                for value in attribute.values:
                    ET.SubElement(choices, "Choice", value=value)
            else:
                ET.SubElement(choices, "Choice", value=attribute.name)  # checked: true; left unchecked: false
    ET.SubElement(
        view, "TextArea", name=TRACK, toName=IMAGE, perRegion="true", maxSubmissions="1", editable="true",
        placeholder="track id", displayMode="region-list",
    )  # fmt: skip
    frame_classes = ontology.active(ClassKind.FRAME)
    if frame_classes:
        frames = ET.SubElement(view, "Choices", name=FRAME, toName=IMAGE, choice="multiple", showInline="true")
        for cls in frame_classes:
            ET.SubElement(frames, "Choice", value=cls.name, hint=cls.title)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")
