"""How a simulated bus really drives its trip: traffic by time of day, dwell at stops, the odd jam.

The timetable gives every stop-to-stop segment the same 5 minutes; the road does not. Each run
is a list of (second of the day, metres along the shape) waypoints, linear in between:

- each (route, segment) has its own character (a slow junction, a clear stretch): 0.80–1.20 of
  the planned driving time (1 on average over the route), fixed for the city, the same every day;
- traffic by time of day: 0.94 of the plan early, up to 1.10 around 07:25 (school arrival);
- the driver and the day: ±3 % for the whole run, ±6 % per segment;
- dwell at each intermediate stop while pupils board: 15–45 s;
- a jam on 4 % of segments: the bus stands 60–180 s somewhere along it.

A bus more than a minute early waits at the stop before leaving (`HOLD_EARLY_S`).
School buses have slack in the day: a driver running more than `RECOVERY_S` late makes time up,
so no bus but the injected late one arrives late by the rules' 5 minutes. The arrivals are the
ground truth the prediction benchmark scores against (`Drive.arrivals`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

PLANNED_DWELL_S = 30.0  # of each 5-minute segment, the timetable's share for boarding
DWELL_S = (15.0, 45.0)
JAM_CHANCE = 0.04
JAM_S = (60.0, 180.0)
HOP_SPEED_MS = 2.0  # a segment is driven at least this fast: the last stop is often a hop to the gate
HOLD_EARLY_S = 60.0  # a bus more than this early waits at the stop (the rules' early is 60 s)
RECOVERY_S = 200.0  # later than this at a stop, the driver makes time up (the rules' late is 300 s)
PEAK_S, PEAK_WIDTH_S, PEAK_GAIN = 7 * 3600 + 25 * 60, 25 * 60, 0.16


def traffic(second: float) -> float:
    """The time-of-day factor on driving time: 0.94 early in the morning, 1.10 at 07:25."""
    return 0.94 + PEAK_GAIN * math.exp(-(((second - PEAK_S) / PEAK_WIDTH_S) ** 2))


def character(route_id: str, segment: int, segments: int = 7) -> float:
    """The fixed character of one segment of a route (0.80–1.20, averaging 1 over the route's
    `segments`): the same in every simulation."""
    road = random.Random(f"road/{route_id}")
    factors = [road.uniform(0.80, 1.20) for _ in range(segments)]
    mean = sum(factors) / len(factors)
    return factors[segment % segments] / mean


@dataclass(frozen=True)
class Drive:
    """A run on the ground: waypoints (second, metres along the shape) and the stop arrivals."""

    waypoints: tuple[tuple[float, float], ...]
    arrivals: tuple[float, ...]  # seconds of the day at each stop (the origin: its departure)

    def distance_at(self, second: float) -> float:
        points = self.waypoints
        if second <= points[0][0]:
            return points[0][1]
        for (t0, d0), (t1, d1) in zip(points, points[1:], strict=False):
            if second < t1:
                return d0 if t1 == t0 else d0 + (d1 - d0) * (second - t0) / (t1 - t0)
        return points[-1][1]

    def speed_kmh(self, second: float) -> float:
        """Speed on the waypoint leg holding `second` (0 while standing)."""
        points = self.waypoints
        for (t0, d0), (t1, d1) in zip(points, points[1:], strict=False):
            if t0 <= second < t1:
                return 0.0 if t1 == t0 else (d1 - d0) / (t1 - t0) * 3.6
        return 0.0


def drive(
    route_id: str, schedule: list[tuple[float, int]], departure_delay_s: float, rng: random.Random, recover: bool = True
) -> Drive:
    """A run over `schedule` [(metres along the shape, scheduled second) per stop], leaving late by
    `departure_delay_s`. `recover=False`: a bus that stays late (the injected late trip)."""
    run_factor = rng.gauss(1.0, 0.03)
    t = schedule[0][1] + departure_delay_s
    waypoints = [(t, schedule[0][0])]
    arrivals = [t]
    for k, ((d0, s0), (d1, s1)) in enumerate(zip(schedule, schedule[1:], strict=False)):
        if k > 0:  # pupils board at the stop the bus has just reached; an early bus waits
            t = max(t + rng.uniform(*DWELL_S), s0 - HOLD_EARLY_S)
            waypoints.append((t, d0))
        planned = max(1.0, (s1 - s0) - PLANNED_DWELL_S)
        driving = (
            planned
            * character(route_id, k, len(schedule) - 1)
            * traffic(t)
            * run_factor
            * max(0.7, rng.gauss(1.0, 0.06))
        )
        driving = min(driving, (d1 - d0) / HOP_SPEED_MS)  # a hop of a few metres takes seconds, whatever the plan
        jam = rng.uniform(*JAM_S) if rng.random() < JAM_CHANCE else 0.0
        arrive = t + driving + jam
        if recover and arrive - s1 > RECOVERY_S:
            arrive = max(t + 0.6 * driving, s1 + RECOVERY_S)  # the driver makes up time
            jam = min(jam, max(0.0, arrive - t - 0.6 * driving))
        moving = arrive - t - jam
        if jam:
            where = rng.uniform(0.2, 0.8)
            waypoints += [
                (t + moving * where, d0 + (d1 - d0) * where),
                (t + moving * where + jam, d0 + (d1 - d0) * where),
            ]
        t = arrive
        waypoints.append((t, d1))
        arrivals.append(t)
    return Drive(tuple(waypoints), tuple(arrivals))
