"""Arrival predictions: when each bus in service reaches each of its remaining stops.

From the bus's place along the route shape and the travel times learned from past runs of the
same segment at the same hour (`TravelTimes`), else the timetable's. The next stop is reached
after the part of its segment still ahead; each later stop after its segment's time, counted
from the predicted arrival before it. The current delay thus carries to every later stop, as
OneBusAway propagates a vehicle's schedule deviation downstream; where history knows a segment
is slower or faster than the timetable, the prediction follows history instead.

A segment's time (stop visit to stop visit) includes the dwell at its first stop; a bus still
standing there has `prediction_dwell_s` less what it already stood left of it, a bus on the road
the share of the driving part ahead of it. The uncertainty is the square root of the summed
variances of the segments ahead (history's spread, or `prediction_schedule_sd_s` each).

    >>> predictor = ArrivalPredictor(registry, settings.bus)
    >>> predictor.learn(run)                 # a finished BusRun (also learned from its own tracking)
    >>> prediction = predictor.observe(fix)  # a BusEvent: the ArrivalPrediction of its run, or None
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from shapely.geometry import Point

from safecampus.config import BusRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus.adherence import StopAdherence
from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.geometry import XY, TripPlan
from safecampus.pipelines.bus.history import TravelTimes
from safecampus.pipelines.bus.run import Run
from safecampus.pipelines.bus.runs import RunTracker
from safecampus.pipelines.bus.trips import TripPlans
from safecampus.schemas.bus import ArrivalPrediction, BusEvent, BusRun, StopArrival
from safecampus.schemas.common import SHANGHAI, service_time


@lru_cache(maxsize=4096)
def _scheduled(day: date, seconds: int) -> datetime:
    return service_time(day, seconds)


AT_STOP = 0.02  # of a segment's length: a bus this near the stop behind it is still standing there


@dataclass(frozen=True)
class Progress:
    """Where a run is: its next stop, when it was at the stop before (if measured), how far along."""

    next_stop: int
    left_at: datetime | None
    fraction: float  # of the segment to the next stop already driven, 0–1


class SegmentModel:
    """Segment times and the arithmetic of a prediction, for one set of learned travel times."""

    def __init__(self, times: TravelTimes, rules: BusRules) -> None:
        self.times = times
        self.dwell_s = rules.prediction_dwell_s
        self.schedule_sd_s = rules.prediction_schedule_sd_s

    def segment(self, plan: TripPlan, k: int, entered: datetime) -> tuple[float, float, bool]:
        """Seconds from stop k-1 to stop k entered at `entered`, its spread, and whether history knew it."""
        a, b = plan.stops[k - 1], plan.stops[k]
        learned = self.times.segment(plan.route_id, a.stop_id, b.stop_id, entered.astimezone(SHANGHAI).hour)
        if learned is not None:
            return learned.mean_s, learned.sd_s, True
        return float(b.scheduled_s - a.scheduled_s), self.schedule_sd_s, False

    def predict(self, plan: TripPlan, day: date, at: Progress, now: datetime) -> list[StopArrival]:
        """The remaining stops of `plan` on `day`, predicted at `now` for a run at `at`."""
        stops, out = plan.stops, []
        if at.next_stop == 0:  # not left yet: leaves on time, or now if it is already late
            when = max(now, service_time(day, stops[0].scheduled_s))
            out.append(self._arrival(plan, day, 0, when, 0.0, False))
            variance = 0.0
        else:
            mean, sd, learned = self.segment(plan, at.next_stop, at.left_at or now)
            dwell = 0.0 if at.next_stop == 1 else min(self.dwell_s, mean / 2)
            if at.left_at is not None and at.fraction < AT_STOP:
                standing = (now - at.left_at).total_seconds()
                remaining = (mean - dwell) + max(0.0, dwell - standing)
            else:
                remaining = (1.0 - at.fraction) * (mean - dwell)
            share = remaining / mean if mean > 0 else 0.0
            variance = sd * sd * share
            when = now + timedelta(seconds=remaining)
            out.append(self._arrival(plan, day, at.next_stop, when, variance, learned))
        for k in range(max(at.next_stop, 0) + 1, len(stops)):
            mean, sd, learned = self.segment(plan, k, when)
            when += timedelta(seconds=mean)
            variance += sd * sd
            out.append(self._arrival(plan, day, k, when, variance, learned))
        return out

    @staticmethod
    def _arrival(plan: TripPlan, day: date, k: int, when: datetime, variance: float, learned: bool) -> StopArrival:
        stop = plan.stops[k]
        return StopArrival.model_construct(  # built from checked values only: no validation on this hot path
            stop_id=stop.stop_id,
            stop_sequence=stop.sequence,
            scheduled=_scheduled(day, stop.scheduled_s),
            predicted=when.replace(microsecond=0),
            uncertainty_s=round(math.sqrt(variance)),
            source="history" if learned else "schedule",
        )


class StopDistances:
    """Metres along each trip's route line of its stops and of a fix (cached per trip)."""

    def __init__(self) -> None:
        self._stops: dict[str, tuple[float, ...]] = {}

    def of_stops(self, plan: TripPlan) -> tuple[float, ...]:
        if plan.trip_id not in self._stops:
            along, last = [], 0.0
            for stop in plan.stops:
                last = max(last, float(plan.line.project(Point(stop.xy)))) if plan.line is not None else 0.0
                along.append(last)
            self._stops[plan.trip_id] = tuple(along)
        return self._stops[plan.trip_id]

    def fraction(self, plan: TripPlan, next_stop: int, xy: XY) -> float:
        """How far along the segment to stop `next_stop` a fix is (0 at the stop behind, 1 at the next)."""
        if plan.line is None or next_stop == 0:
            return 0.0
        along = self.of_stops(plan)
        start, end = along[next_stop - 1], along[next_stop]
        if end <= start:
            return 0.0
        here = float(plan.line.project(Point(xy)))
        return min(1.0, max(0.0, (here - start) / (end - start)))


