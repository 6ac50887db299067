"""The streaming runner's detection of one partition gives the same alerts whether its detectors lived through
the whole stream or were rebuilt from the store part way (another process took the partition over).

Three weeks of one institution's forms, each afternoon form synced the next morning, are fed as Kafka batches
to `ProcessBatch` with a real SQLite store: once by one instance, and once with the partition moved at each
of several points to an instance that has nothing in memory. A move after a timer raised a patrol alert but
before the late form that brings the day up to two patrols needs the stored alerts (the rebuilt detector
must resolve what it never raised); a move weeks after a finding opened needs every stored form.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest
from apache_beam.utils.timestamp import Timestamp
from fire_forms import at, form
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.kafka import KafkaMessage
from safecampus.connectors.registry import registry_at
from safecampus.connectors.store import engine_for
from safecampus.pipelines import streaming
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.fire import FirePipeline
from safecampus.pipelines.streaming import ProcessBatch
from safecampus.schemas.alert import Alert
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireInspection
from safecampus.schemas.store import AlertRow

TOPIC = "raw.fire"


def history(pipeline: FirePipeline) -> list[FireInspection]:
    """T001 on the open days of 7–25 September: two patrols a day (one on the 16th), an e-bike finding on the
    7th rectified on the 14th and confirmed on the 15th, a video finding the 10th's patrols find compliant."""
    forms = []
    for n, day in enumerate(f"09-{d:02d}" for d in (7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 24, 25)):
        for p, clock in enumerate(("08:30", "16:30")):
            if day == "09-16" and p == 1:
                continue
            fail: dict[str, dict[str, object]] = {}
            if n == 0 and p == 0:
                fail["E01"] = {"deadline": "2026-09-09"}
            elif n <= 5:
                fail["E01"] = {"rectified_at": at("09-14", "15:00").isoformat()} if (n, p) == (5, 1) else {}
            if 1 <= n <= 2:
                fail["V01"] = {}
            forms.append(form(pipeline, f"{day}-P{p}", at(day, clock), fail))
    confirm = {"E01": {"confirmed_by": "fire_safety_manager"}}
    forms.append(form(pipeline, "S", at("09-15", "10:00"), confirm, passed=(), role="fire_safety_manager"))
    return forms


def synced(inspection: FireInspection) -> datetime:
    """When the app synced a form: afternoon forms at 09:00 the next morning."""
    local = inspection.inspected_at
    return at(f"{local.month:02d}-{local.day + 1:02d}", "09:00") if local.hour >= 12 else local


def messages(forms: list[FireInspection]) -> list[KafkaMessage]:
    out = []
    for offset, inspection in enumerate(sorted(forms, key=lambda f: (synced(f), f.inspection_id))):
        received = synced(inspection)
        envelope = RawEnvelope(
            domain="fire",
            source="inspection-json",
            payload=inspection.model_dump_json(exclude={"district"}),
            received_at=received,
            key=inspection.institution_id,
        )
        value = envelope.model_dump_json().encode()
        key = inspection.institution_id.encode()
        out.append(KafkaMessage(TOPIC, 0, offset, key, value, (), int(received.timestamp() * 1000)))
    return out


def stream(store: str, batches: list[list[KafkaMessage]], moves: set[int]) -> dict[str, tuple[str, str, str]]:
    """Feed the batches; before each batch index in `moves` a fresh instance (another process) takes over.
    The store's last update of every alert: fingerprint → (rule, status, severity)."""
    doer: ProcessBatch | None = None
    for number, batch in enumerate(batches):
        if doer is None or number in moves:
            if doer is not None:
                list(doer.finish_bundle())
                doer.teardown()
            doer = ProcessBatch("fire", Settings(), store, store)
            doer.setup()
            doer.start_bundle()
        for _ in doer.process(batch, Timestamp.of(max(m.timestamp_ms for m in batch) / 1000)):
            pass
    assert doer is not None
    list(doer.finish_bundle())
    doer.teardown()
    with Session(engine_for(store)) as session:
        return {r.fingerprint: (r.rule, r.status, r.severity) for r in session.exec(select(AlertRow)).all()}


