"""How good the arrival predictions are: simulated school days replayed, scored against the truth.

The simulator's buses drive with traffic by time of day, dwell and the odd jam, and record when
they really reached each stop. The first `learn` school days only teach the predictor (the runs
its tracker sees end); on the later days every fix is also predicted from, twice from the same
run and position: with the learned travel times, and with the timetable's only (the baseline:
the current delay carried to every later stop, OneBusAway's way). Learning goes on as runs end.

A prediction of a stop made `h` seconds before the bus really got there is scored at the horizon
nearest `h`, if within 30 s: 1, 5 and 15 minutes. Reported: mean absolute error and the 90th
percentile of the absolute error, in seconds.

    safecampus evaluate predictions --days 8 --learn 5
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.bus.history import TravelTimes
from safecampus.pipelines.bus.predict import ArrivalPredictor, SegmentModel
from safecampus.pipelines.domain import DecodeError
from safecampus.schemas.bus import ArrivalPrediction, BusEvent
from safecampus.simulator import bus as bus_simulator
from safecampus.simulator.city import City, build_city
from safecampus.simulator.clock import GroundTruth

HORIZONS_MIN = (1, 5, 15)
TOLERANCE_S = 30
Truth = dict[tuple[str, str, str, date], datetime]  # (terminal, trip, stop, day) → when it was there


@dataclass
class Scores:
    """Absolute errors (seconds) per horizon, of the predictor and of the schedule-only baseline."""

    learned: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    schedule: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, errors: dict[int, list[float]], prediction: ArrivalPrediction, truth: Truth) -> None:
        day = prediction.service_day
        for stop in prediction.stops:  # the truth holds arrivals only: an origin's departure is not scored
            actual = truth.get((prediction.subject, prediction.trip_id, stop.stop_id, day))
            if actual is None:
                continue
            ahead = (actual - prediction.made_at).total_seconds()
            for minutes in HORIZONS_MIN:
                if abs(ahead - minutes * 60) <= TOLERANCE_S:
                    errors[minutes].append(abs((stop.predicted - actual).total_seconds()))


def mae(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def p90(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def school_days(start: date, count: int) -> list[date]:
    """`count` weekdays from `start` (the SCHOOLDAYS calendar runs Monday to Friday)."""
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def simulated_day(pipeline: BusPipeline, city: City, day: date, rng: random.Random) -> tuple[list[BusEvent], Truth]:
    """One school day of the simulated fleet: its bus events in the order they were received, the truth."""
    truth = GroundTruth()
    envelopes = sorted(bus_simulator.generate(city, day, rng, truth), key=lambda e: e.received_at)
    events: list[BusEvent] = []
    for envelope in envelopes:
        try:
            events += pipeline.decode(envelope)
        except DecodeError:
            continue
    origins: dict[tuple[str | int, str | int], int] = {}
    for a in truth.arrivals:
        run = (a["terminal_id"], a["trip_id"])
        origins[run] = min(int(a["stop_sequence"]), origins.get(run, int(a["stop_sequence"])))
    arrivals: Truth = {
        (str(a["terminal_id"]), str(a["trip_id"]), str(a["stop_id"]), day): datetime.fromisoformat(str(a["time"]))
        for a in truth.arrivals
        if int(a["stop_sequence"]) != origins[(a["terminal_id"], a["trip_id"])]  # the origin's is a departure
    }
    return events, arrivals


def evaluate(
    days: int = 8, learn: int = 5, seed: int = 2026, on_day: Callable[[str], None] | None = None
) -> tuple[Scores, int]:
    """Replay `days` simulated school days, scoring from day `learn + 1`; returns the scores and runs learned."""
    start = date(2026, 9, 1)
    city = build_city(seed, on=start)
    registry = RegistryView.of_rows(city.rows())
    settings = Settings()
    pipeline = BusPipeline(settings, registry)
    predictor = ArrivalPredictor(registry, settings.bus)
    baseline = SegmentModel(TravelTimes(settings.bus.prediction_min_runs), settings.bus)  # never learns
    scores = Scores()
    rng = random.Random(f"{seed}/bus")
    for n, day in enumerate(school_days(start, days)):
        began = time.perf_counter()
        events, truth = simulated_day(pipeline, city, day, rng)
        scoring = n >= learn
        for event in events:
            tracked = predictor.track(event)
            if tracked is None or not scoring:
                continue
            run, terminal, xy = tracked
            scores.add(scores.learned, predictor.predict(run, terminal, xy, event.occurred_at), truth)
            scores.add(scores.schedule, predictor.predict(run, terminal, xy, event.occurred_at, baseline), truth)
        if on_day is not None:
            what = "预测并评分 predicted and scored" if scoring else "仅学习 learned from"
            on_day(
                f"{day.isoformat()}  {what}: {len(events):,} 条定位 fixes, "
                f"已学习 {len(predictor.times)} 趟 runs learned ({time.perf_counter() - began:.1f} s)"
            )
    return scores, len(predictor.times)


def table_rows(scores: Scores) -> list[tuple[str, str, str, str]]:
    """(horizon, samples, MAE / p90, baseline MAE / p90) per horizon, as text."""
    rows = []
    for minutes in HORIZONS_MIN:
        ours, base = scores.learned[minutes], scores.schedule[minutes]
        rows.append(
            (
                f"{minutes} min",
                f"{len(ours):,}",
                f"{mae(ours):.0f} s / {p90(ours):.0f} s",
                f"{mae(base):.0f} s / {p90(base):.0f} s",
            )
        )
    return rows
