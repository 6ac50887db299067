"""Schedule adherence: stop visits by geofence at a run's timed stops, and bus.late_arrival.

A visit is measured on the segment from the previous fix, so a fast bus cannot skip a stop; the
origin is measured by departure (the last fix inside its geofence). A visit is on time within
[-on_time_early_s, +on_time_late_s] of the timetable. Late arrival is one warning per run,
resolved when the bus is back on time or the run ends.
"""

from __future__ import annotations

from datetime import datetime

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.geometry import closest_approach
from safecampus.pipelines.bus.run import Run
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, StopVisit, VisitStatus
from safecampus.schemas.common import local_text, service_time

RULE = "bus.late_arrival"
# A missed stop geofence must not let the run jump to a far stop the route happens to pass near.
STOP_LOOKAHEAD = 2


class StopAdherence:
    """Stop visits of a run and its late-arrival alert."""

    def __init__(self, geofence_m: float, early_s: int, late_s: int, alerts: TerminalAlerts) -> None:
        self.geofence_m = geofence_m
        self.early_s = early_s
        self.late_s = late_s
        self.alerts = alerts

    def status(self, delay_s: int) -> VisitStatus:
        return "late" if delay_s > self.late_s else "early" if delay_s < -self.early_s else "on_time"

    def observe(self, run: Run, event: BusEvent) -> list[Alert]:
        """A positioned fix of the run: the stops passed since the previous fix."""
        at, xy = event.occurred_at, run.plan.xy(event.lat_deg or 0.0, event.lon_deg or 0.0)
        prev_xy, prev_at = run.prev_xy or xy, run.prev_at or at
        run.prev_xy, run.prev_at, run.last_fix_at = xy, at, at
        stops, radius, alerts = run.plan.stops, self.geofence_m, []
        if run.next_stop == 0:
            distance, _ = closest_approach(stops[0].xy, xy, xy)
            if distance <= radius:
                run.origin_inside_at = at
                return []
            passed, f = closest_approach(stops[0].xy, prev_xy, xy)
            if run.origin_inside_at is not None or passed <= radius:
                alerts += self._visit(run, 0, run.origin_inside_at or prev_at + (at - prev_at) * f, event)
        first = max(run.next_stop, 1)
        for k in range(first, min(len(stops), first + 1 + STOP_LOOKAHEAD)):
            if k < run.next_stop:
                continue
            distance, f = closest_approach(stops[k].xy, prev_xy, xy)
            if distance <= radius:
                alerts += self._visit(run, k, prev_at + (at - prev_at) * f, event)
        return alerts

    def _visit(self, run: Run, k: int, at: datetime, event: BusEvent) -> list[Alert]:
        stop = run.plan.stops[k]
        run.next_stop = k + 1
        if not stop.timed:
            return []
        scheduled = service_time(run.day, stop.scheduled_s)
        delay = round((at - scheduled).total_seconds())
        status = self.status(delay)
        visit = StopVisit(
            stop_id=stop.stop_id,
            stop_sequence=stop.sequence,
            trip_id=run.plan.trip_id,
            kind="departure" if k == 0 else "arrival",
            scheduled=scheduled,
            actual=at,
            delay_s=delay,
            status=status,
        )
        run.visits.append(visit)
        if k == 0:
            return []  # a late departure shows in the KPIs; the alert is about arriving late
        if status == "late" and not run.late_open:
            run.late_open = True
            return [
                self.alerts(
                    rule=RULE,
                    window=run.key,
                    severity="warning",
                    occurred_at=at,
                    detected_at=at,
                    title=f"校车到站晚点 {delay // 60} 分钟",
                    detail=f"线路 {run.plan.route_id} 班次 {run.plan.trip_id} 于 {local_text(at)} 到达 {stop.stop_id},"
                    f"计划 {local_text(scheduled)}。",
                    evidence=[event, visit],
                )
            ]
        if status != "late" and run.late_open:
            run.late_open = False
            return [self._resolved(run, at, f"{local_text(at)} 到达 {stop.stop_id} 已恢复准点。", event)]
        return []

    def close(self, run: Run, at: datetime) -> list[Alert]:
        """The run ended at `at`: an open late arrival is resolved."""
        if not run.late_open:
            return []
        run.late_open = False
        return [self._resolved(run, at, f"班次已于 {local_text(at)} 结束。", None)]

    def _resolved(self, run: Run, at: datetime, detail: str, event: BusEvent | None) -> Alert:
        first_late = next((v for v in run.visits if v.status == "late" and v.kind == "arrival"), None)
        since = first_late.actual if first_late and first_late.actual else at
        return self.alerts(
            rule=RULE,
            window=run.key,
            severity="warning",
            occurred_at=since,
            detected_at=at,
            title="校车到站晚点",
            detail=detail,
            evidence=[event] if event else [],
            status="resolved",
        )
