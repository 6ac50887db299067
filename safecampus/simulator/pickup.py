"""A day at the pick-up centres: parents' cars at drop-off and pick-up, as counters and barriers report them.

Cars arrive at a rate that swells and ebbs around 07:35 and 16:50, stay a few minutes (longer at pick-up,
waiting for a child), and queue at the entrance when every bay is taken. A counter posts a reading each
minute while the centre is busy (vehicles inside and queueing, in and out since its last reading); a barrier
controller posts each passage (lane 1 in, lane 2 out). Both keep alive every 10 minutes, and so does the
centre's camera (GB/T 28181 Keepalive). Some readings reach the gateway minutes late (a buffering gateway),
so the raw file has them out of order. Injected: on each simulated day, one centre's drop-off swells to more
cars than it has bays (ground truth `pickup_congestion`, subject the centre, time the surge's start).

The traffic has a random stream of its own per day: the rest of the security day is unchanged.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from datetime import date

from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import PickupCentre, SecurityDevice
from safecampus.schemas.security import PassageDirection
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local
from safecampus.simulator.security_payloads import counter_json, gb28181_keepalive_xml

DAY_S = 86_400
# (busiest second of the day, spread in seconds, cars per minute at the busiest, minutes a car stays)
WAVES = ((7 * 3600 + 35 * 60, 1500, 0.14, (2.0, 5.0)), (16 * 3600 + 50 * 60, 1800, 0.07, (4.0, 10.0)))
BUSY = ((6 * 3600 + 30 * 60, 9 * 3600), (15 * 3600 + 30 * 60, 18 * 3600 + 30 * 60))  # counters report each minute
SURGE = (7 * 3600 + 25 * 60, 7 * 3600 + 50 * 60, 2.4)  # the injected congestion: that many times the cars
LATE_SHARE = 0.05  # readings the gateway holds back for a few minutes


def _arrivals(rng: random.Random, capacity: int, surge: bool) -> list[tuple[float, float]]:
    """(arrival second, minutes it stays) of each car of the day: a Poisson stream per wave, by thinning."""
    cars: list[tuple[float, float]] = []
    for peak, spread, per_bay, (short, long) in WAVES:
        top = per_bay * capacity / 60 * (SURGE[2] if surge else 1.0)  # cars per second at the busiest
        t = float(peak - 3 * spread)
        while True:
            t += rng.expovariate(top)
            if t >= peak + 3 * spread:
                break
            rate = math.exp(-(((t - peak) / spread) ** 2) / 2)
            if surge and not SURGE[0] <= t < SURGE[1]:
                rate /= SURGE[2]  # only the surge's minutes swell
            if rng.random() < rate:
                cars.append((t, rng.uniform(short, long)))
    return cars


def _passages(cars: list[tuple[float, float]], capacity: int) -> list[tuple[float, int, int]]:
    """(second, +1 in or -1 out, cars queueing after it) of every passage: a car waits while the bays are full."""
    inside: list[float] = []  # when each car inside leaves (a heap)
    waiting: list[tuple[float, float]] = []
    passages: list[tuple[float, int, int]] = []
    for arrive, stay in sorted(cars):
        while inside and inside[0] <= arrive:  # cars leaving before this one comes let the queue in
            left = heapq.heappop(inside)
            passages.append((left, -1, len(waiting)))
            if waiting:
                _, queued_stay = waiting.pop(0)
                heapq.heappush(inside, left + queued_stay * 60)
                passages.append((left, 1, len(waiting)))
        if len(inside) < capacity:
            heapq.heappush(inside, arrive + stay * 60)
            passages.append((arrive, 1, len(waiting)))
        else:
            waiting.append((arrive, stay))
    while inside:
        left = heapq.heappop(inside)
        passages.append((left, -1, len(waiting)))
        if waiting:
            heapq.heappush(inside, left + waiting.pop(0)[1] * 60)
            passages.append((left, 1, len(waiting)))
    return sorted(passages)


def _envelope(
    device: SecurityDevice, payload: bytes, source: str, day: date, at_s: float, late_s: float
) -> RawEnvelope:
    return RawEnvelope.of_bytes(
        payload,
        domain="security",
        source=source,
        content_type="application/json" if source == "counter" else "application/xml",
        received_at=local(day, at_s + late_s),
        gateway="http-gw-1",
        key=device.device_id,
    )


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    """The pick-up centres' records of `day` (their devices name the centre in `site_id`). `rng`, the domain's
    stream, is left alone: the centres draw from a stream of their own per day."""
    own = random.Random(f"pickup/{day.isoformat()}")
    surged = city.centres[day.toordinal() % len(city.centres)] if city.centres else None
    for centre in city.centres:
        devices = [d for d in city.devices if d.site_id == centre.centre_id]
        surge = centre is surged
        if surge:
            truth.add("security", "pickup_congestion", centre.centre_id, local(day, SURGE[0]))
        passages = _passages(_arrivals(own, centre.capacity, surge), centre.capacity)
        for device in devices:
            yield from _device_day(device, centre, passages, day, own)


def _device_day(
    device: SecurityDevice, centre: PickupCentre, passages: list[tuple[float, int, int]], day: date, rng: random.Random
) -> Iterator[RawEnvelope]:
    beats = range(int(rng.uniform(0, device.heartbeat_interval_s)), DAY_S, device.heartbeat_interval_s)
    for sn, t in enumerate(beats, start=1):
        if device.kind == "camera":
            yield _envelope(device, gb28181_keepalive_xml(device.device_id, sn), "gb28181", day, t, 0.5)
        else:
            yield _envelope(device, counter_json(device.device_id, "heartbeat", local(day, t)), "counter", day, t, 0.5)
    late = lambda: rng.uniform(120, 600) if rng.random() < LATE_SHARE else rng.uniform(0.2, 2.0)  # noqa: E731
    if device.kind == "barrier":
        for at, step, _ in passages:
            direction: PassageDirection = "in" if step > 0 else "out"
            body = counter_json(
                device.device_id, "passage", local(day, at), direction=direction, channel=1 + (step < 0)
            )
            yield _envelope(device, body, "counter", day, at, late())
    elif device.kind == "counter":
        k, inside, queue = 0, 0, 0
        for first, last in BUSY:
            for t in range(first, last, 60):
                entered = exited = 0
                while k < len(passages) and passages[k][0] <= t:
                    _, step, queue = passages[k]
                    inside += step
                    entered, exited = entered + (step > 0), exited + (step < 0)
                    k += 1
                body = counter_json(device.device_id, "count", local(day, t), occupancy=inside, queue=queue,
                                    entered=entered, exited=exited)  # fmt: skip
                yield _envelope(device, body, "counter", day, t, late())
