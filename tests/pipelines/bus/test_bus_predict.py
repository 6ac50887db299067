"""Arrival predictions on the hand-made route: the timetable's times, learned ones, delay carried on.

The route: stops at 0, 2 and 4 km, timed 07:00, 07:05 and 07:10 (bus_route.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
from bus_route import DAY, STOP_SECONDS, TERMINAL, at, route_registry, trace

from safecampus.config import BusRules, Settings
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.bus.geometry import RouteGeometry, TripPlan
from safecampus.pipelines.bus.history import TravelTimes
from safecampus.pipelines.bus.predict import ArrivalPredictor, Progress, SegmentModel
from safecampus.schemas.bus import BusRun, StopArrival, StopVisit

RULES = BusRules()  # dwell 30 s, 60 s per segment of timetable uncertainty, 3 runs make a history
T0 = STOP_SECONDS[0]


def _plan() -> TripPlan:
    plan = RouteGeometry(route_registry()).trip("R1-AM-0")
    assert plan is not None
    return plan


def _run(day: date, segments: tuple[float, float], start_s: float = T0) -> BusRun:
    """A finished run of R1-AM-0 that left stop 0 at `start_s` and took `segments` seconds to each next stop."""
    times = [start_s, start_s + segments[0], start_s + segments[0] + segments[1]]
    visits = [
        StopVisit(
            stop_id=f"R1-{k}",
            stop_sequence=k,
            trip_id="R1-AM-0",
            kind="departure" if k == 0 else "arrival",
            scheduled=at(STOP_SECONDS[k], day),
            actual=at(t, day),
            delay_s=round(t - STOP_SECONDS[k]),
            status="on_time",
        )
        for k, t in enumerate(times)
    ]
    return BusRun(
        subject=TERMINAL,
        trip_id="R1-AM-0",
        route_id="R1",
        service_day=day,
        started_at=at(start_s - 120, day),
        ended_at=at(times[-1], day),
        reached_end=True,
        visits=visits,
    )


def _history(*segments: tuple[float, float], start_s: float = T0) -> TravelTimes:
    times = TravelTimes(RULES.prediction_min_runs)
    for n, pair in enumerate(segments):
        times.learn(_run(DAY - timedelta(days=n + 1), pair, start_s))
    return times


def _offsets(stops: Sequence[StopArrival], since: datetime) -> list[float]:
    return [(s.predicted - since).total_seconds() for s in stops]


def test_without_history_the_timetable_carries_the_current_delay_to_every_later_stop() -> None:
    plan, now = _plan(), at(T0 + 210)  # left 60 s late, halfway to stop 1 after 150 s
    model = SegmentModel(TravelTimes(RULES.prediction_min_runs), RULES)
    stops = model.predict(plan, DAY, Progress(next_stop=1, left_at=at(T0 + 60), fraction=0.5), now)
    assert [s.stop_id for s in stops] == ["R1-1", "R1-2"]
    assert _offsets(stops, now) == [150, 450]  # half of the first segment's 300 s, then the next 300 s
    assert [(s.predicted - s.scheduled).total_seconds() for s in stops] == [60, 60]  # the delay propagates
    assert [s.source for s in stops] == ["schedule", "schedule"]
    assert [s.uncertainty_s for s in stops] == [42, 73]  # √(60² × 0.5), √(60² × 0.5 + 60²)


def test_learned_segment_times_replace_the_timetable() -> None:
    plan, now = _plan(), at(T0 + 210)
    model = SegmentModel(_history((230, 350), (240, 360), (250, 370)), RULES)
    stops = model.predict(plan, DAY, Progress(next_stop=1, left_at=at(T0 + 60), fraction=0.5), now)
    assert _offsets(stops, now) == [120, 480]  # half of 240 s, then 360 s
    assert [(s.predicted - s.scheduled).total_seconds() for s in stops] == [30, 90]  # history: later at stop 2
    assert [s.source for s in stops] == ["history", "history"]
    assert [s.uncertainty_s for s in stops] == [7, 12]  # sd 10 s each: √(100 × 0.5), √(50 + 100)


def test_a_bus_standing_at_a_stop_has_the_rest_of_its_dwell_then_the_drive_ahead() -> None:
    plan = _plan()
    model = SegmentModel(_history((230, 350), (240, 360), (250, 370)), RULES)
    arrived = at(T0 + 300)
    standing = model.predict(plan, DAY, Progress(2, arrived, 0.0), arrived + timedelta(seconds=10))
    assert _offsets(standing, arrived) == [360]  # 360 s from arriving at stop 1: 10 s gone, 350 s ahead
    driving = model.predict(plan, DAY, Progress(2, arrived, 0.5), arrived + timedelta(seconds=200))
    assert _offsets(driving, arrived) == [200 + 0.5 * (360 - 30)]  # half of the drive, the dwell is behind it


def test_an_hour_with_too_few_runs_borrows_all_hours_and_a_segment_never_driven_reads_the_timetable() -> None:
    six = _history((200, 300), (210, 310), (220, 320), start_s=T0 - 3600)  # three runs at 06:00
    assert six.segment("R1", "R1-0", "R1-1", 6) == six.segment("R1", "R1-0", "R1-1", 7)
    assert six.segment("R1", "R1-0", "R1-1", 7).mean_s == pytest.approx(210)  # type: ignore[union-attr]
    assert six.segment("R1", "R1-1", "R1-0", 7) is None  # never driven that way
    two = _history((200, 300), (210, 310))
    assert two.segment("R1", "R1-0", "R1-1", 7) is None
    stops = SegmentModel(two, RULES).predict(_plan(), DAY, Progress(1, at(T0), 0.0), at(T0))
    assert [s.source for s in stops] == ["schedule", "schedule"] and _offsets(stops, at(T0)) == [300, 600]


def test_a_run_is_learned_once_with_a_running_mean_and_spread() -> None:
    times = _history((230, 350), (240, 360), (250, 370))
    assert times.learn(_run(DAY - timedelta(days=1), (230, 350))) == 0  # the same run again, from the runs stream
    learned = times.segment("R1", "R1-1", "R1-2", 7)
    assert learned is not None and (learned.mean_s, learned.sd_s, learned.runs) == (360, pytest.approx(10), 3)
    assert len(times) == 3


def test_before_departure_the_bus_leaves_on_time_or_now_if_already_late() -> None:
    model = SegmentModel(TravelTimes(RULES.prediction_min_runs), RULES)
    early = model.predict(_plan(), DAY, Progress(0, None, 0.0), at(T0 - 60))
    assert [s.stop_id for s in early] == ["R1-0", "R1-1", "R1-2"] and _offsets(early, at(T0)) == [0, 300, 600]
    late = model.predict(_plan(), DAY, Progress(0, None, 0.0), at(T0 + 90))
    assert _offsets(late, at(T0)) == [90, 390, 690]


def test_the_predictor_follows_a_run_and_learns_it_when_it_ends() -> None:
    registry = route_registry()
    pipeline = BusPipeline(Settings(), registry)
    predictor = ArrivalPredictor(registry, RULES)
    predictions = {}
    for event in trace(pipeline, delay_s=60):
        prediction = predictor.observe(event)
        if prediction is not None:
            predictions[event.occurred_at] = prediction
    halfway = predictions[at(T0 + 60 + 150)]  # 1 km along, 150 s after leaving 60 s late
    assert halfway.trip_id == "R1-AM-0" and [s.stop_sequence for s in halfway.stops] == [1, 2]
    assert halfway.delay_s == pytest.approx(60, abs=5)  # the fix's place on the shape, the geofence's time
    assert predictor.latest == {}  # the run reached its last stop: not in service
    assert len(predictor.times) == 1  # and was learned
    late_fix = next(e for e in trace(pipeline, delay_s=60) if e.occurred_at == at(T0 + 210))
    assert predictor.observe(late_fix) is None  # an old fix changes nothing