def progress(run: Run, xy: XY, distances: StopDistances) -> Progress:
    """A run's progress from its stop visits and the fix at `xy`."""
    k = run.next_stop
    left_at = None
    if k > 0 and run.visits and run.visits[-1].stop_sequence == run.plan.stops[k - 1].sequence:
        left_at = run.visits[-1].actual
    return Progress(k, left_at, distances.fraction(run.plan, k, xy))


class ArrivalPredictor:
    """Follows every terminal's runs (the pipeline's own `RunTracker`) and predicts their arrivals.

    `learn` takes finished runs (the runs stream); runs this predictor sees end are learned too."""

    def __init__(self, registry: RegistryView, rules: BusRules, times: TravelTimes | None = None) -> None:
        self.registry = registry
        self.rules = rules
        self.plans = TripPlans(registry)
        self.times = times if times is not None else TravelTimes(rules.prediction_min_runs)
        self.model = SegmentModel(self.times, rules)
        self.distances = StopDistances()
        self._trackers: dict[str, RunTracker] = {}
        self._last: dict[str, datetime] = {}
        self.latest: dict[str, ArrivalPrediction] = {}  # per terminal, while its bus is in service

    def learn(self, run: BusRun) -> None:
        self.times.learn(run)

    def _tracker(self, terminal_id: str) -> RunTracker:
        if terminal_id not in self._trackers:
            bus = self.registry.buses_by_terminal.get(terminal_id)
            alerts = TerminalAlerts(terminal_id, bus.plate if bus else None)  # the detector raises the alerts
            rules = self.rules
            adherence = StopAdherence(rules.stop_geofence_m, rules.on_time_early_s, rules.on_time_late_s, alerts)
            self._trackers[terminal_id] = RunTracker(
                self.plans.for_bus(bus),
                adherence,
                service_margin_s=rules.service_margin_s,
                alerts=alerts,
                on_end=lambda _run, record: self.learn(record),
            )
        return self._trackers[terminal_id]

    def observe(self, event: BusEvent) -> ArrivalPrediction | None:
        """A fix: the prediction of the run it belongs to (None when the bus is not in service).

        A late or repeated fix changes nothing: the prediction held stands."""
        if not self.fresh(event):
            return self.latest.get(event.terminal_id)
        tracked = self.track(event)
        if tracked is None:
            self.latest.pop(event.terminal_id, None)
            return None
        prediction = self.latest[event.terminal_id] = self.predict(*tracked, event.occurred_at)
        return prediction

    def fresh(self, event: BusEvent) -> bool:
        """A positioned fix newer than the terminal's last one (else the bus was already seen further on)."""
        if event.kind != "fix" or not event.positioned or event.lat_deg is None or event.lon_deg is None:
            return False
        last = self._last.get(event.terminal_id)
        return last is None or event.occurred_at > last

    def track(self, event: BusEvent) -> tuple[Run, str, XY] | None:
        """Follow a fix: the run in service it advanced (with the terminal and where it is), else None."""
        if not self.fresh(event) or event.lat_deg is None or event.lon_deg is None:
            return None
        self._last[event.terminal_id] = event.occurred_at
        tracker = self._tracker(event.terminal_id)
        tracker.due(event.occurred_at)
        tracker.roll(event)
        run = tracker.current
        if run is not None:
            tracker.advance(run, event)
        if run is None or run.ended_at is not None:
            return None
        return run, event.terminal_id, run.plan.xy(event.lat_deg, event.lon_deg)

    def predict(
        self, run: Run, terminal_id: str, xy: XY, now: datetime, model: SegmentModel | None = None
    ) -> ArrivalPrediction:
        """The prediction for a run at `xy` at `now`; `model`: other segment times (e.g. the timetable's only)."""
        stops = (model or self.model).predict(run.plan, run.day, progress(run, xy, self.distances), now)
        first = stops[0]
        return ArrivalPrediction(
            subject=terminal_id,
            trip_id=run.plan.trip_id,
            route_id=run.plan.route_id,
            service_day=run.day,
            made_at=now,
            delay_s=round((first.predicted - first.scheduled).total_seconds()),
            stops=stops,
        )
