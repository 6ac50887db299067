"""Congestion at a pick-up centre: occupancy or queue above the level during drop-off and pick-up.

`CentreCongestion` watches one counting device of a centre (a counter or a barrier controller naming the
centre in the registry's `site_id`). Its outcome is a function of the device's readings, not of the order
they arrive in: the readings of each local day are kept in event-time order, and each new one (late, out of
order or a duplicate) judges its day again from all of them; an update is sent only when the judgement
changed. Occupancy is what a counter reports; for a barrier it is counted from the day's passages (ins minus
outs since local midnight, never below 0: a centre is empty at night), so a late passage moves every later
figure, as it should.

A window (`[pickup] dropoff_window`, `pickup_window`) is congested when the occupancy reached
`occupancy_ratio` × the centre's bays, or the queue `queue_vehicles`, for at least `congested_min_s`: from
the first reading above the level to the first one below it (an episode still above lasts up to the
detector's clock, so a full centre whose barrier stays still is congested all the same). One alert per
device, day and window (`window` "2026-09-01/dropoff"): firing while its last episode goes on, resolved when
a reading below the level ends it or the window closes. A late reading that shows an episode never lasted
long enough withdraws the alert (resolved, `withdrawn` in its summary). Days older than `KEPT_DAYS` before
the newest reading are forgotten.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from safecampus.config import PickupRules
from safecampus.pipelines.alerts import new_alert
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.common import SHANGHAI, local_text
from safecampus.schemas.registry import PickupCentre
from safecampus.schemas.security import PickupCentreDay, SecurityEvent

RULE = "security.pickup_congestion"
KEPT_DAYS = 2
WINDOW_NAMES: dict[str, str] = {"dropoff": "早送 drop-off", "pickup": "晚接 pick-up"}


class Reading(NamedTuple):
    """One reading, ordered by time then event id (a duplicate sorts onto itself and is dropped)."""

    at: datetime
    event_id: str
    occupancy: int | None
    queue: int | None
    step: int  # a barrier passage: +1 in, -1 out; 0 for a counter's reading


class DayReadings:
    """One local day's readings in order, with the occupancy counted up after each barrier passage (kept as
    readings come: an append costs nothing, a late passage recounts only what follows it)."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.inside: list[int] = []
        self.counted = False  # a counter reports occupancy itself: its passages (if any) are not summed

    def insert(self, reading: Reading) -> bool:
        """Add a reading; False when it is already there (the same time and event id)."""
        place = bisect.bisect_left(self.readings, reading)
        if place < len(self.readings) and self.readings[place][:2] == reading[:2]:
            return False
        self.readings.insert(place, reading)
        self.inside.insert(place, 0)
        self.counted = self.counted or reading.step == 0
        total = self.inside[place - 1] if place else 0
        for k in range(place, len(self.readings)):
            total = self.inside[k] = max(0, total + self.readings[k].step)
        return True

    def peak(self) -> tuple[int, datetime] | None:
        """The most vehicles inside at once in the day, and when first; None without a reading."""
        if not self.readings:
            return None
        if self.counted:
            counts = [r for r in self.readings if r.step == 0]
            top = max(r.occupancy or 0 for r in counts)
            return top, next(r.at for r in counts if (r.occupancy or 0) == top)
        top = max(self.inside)
        return top, self.readings[self.inside.index(top)].at

    def points(self, start: datetime, end: datetime) -> list[Point]:
        lo = bisect.bisect_left(self.readings, (start,))
        hi = bisect.bisect_left(self.readings, (end,))
        if self.counted:
            return [Point(r.at, r.occupancy or 0, r.queue or 0) for r in self.readings[lo:hi] if r.step == 0]
        return [Point(self.readings[k].at, self.inside[k], 0) for k in range(lo, hi)]


class Point(NamedTuple):
    at: datetime
    occupancy: int
    queue: int


@dataclass(frozen=True)
class Judgement:
    """What the readings say about one window of one day; equal judgements send nothing (the minutes of an
    episode going on grow with every reading: they are told, not a reason to send)."""

    status: AlertStatus
    since: datetime
    peak_occupancy: int
    peak_queue: int
    congested_s: int = field(compare=False)
    withdrawn: bool = False


