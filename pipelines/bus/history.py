"""Travel times learned from past runs: per route, stop pair and hour of day, updated as runs end.

A segment's time is from the bus at one timed stop (its arrival; at the origin, its departure) to
its arrival at the next, dwell included: what a stop visit measures. The average per hour of
day follows the traffic (TheTransitClock keeps historical averages the same way); an hour with
too few runs borrows the segment's average over all hours, and a segment never driven has none
(the predictor then reads the timetable). Each run is learned once, however often it arrives
(from the tracker that saw it end and again from the runs stream).

    >>> times = TravelTimes(min_runs=3)
    >>> times.learn(run)                     # a BusRun: its consecutive measured visits
    >>> times.segment("CZ01", "CZ01-0", "CZ01-1", hour=7)
    SegmentTime(mean_s=287.5, sd_s=21.0, runs=4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from safecampus.schemas.bus import BusRun
from safecampus.schemas.common import SHANGHAI

Key = tuple[str, str, str]  # route_id, from stop_id, to stop_id


@dataclass
class Running:
    """A running mean and variance (Welford's algorithm): no list of past runs is kept."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        step = x - self.mean
        self.mean += step / self.n
        self.m2 += step * (x - self.mean)

    @property
    def sd(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


@dataclass(frozen=True)
class SegmentTime:
    mean_s: float
    sd_s: float
    runs: int


class TravelTimes:
    """Segment travel times by hour of day (Asia/Shanghai), learned from finished runs."""

    def __init__(self, min_runs: int) -> None:
        self.min_runs = min_runs
        self._by_hour: dict[tuple[Key, int], Running] = {}
        self._all_hours: dict[Key, Running] = {}
        self._learned: set[str] = set()

    def __len__(self) -> int:
        """How many runs were learned."""
        return len(self._learned)

    def learn(self, run: BusRun) -> int:
        """Add a finished run's segments (consecutive measured visits); returns how many were added."""
        if run.run_id in self._learned:
            return 0
        self._learned.add(run.run_id)
        measured = sorted(
            (v for v in run.visits if v.actual is not None and v.status != "missed"), key=lambda v: v.stop_sequence
        )
        added = 0
        for a, b in zip(measured, measured[1:], strict=False):
            if a.actual is None or b.actual is None:
                continue
            seconds = (b.actual - a.actual).total_seconds()
            if seconds < 0:
                continue  # 0 is real: two stops a few metres apart are reached by one fix
            key = (run.route_id, a.stop_id, b.stop_id)
            self._by_hour.setdefault((key, a.actual.astimezone(SHANGHAI).hour), Running()).add(seconds)
            self._all_hours.setdefault(key, Running()).add(seconds)
            added += 1
        return added

    def segment(self, route_id: str, from_stop: str, to_stop: str, hour: int) -> SegmentTime | None:
        """The learned time of a segment entered at `hour`: that hour's average, else all hours', else None."""
        key = (route_id, from_stop, to_stop)
        for stats in (self._by_hour.get((key, hour)), self._all_hours.get(key)):
            if stats is not None and stats.n >= self.min_runs:
                return SegmentTime(stats.mean, stats.sd, stats.n)
        return None
