"""The GTFS-realtime service: follows bus events, runs and alerts, serves VehiclePositions and TripUpdates.

    safecampus gtfs-rt --kafka 127.0.0.1:9092          # follow events.bus, runs.bus and alerts
    safecampus gtfs-rt --from-dir out/bus              # serve the state of a replay's output

Existing transit tools read http://127.0.0.1:8081/gtfs-rt/vehicle-positions (and /trip-updates).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from safecampus.connectors.bus.gtfs_realtime import GtfsRealtimeState
from safecampus.connectors.kafka import Topics, view_consumer
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun


def load_replay_output(state: GtfsRealtimeState, directory: Path) -> int:
    """Feed a replay's events.jsonl, alerts.jsonl and runs.jsonl into the state; returns the fixes read."""
    fixes = 0
    with (directory / "events.jsonl").open("rb") as handle:
        for line in handle:
            if line.strip():
                state.update(BusEvent.model_validate_json(line))
                fixes += 1
    alerts = directory / "alerts.jsonl"
    if alerts.exists():
        with alerts.open("rb") as handle:
            for line in handle:
                if line.strip():
                    state.observe_alert(Alert.model_validate_json(line))
    runs = directory / "runs.jsonl"
    if runs.exists():
        with runs.open("rb") as handle:
            for line in handle:
                if line.strip():
                    state.observe_run(BusRun.model_validate_json(line))
    return fixes


def follow_kafka(state: GtfsRealtimeState, bootstrap: str, stop: Callable[[], bool], prefix: str = "") -> None:
    """Keep the state current from events.bus, runs.bus and bus alerts until `stop()` is true (no group: a view)."""
    topics = Topics(prefix)
    events_topic, runs_topic = topics.events("bus"), topics.derived("runs", "bus")
    consumer = view_consumer(bootstrap, [events_topic, runs_topic, topics.alerts])
    try:
        while not stop():
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.topic == events_topic:
                        state.update(BusEvent.model_validate_json(record.value))
                    elif record.topic == runs_topic:
                        state.observe_run(BusRun.model_validate_json(record.value))
                    elif json.loads(record.value).get("domain") == "bus":
                        state.observe_alert(Alert.model_validate_json(record.value))
    finally:
        consumer.close()
