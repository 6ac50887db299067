"""Detection over many subjects: stable shards, lossless packing, event-time order per subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.detection import SHARDS, detect_shard, kpis_of, pack_events, shard_of, unpack_events
from safecampus.pipelines.domain import Detector, DomainPipeline
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)


class Reading(Record):
    subject: str
    occurred_at: datetime
    value: int


class Rising(Detector[Reading]):
    """Alerts when a reading is lower than the one before it (so order matters); derives one record per call."""

    def __init__(self, subject: str) -> None:
        self.subject, self.last, self.seen = subject, None, 0

    def observe(self, event: Reading) -> list[Alert]:
        self.seen += 1
        dropped = self.last is not None and event.value < self.last
        self.last = event.value
        if not dropped:
            return []
        return [
            new_alert(
                domain="fire",
                rule="test.drop",
                subject=self.subject,
                window=event.occurred_at.isoformat(),
                severity="info",
                occurred_at=event.occurred_at,
                detected_at=event.occurred_at,
                title="drop",
            )
        ]

    def expire(self, now: datetime) -> list[Alert]:
        return [
            new_alert(
                domain="fire",
                rule="test.end",
                subject=self.subject,
                window="",
                severity="info",
                occurred_at=now,
                detected_at=now,
                title="end",
            )
        ]

    def take_records(self) -> list[Record]:
        return [Reading(subject=self.subject, occurred_at=T0, value=self.seen)]


class Readings(DomainPipeline[Reading]):
    domain = "fire"
    event_type = Reading

    def decode(self, envelope: RawEnvelope) -> list[Reading]:
        return []

    def subject(self, event: Reading) -> str:
        return event.subject

    def event_id(self, event: Reading) -> str:
        return f"{event.subject}/{event.occurred_at.isoformat()}"

    def new_detector(self, subject: str) -> Rising:
        return Rising(subject)


def test_shards_are_stable_and_in_range() -> None:
    subjects = [f"dev-{i}" for i in range(500)]
    shards = [shard_of(s) for s in subjects]
    assert shards == [shard_of(s) for s in subjects]
    assert all(0 <= s < SHARDS for s in shards) and len(set(shards)) > SHARDS // 2


def test_packed_events_come_back_equal() -> None:
    pairs = [(f"d{i}", Reading(subject=f"d{i}", occurred_at=T0 + timedelta(seconds=i), value=i)) for i in range(50)]
    origins = {f"d{i}": i + 1 for i in range(50)}
    back, where = unpack_events(Reading, pack_events(pairs, origins))  # type: ignore[arg-type]
    assert back == pairs and where == origins


def test_each_subject_sees_its_events_in_event_time_order_then_expires() -> None:
    pipeline = Readings(Settings(), RegistryView())
    # Arrival order says "drop" for a; event time says it only rose.
    a = [Reading(subject="a", occurred_at=T0 + timedelta(minutes=m), value=v) for m, v in ((2, 3), (0, 1), (1, 2))]
    b = [Reading(subject="b", occurred_at=T0 + timedelta(minutes=m), value=v) for m, v in ((0, 5), (1, 4))]
    detected = detect_shard(pipeline, [(e.subject, e) for e in [*a, *b]], until=T0 + timedelta(hours=1))  # type: ignore[arg-type]
    rules = sorted((x.subject, x.rule) for x in detected.alerts)
    assert rules == [("a", "test.end"), ("b", "test.drop"), ("b", "test.end")]
    assert sorted((r.subject, r.value) for r in detected.records) == [("a", 3), ("b", 2)]  # type: ignore[attr-defined]
    without_end = detect_shard(pipeline, [(e.subject, e) for e in b], until=None)  # type: ignore[arg-type]
    assert [x.rule for x in without_end.alerts] == ["test.drop"]


def test_kpis_of_summed_partials() -> None:
    kpis = kpis_of("fire", {("fire_events_total", ()): 3.0, ("x", (("district", "D1"),)): 0.1234567}, T0, T0)
    assert [(k.metric, k.labels, k.value) for k in kpis] == [
        ("fire_events_total", {}, 3.0),
        ("x", {"district": "D1"}, 0.123457),
    ]


class Fragile(Rising):
    """A rule with a bug: it fails on one value (as a date at the calendar's end once did)."""

    def observe(self, event: Reading) -> list[Alert]:
        if event.value == 13:
            raise OverflowError("date value out of range")
        return super().observe(event)


class FragileReadings(Readings):
    def new_detector(self, subject: str) -> Fragile:
        return Fragile(subject)


def test_a_rule_that_fails_on_one_record_costs_that_record_not_the_run() -> None:
    from safecampus.pipelines.detection import refused_dlq

    pipeline = FragileReadings(Settings(), RegistryView())
    events = [
        Reading(subject="a", occurred_at=T0 + timedelta(minutes=m), value=v) for m, v in ((0, 5), (1, 13), (2, 4))
    ]
    detected = detect_shard(pipeline, [(e.subject, e) for e in events], until=None)  # type: ignore[arg-type]
    assert [a.rule for a in detected.alerts] == ["test.drop"]  # 5 → 4 still seen: the run went on
    ((subject, event, reason),) = detected.refused
    assert subject == "a" and event == events[1] and "OverflowError" in reason
    origins = {pipeline.event_id(e): n for n, e in enumerate(events, start=1)}
    (dlq,) = refused_dlq("fire", detected.refused, pipeline.event_id, origins, "day.jsonl", None)  # type: ignore[arg-type]
    assert (dlq.step, dlq.source_topic, dlq.source_offset) == ("detect", "day.jsonl", 2)