def service_day(moment: datetime) -> date:
    """The local (Asia/Shanghai) day of an instant: the day a window belongs to."""
    return moment.astimezone(SHANGHAI).date()


class CentreCongestion:
    """Congestion of one centre as one counting device sees it. Example: `CentreCongestion(centre, device_id,
    settings.pickup, district)`; `observe(event)` for each vehicle_count or vehicle_passage event."""

    def __init__(self, centre: PickupCentre, device_id: str, rules: PickupRules, district: str | None) -> None:
        self.centre, self.device_id, self.rules, self.district = centre, device_id, rules, district
        self.level = max(1, math.ceil(rules.occupancy_ratio * centre.capacity))
        self.windows = rules.windows()
        self.days: dict[date, DayReadings] = {}
        self.sent: dict[tuple[date, str], Judgement] = {}
        self.clock: datetime | None = None
        self._points_of: dict[tuple[date, str], list[Point]] = {}  # cached until the day's readings change
        self._deadline: tuple[datetime | None, datetime | None] | None = None  # (clock, deadline) it was for
        self._told: dict[date, tuple[int, datetime]] = {}  # the peak of each day last taken as a record

    def observe(self, event: SecurityEvent) -> list[Alert]:
        at = event.occurred_at
        self.clock = at if self.clock is None or at > self.clock else self.clock
        day = service_day(at)
        step = 0 if event.event_type == "vehicle_count" else (1 if event.direction == "in" else -1)
        reading = Reading(at, event.event_id, event.occupancy, event.queue, step)
        if not self.days.setdefault(day, DayReadings()).insert(reading):
            return []  # the same reading again: nothing new
        for name, (first, last) in self.windows.items():  # a reading moves the windows it precedes
            if at < self._bounds(day, first, last)[1]:
                self._points_of.pop((day, name), None)
        self._deadline = None
        for old in [d for d in self.days if d < service_day(self.clock) - timedelta(days=KEPT_DAYS)]:
            del self.days[old]
            self.sent = {k: v for k, v in self.sent.items() if k[0] != old}
            self._told.pop(old, None)
            self._points_of = {k: v for k, v in self._points_of.items() if k[0] != old}
        return self._judge_day(day)

    def expire(self, now: datetime) -> list[Alert]:
        """Event time reached `now`: an episode may have become long, or a window closed."""
        self.clock = now if self.clock is None or now > self.clock else self.clock
        return [alert for day in sorted(self.days) for alert in self._judge_day(day)]

    def next_deadline(self) -> datetime | None:
        """When an episode going on becomes long enough, or its window closes (kept until the clock or the
        readings change: the detector asks for it often)."""
        if self._deadline is None or self._deadline[0] != self.clock:
            self._deadline = (self.clock, self._next_deadline())
        return self._deadline[1]

    def _next_deadline(self) -> datetime | None:
        if self.clock is None:
            return None
        due: list[datetime] = []
        for day in self.days:
            for name, (first, last) in self.windows.items():
                start, end = self._bounds(day, first, last)
                points = self._points(day, name, start, end)
                if not points or not self._above(points[-1]) or self.clock >= end:
                    continue
                begun = self._episodes(points, end)[-1][0]
                long_at = begun + timedelta(seconds=self.rules.congested_min_s)
                due.append(long_at if long_at > self.clock else end)
        return min(due, default=None)

    def take_days(self) -> list[PickupCentreDay]:
        """A record of each day whose peak changed since the last call (the detector's derived records)."""
        records: list[PickupCentreDay] = []
        for day in sorted(self.days):
            peak = self.days[day].peak()
            if peak is None or self._told.get(day) == peak:
                continue
            self._told[day] = peak
            records.append(
                PickupCentreDay(
                    subject=self.device_id,
                    centre_id=self.centre.centre_id,
                    day=day,
                    peak_occupancy=peak[0],
                    peak_at=peak[1],
                    school_id=self.centre.school_id,
                    district=self.district,
                )
            )
        return records

    # -- judging ----------------------------------------------------------------------------------

    def _bounds(self, day: date, first: int, last: int) -> tuple[datetime, datetime]:
        midnight = datetime.combine(day, time(0), SHANGHAI)
        return midnight + timedelta(minutes=first), midnight + timedelta(minutes=last)

    def _above(self, point: Point) -> bool:
        return point.occupancy >= self.level or point.queue >= self.rules.queue_vehicles

    def _points(self, day: date, name: str, start: datetime, end: datetime) -> list[Point]:
        """The occupancy and queue of the window, reading by reading (the day's passages counted up)."""
        cached = self._points_of.get((day, name))
        if cached is None:
            readings = self.days.get(day)
            cached = self._points_of[(day, name)] = readings.points(start, end) if readings else []
        return cached

    def _episodes(self, points: list[Point], end: datetime) -> list[tuple[datetime, datetime | None, list[Point]]]:
        """Runs of readings above the level: (first, the first reading below after it or None, the run)."""
        runs: list[tuple[datetime, datetime | None, list[Point]]] = []
        current: list[Point] = []
        for point in points:
            if self._above(point):
                current.append(point)
            elif current:
                runs.append((current[0].at, point.at, current))
                current = []
        if current:
            runs.append((current[0].at, None, current))
        return runs

    def _judgement(self, day: date, name: str, first: int, last: int) -> Judgement | None:
        start, end = self._bounds(day, first, last)
        assert self.clock is not None
        horizon = min(self.clock, end)
        long_runs = [
            (begun, ended, run)
            for begun, ended, run in self._episodes(self._points(day, name, start, end), end)
            if ((ended or max(horizon, run[-1].at)) - begun).total_seconds() >= self.rules.congested_min_s
        ]
        if not long_runs:
            return None
        going_on = long_runs[-1][1] is None and self.clock < end
        congested = sum(((ended or horizon) - begun).total_seconds() for begun, ended, _ in long_runs)
        return Judgement(
            status="firing" if going_on else "resolved",
            since=long_runs[0][0],
            peak_occupancy=max(p.occupancy for _, _, run in long_runs for p in run),
            peak_queue=max(p.queue for _, _, run in long_runs for p in run),
            congested_s=round(congested),
        )

    def _judge_day(self, day: date) -> list[Alert]:
        alerts: list[Alert] = []
        for name, (first, last) in self.windows.items():
            key = (day, name)
            judged = self._judgement(day, name, first, last)
            before = self.sent.get(key)
            if judged is None and before is not None and not before.withdrawn:
                judged = Judgement("resolved", before.since, 0, 0, 0, withdrawn=True)
            if judged is None or judged == before:
                continue
            self.sent[key] = judged
            alerts.append(self._alert(day, name, judged, opened=before is None))
        return alerts

    def _alert(self, day: date, name: str, judged: Judgement, opened: bool) -> Alert:
        centre = self.centre
        minutes = judged.congested_s // 60
        if judged.withdrawn:
            detail = f"{centre.name}：后到的读数表明车辆未持续超限，告警撤回 — later readings show it did not last."
        else:
            detail = (
                f"{centre.name}：{local_text(judged.since)} 起车辆 {judged.peak_occupancy}/{centre.capacity} 个车位，"
                f"排队最多 {judged.peak_queue} 辆，超限共 {minutes} 分钟。"
            )
        summary = {
            "kind": "congestion",
            "centre_id": centre.centre_id,
            "window": name,
            "day": day.isoformat(),
            "peak_occupancy": judged.peak_occupancy,
            "peak_queue": judged.peak_queue,
            "capacity": centre.capacity,
            "occupancy_level": self.level,
            "queue_level": self.rules.queue_vehicles,
            "congested_s": judged.congested_s,
            "withdrawn": judged.withdrawn,
            "opened": opened,
        }
        return new_alert(
            domain="security",
            rule=RULE,
            subject=self.device_id,
            window=f"{day.isoformat()}/{name}",
            severity="warning",
            occurred_at=judged.since,
            detected_at=self.clock or judged.since,
            title=f"接送中心拥堵（{WINDOW_NAMES[name]}）",
            detail=detail,
            evidence=[summary],
            status=judged.status,
            school_id=centre.school_id,
            district=self.district,
        )
