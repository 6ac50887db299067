"""Runs: which trip of the timetable the bus is driving, and when the run is over.

A run starts at the first positioned fix inside a trip's time window (its timetable ± the
service margin) and ends at the final stop, or when the window has passed. Its stop visits are
`StopAdherence`'s; at its end the run becomes a `BusRun` record (the on-time KPI's input) and
is handed to whoever waits on it (the all-off confirmation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from safecampus.pipelines.bus.adherence import StopAdherence
from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.geometry import TripPlan, service_day
from safecampus.pipelines.bus.run import Run
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun
from safecampus.schemas.common import service_time


class RunTracker:
    """The run being driven by one terminal; `on_end(run, record)` hears of each run that ends."""

    def __init__(
        self,
        plans: Sequence[TripPlan],
        adherence: StopAdherence,
        *,
        service_margin_s: int,
        alerts: TerminalAlerts,
        on_end: Callable[[Run, BusRun], None],
    ) -> None:
        self.plans = plans
        self.adherence = adherence
        self.margin_s = service_margin_s
        self.alerts = alerts
        self.on_end = on_end
        self.current: Run | None = None
        self._done: set[str] = set()  # keys of runs that ended: a trip is driven once a day

    def deadline(self) -> datetime | None:
        run = self.current
        return run.window_end() if run is not None and run.ended_at is None else None

    def due(self, now: datetime) -> list[Alert]:
        """Event time is `now`: a run whose window has passed is over."""
        run = self.current
        if run is not None and run.ended_at is None and now > run.window_end():
            return self.end(run, run.last_fix_at, reached=False)
        return []

    def roll(self, event: BusEvent) -> list[Alert]:
        """Keep the current run while the fix is inside its window; else close it and pick the next."""
        at, run = event.occurred_at, self.current
        if run is not None and run.ended_at is None and at <= run.window_end():
            return []
        alerts = self.end(run, run.last_fix_at, reached=False) if run and run.ended_at is None else []
        self.current = None
        margin = timedelta(seconds=self.margin_s)
        best: tuple[float, TripPlan, date] | None = None
        for plan in self.plans:
            for day in (service_day(at), service_day(at) - timedelta(days=1)):  # GTFS times may pass 24:00
                start, end = service_time(day, plan.start_s), service_time(day, plan.end_s)
                done = f"{plan.trip_id}/{day.isoformat()}" in self._done
                if done or not start - margin <= at <= end + margin:
                    continue
                # The trip whose timetable is nearest the fix: 0 inside it, else seconds to its start or end.
                gap = max((start - at).total_seconds(), (at - end).total_seconds(), 0.0)
                if best is None or gap < best[0]:
                    best = (gap, plan, day)
        if best is not None:
            self.current = Run(plan=best[1], day=best[2], started_at=at, last_fix_at=at, margin_s=self.margin_s)
        return alerts

    def advance(self, run: Run, event: BusEvent) -> list[Alert]:
        """A positioned fix of the run: its stop visits; the run ends at the final stop."""
        alerts = self.adherence.observe(run, event)
        if run.next_stop >= len(run.plan.stops) and run.ended_at is None:
            alerts += self.end(run, event.occurred_at, reached=True)
        return alerts

    def end(self, run: Run, at: datetime, reached: bool) -> list[Alert]:
        """A run is over (final stop reached, or its window passed)."""
        run.ended_at, run.reached_end = at, reached
        self._done.add(run.key)
        if self.current is run:
            self.current = None
        alerts = self.adherence.close(run, at)
        context = self.alerts.context
        record = BusRun(
            subject=self.alerts.terminal_id,
            trip_id=run.plan.trip_id,
            route_id=run.plan.route_id,
            service_day=run.day,
            started_at=run.started_at,
            ended_at=at,
            reached_end=reached,
            visits=[*run.visits, *run.missed()],
            school_id=context.school_id if context else None,
            district=context.district if context else None,
        )
        self.on_end(run, record)
        return alerts
