"""The TripUpdates of a simulated morning, served over HTTP, validate against the GTFS they predict on.

Checked as a GTFS-realtime consumer would: the official bindings parse the feed; every trip and
stop exists in the static GTFS, at its stop_sequence; stop_sequence increases along a trip and
the predicted times never go backwards; each delay agrees with its time and the timetable.
"""

from __future__ import annotations

import urllib.request
from datetime import date, datetime, time
from pathlib import Path

from google.transit import gtfs_realtime_pb2

from safecampus.config import Settings
from safecampus.connectors.bus.gtfs_realtime import GtfsRealtimeServer, GtfsRealtimeState
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.bus.geometry import gtfs_seconds
from safecampus.pipelines.bus.predict import ArrivalPredictor
from safecampus.schemas.common import SHANGHAI, service_time
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.run import simulate
from safecampus.transit_feed import LiveFeed

DAY = date(2026, 9, 1)


def feed_problems(feed: gtfs_realtime_pb2.FeedMessage, registry: RegistryView) -> list[str]:
    """What a GTFS-realtime consumer would refuse in the TripUpdates of `feed`, one line each."""
    problems: list[str] = []
    if feed.header.gtfs_realtime_version != "2.0" or not feed.header.timestamp:
        problems.append("header: version 2.0 and a timestamp are required")
    ids = [e.id for e in feed.entity]
    if len(ids) != len(set(ids)):
        problems.append("entity ids repeat")
    for entity in feed.entity:
        if not entity.HasField("trip_update"):
            continue
        update = entity.trip_update
        trip = registry.trips.get(update.trip.trip_id)
        if trip is None:
            problems.append(f"{entity.id}: trip {update.trip.trip_id!r} is not in the GTFS")
            continue
        if update.trip.route_id != trip.route_id:
            problems.append(f"{entity.id}: route {update.trip.route_id!r} is not trip {trip.trip_id}'s")
        day = datetime.strptime(update.trip.start_date, "%Y%m%d").date()
        planned = {t.stop_sequence: t for t in registry.stop_times[trip.trip_id]}
        sequences = [u.stop_sequence for u in update.stop_time_update]
        times = [u.arrival.time for u in update.stop_time_update]
        if not sequences:
            problems.append(f"{entity.id}: no StopTimeUpdate")
        if sequences != sorted(set(sequences)):
            problems.append(f"{entity.id}: stop_sequence does not increase: {sequences}")
        if times != sorted(times):
            problems.append(f"{entity.id}: predicted times go backwards")
        for u in update.stop_time_update:
            stop_time = planned.get(u.stop_sequence)
            if stop_time is None or stop_time.stop_id != u.stop_id:
                problems.append(f"{entity.id}: stop {u.stop_id!r} is not stop {u.stop_sequence} of the trip")
                continue
            scheduled = service_time(day, gtfs_seconds(stop_time.arrival_time or ""))
            if u.arrival.delay != u.arrival.time - int(scheduled.timestamp()) or u.arrival.uncertainty < 0:
                problems.append(f"{entity.id}: stop {u.stop_id}: delay disagrees with time and timetable")
    return problems


def test_trip_updates_of_a_simulated_morning_are_valid_gtfs_realtime(
    tmp_path: Path, city_registry: RegistryView
) -> None:
    simulated_day = simulate(tmp_path, domains=("bus",), start=DAY, hours=(6, 7.5))
    until = datetime.combine(DAY, time(7, 10), SHANGHAI)
    pipeline = BusPipeline(Settings(), city_registry)
    feed = LiveFeed(GtfsRealtimeState(), ArrivalPredictor(city_registry, Settings().bus))
    with simulated_day.raw_file("bus").open("rb") as handle:
        for line in handle:
            envelope = RawEnvelope.model_validate_json(line)
            if envelope.received_at > until:
                break
            for event in pipeline.decode(envelope) if envelope.source == "jt808" else []:
                feed.event(event)
    with GtfsRealtimeServer(feed.state) as server:
        body = urllib.request.urlopen(server.url + "/gtfs-rt/trip-updates", timeout=5).read()
    parsed = gtfs_realtime_pb2.FeedMessage()
    parsed.ParseFromString(body)
    assert parsed.IsInitialized()
    updates = [e.trip_update for e in parsed.entity if e.HasField("trip_update")]
    assert len(updates) >= 40  # at 07:10 most of the 60 buses are on the road
    assert all(len(u.stop_time_update) >= 1 and u.stop_time_update[0].arrival.uncertainty >= 0 for u in updates)
    assert feed_problems(parsed, city_registry) == []
    with GtfsRealtimeServer(feed.state) as server:
        both = gtfs_realtime_pb2.FeedMessage.FromString(
            urllib.request.urlopen(server.url + "/gtfs-rt", timeout=5).read()
        )
    going = {e.id[3:]: e.trip_update for e in both.entity if e.HasField("trip_update")}
    for vehicle in (e for e in both.entity if e.HasField("vehicle") and e.id[3:] in going):
        update = going[vehicle.id[3:]]
        assert vehicle.vehicle.trip.trip_id == update.trip.trip_id
        assert vehicle.vehicle.current_stop_sequence == update.stop_time_update[0].stop_sequence
    # The check can fail: a trip update whose times go backwards, or a stop from another trip.
    broken = gtfs_realtime_pb2.FeedMessage()
    broken.CopyFrom(parsed)
    stops = next(e for e in broken.entity if e.HasField("trip_update")).trip_update.stop_time_update
    stops[0].arrival.time, stops[-1].arrival.time = stops[-1].arrival.time + 60, stops[0].arrival.time
    stops[-1].stop_id = "CZ99-1"
    assert len(feed_problems(broken, city_registry)) >= 2
