"""The per-terminal coordinator: alert once per (fingerprint, status), runs as records, deadlines."""

from __future__ import annotations

from collections import Counter

from bus_route import STOP_SECONDS, TERMINAL, at, detect, detected, drive, escort, route_registry, trace

from safecampus.config import Settings
from safecampus.pipelines.bus import BusPipeline
from safecampus.schemas.bus import BusRun

T0 = STOP_SECONDS[0]
# Five timed stops 1 km apart, ten minutes apart: a bus can be late, catch up, and be late again.
FIVE_STOPS = tuple((1000.0 * k, T0 + 600 * k) for k in range(5))


def test_late_on_time_late_again_is_one_late_arrival_alert_once_per_status() -> None:
    pipeline = BusPipeline(Settings(), route_registry(FIVE_STOPS))
    late = Settings().bus.on_time_late_s + 60
    # Leave on time; stop 1 late; stop 2 on time; stop 3 late again; stop 4 on time.
    events = drive(
        pipeline,
        [
            (T0 - 60, 0),
            (T0, 0),
            (T0 + 600 + late, 1000),
            (T0 + 1200, 2000),
            (T0 + 1800 + late, 3000),
            (T0 + 2400, 4000),
        ],
    )
    events.append(escort(pipeline, T0 + 2500))
    out = detected(pipeline, events, until=at(T0 + 7200))
    [run] = out.records
    assert isinstance(run, BusRun)
    assert [v.status for v in run.visits] == ["on_time", "late", "on_time", "late", "on_time"]
    # The rules resolve and re-fire the run's one late-arrival alert; the detector emits each
    # (fingerprint, status) once, so a person sees it open and close once.
    assert [(a.rule, a.status) for a in out.alerts] == [
        ("bus.late_arrival", "firing"),
        ("bus.late_arrival", "resolved"),
    ]
    assert max(Counter((a.fingerprint, a.status) for a in out.alerts).values()) == 1


def test_every_event_twice_gives_the_same_alerts_and_runs_as_once() -> None:
    pipeline = BusPipeline(Settings(), route_registry())
    events = trace(pipeline, delay_s=480, overspeed=True, off_route=True, gap=(180, 300), all_off=False)
    once = detected(pipeline, events, until=at(12 * 3600))
    twice = detected(pipeline, events + events, until=at(12 * 3600))
    assert twice == once
    assert max(Counter((a.fingerprint, a.status) for a in twice.alerts).values()) == 1


def test_a_run_is_taken_once_and_expire_after_the_end_adds_nothing() -> None:
    pipeline = BusPipeline(Settings(), route_registry())
    detector = pipeline.new_detector(TERMINAL)
    for event in trace(pipeline):
        detector.observe(event)
    [run] = detector.take_records()
    assert isinstance(run, BusRun) and run.reached_end and run.trip_id == "R1-AM-0"
    assert detector.take_records() == []
    assert detector.expire(at(12 * 3600)) == [] and detector.take_records() == []
    assert detector.next_deadline() is None  # confirmed, ended: nothing left to wait for


def test_unregistered_terminal_has_no_runs_and_only_its_registry_alert() -> None:
    pipeline = BusPipeline(Settings(), route_registry())
    stranger = "013899999999"
    events = [e.model_copy(update={"terminal_id": stranger}) for e in trace(pipeline)]
    out = detected(pipeline, events, until=at(12 * 3600))
    assert out.records == []
    assert [a.rule for a in detect(pipeline, events)] == ["bus.unregistered"]
