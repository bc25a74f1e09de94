"""labels.completed is never lost: what a call could not publish, the outbox's sweep does (once
its grace period passed), and a published task is not published again."""

from __future__ import annotations

from framesift.app.registry import create_schema
from framesift.bus.events import EventPublisher
from framesift.bus.inprocess import InProcessBus
from framesift.contracts.codec import decode
from framesift.contracts.splits import SplitSettings
from framesift.contracts.topics import LABELS_COMPLETED
from framesift.services.label.completed import CompletedOutbox
from framesift.services.label.desk import LabelDesk, create_task
from framesift.services.label.ontology import parse
from framesift.services.label.ontology_store import apply
from framesift.services.label.settings import LabelSettings, ReviewSettings
from framesift.sql.engine import make_engine
from tests.integration.test_label_desk import CAR, selected


async def test_the_sweep_publishes_what_no_call_did_once_and_after_its_grace(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'label.db'}")
    create_schema(engine, ["label"])
    with engine.begin() as connection:
        apply(
            connection,
            parse(
                {
                    "classes": [
                        {
                            "name": "car",
                            "attributes": [{"name": "state", "values": ["parked", "moving"]}, "occluded"],
                            "required_attributes": ["state"],
                        }
                    ]
                }
            ),
            author="t",
            now=1.0,
        )
        for name in ("a", "b"):
            create_task(connection, selected(name), 1.0)
    desk = LabelDesk(engine, LabelSettings(review=ReviewSettings(rate=0, new_labeller_tasks=0, min_per_stratum=0)))
    for _ in range(2):  # done in SQL, as if the process died before publishing
        task = desk.next_task("ann")
        desk.submit("ann", task["task_id"], [CAR])
    bus = InProcessBus()
    await bus.ensure_topics([LABELS_COMPLETED.name])
    outbox = CompletedOutbox(engine, EventPublisher(bus), SplitSettings(), grace_s=3600)
    assert await outbox.publish(all_now=False) == 0  # within the grace: a call may still be publishing
    assert await outbox.publish() == 2
    assert await outbox.publish() == 0  # flagged: never twice
    events = [decode(LABELS_COMPLETED, r.value, r.headers) for r in bus.records(LABELS_COMPLETED.name)]
    assert sorted(e.frame_id for e in events) == ["a", "b"]
    assert all(e.labeller == "ann" and e.annotations[0].class_name == "car" for e in events)
    assert all(e.split in ("train", "val", "evaluation") for e in events)
    engine.dispose()