def store_copy(city_store: str, tmp_path_name: str) -> str:
    path = city_store.removeprefix("sqlite:///")
    copy = path.replace("safecampus.db", f"{tmp_path_name}.db")
    with open(path, "rb") as source, open(copy, "wb") as target:
        target.write(source.read())
    return f"sqlite:///{copy}"


@pytest.mark.parametrize("moves", [{5}, {9, 20}, {24}, None], ids=["early", "twice", "late", "every-batch"])
def test_a_rebuilt_detector_gives_the_same_alerts(city_store: str, moves: set[int] | None) -> None:
    pipeline = FirePipeline(Settings(), registry_at(city_store))
    forms = history(pipeline)
    batches = [[m] for m in messages(forms)]  # one form a bundle: a move can fall between any two
    moves = set(range(1, len(batches))) if moves is None else moves
    once = stream(store_copy(city_store, "once"), batches, set())
    moved = stream(store_copy(city_store, "moved"), batches, moves)
    assert moved == once
    # and both are replay's last updates over the same forms, with its clock at the stream's end
    end = datetime.fromtimestamp(batches[-1][-1].timestamp_ms / 1000, UTC)
    replayed: dict[str, Alert] = {}
    for alert in detect_shard(pipeline, [("T001", f) for f in forms], end).alerts:
        replayed[alert.fingerprint] = alert
    firing = {fp for fp, (_, status, _) in once.items() if status == "firing"}
    assert firing == {fp for fp, a in replayed.items() if a.status == "firing"}
    rules = {rule for rule, _, _ in once.values()}
    assert {"fire.patrol_missing", "fire.hazard.ebike", "fire.hazard_overdue"} <= rules  # the history has them


def test_a_late_form_resolves_a_patrol_alert_a_timer_raised_before_the_move(city_store: str) -> None:
    """T001's afternoon patrol of the 10th syncs at 09:00 on the 11th; T002's morning patrol of the 11th (08:00)
    moved the partition's clock past the 10th's judgement first, so T001's timer raised the 10th's alert, which
    none of T001's own forms implies. Moved between the two, the rebuilt detector must still resolve it."""
    pipeline = FirePipeline(Settings(), registry_at(city_store))
    forms = [
        form(pipeline, "P0", at("09-10", "08:30")),
        form(pipeline, "P1", at("09-10", "16:30")),
        *(form(pipeline, f"B{n}", at(day, clock), institution="T002")
          for n, (day, clock) in enumerate((("09-10", "08:30"), ("09-10", "16:30"), ("09-11", "08:00")))),
    ]  # fmt: skip
    batches = [[m] for m in messages(forms)]
    late = len(batches) - 1
    assert b"P1" in batches[late][0].value and b"T001" in batches[late][0].value
    raised = {
        fp
        for fp, (rule, status, _) in stream(store_copy(city_store, "before"), batches[:late], set()).items()
        if rule == "fire.patrol_missing" and status == "firing"
    }
    assert len(raised) == 1, "the 10th's patrol alert of T001 is raised by the timer before its late form"
    for name, moves in (("once", set()), ("moved", {late})):
        alerts = stream(store_copy(city_store, name), batches, moves)
        assert all(alerts[fp][1] == "resolved" for fp in raised), name


def test_an_idle_instance_torn_down_leaves_its_busy_sibling_the_partition_state(city_store: str) -> None:
    """Beam tears down a bundle processor idle for a minute while the pipeline's other instances go on: the
    partition states they share stay (no rebuild of every subject from the store) until the last one goes."""
    pipeline = FirePipeline(Settings(), registry_at(city_store))
    batch = messages(history(pipeline))[:3]
    store = store_copy(city_store, "siblings")
    busy = ProcessBatch("fire", Settings(), store, store)
    idle = pickle.loads(pickle.dumps(busy))  # Beam's copy for a second bundle processor: the same pipeline
    busy.setup()
    idle.setup()
    busy.start_bundle()
    list(busy.process(batch, Timestamp.of(batch[-1].timestamp_ms / 1000)))
    key = (busy.run_id, TOPIC, 0)
    state = streaming._STATES[key]
    assert state.detectors, "the batch made T001's detector"
    idle.teardown()
    assert streaming._STATES.get(key) is state
    busy.teardown()
    assert key not in streaming._STATES
