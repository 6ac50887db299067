"""The GTFS-realtime service: follows bus events, runs and alerts, serves VehiclePositions and TripUpdates.

    safecampus gtfs-rt --kafka 127.0.0.1:9092          # follow events.bus, runs.bus and alerts
    safecampus gtfs-rt --from-dir out/bus              # serve the state of a replay's output
    safecampus gtfs-rt --from-dir out/bus --until 2026-09-01T07:10:00+08:00   # as it was then

Existing transit tools read http://127.0.0.1:8081/gtfs-rt/vehicle-positions (and /trip-updates).
With the registry at hand, each bus in service has its predicted arrivals at its remaining stops
(`pipelines.bus.predict`), learned from the runs that ended before (the runs stream, from its start).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from safecampus.connectors.bus.gtfs_realtime import GtfsRealtimeState
from safecampus.connectors.kafka import Topics, read_from_start, view_consumer
from safecampus.pipelines.bus.predict import ArrivalPredictor
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun

R = TypeVar("R", Alert, BusRun)


class LiveFeed:
    """The served state, and the predictor that gives it its TripUpdates (None: positions and delays only)."""

    def __init__(self, state: GtfsRealtimeState, predictor: ArrivalPredictor | None = None) -> None:
        self.state = state
        self.predictor = predictor

    def event(self, event: BusEvent) -> None:
        self.state.update(event)
        if self.predictor is not None and event.kind == "fix":
            self.predictor.observe(event)
            self.state.set_prediction(event.terminal_id, self.predictor.latest.get(event.terminal_id))

    def run(self, run: BusRun) -> None:
        self.state.observe_run(run)
        if self.predictor is not None:
            self.predictor.learn(run)

    def alert(self, alert: Alert) -> None:
        self.state.observe_alert(alert)


def load_replay_output(feed: LiveFeed, directory: Path, until: datetime | None = None) -> int:
    """Feed a replay's events.jsonl (in time order), alerts.jsonl and runs.jsonl; returns the fixes read.

    `until`: only what had happened by then (fixes, alerts detected and runs ended by `until`)."""
    events = []
    with (directory / "events.jsonl").open("rb") as handle:
        for line in handle:
            if line.strip():
                event = BusEvent.model_validate_json(line)
                if until is None or event.occurred_at <= until:
                    events.append(event)
    events.sort(key=lambda e: e.occurred_at)
    for event in events:
        feed.event(event)
    for alert in _records(directory / "alerts.jsonl", Alert):
        if until is None or alert.detected_at <= until:
            feed.alert(alert)
    for run in _records(directory / "runs.jsonl", BusRun):
        if until is None or run.ended_at <= until:
            feed.run(run)
    return len(events)


def _records(path: Path, kind: type[R]) -> list[R]:
    if not path.exists():
        return []
    with path.open("rb") as handle:
        return [kind.model_validate_json(line) for line in handle if line.strip()]


def follow_kafka(feed: LiveFeed, bootstrap: str, stop: Callable[[], bool], prefix: str = "") -> None:
    """Keep the state current from events.bus, runs.bus and bus alerts until `stop()` is true (no group: a view).

    First the runs already on runs.bus (the history the predictions learn from), then the live view."""
    topics = Topics(prefix)
    events_topic, runs_topic = topics.events("bus"), topics.derived("runs", "bus")
    if feed.predictor is not None:
        for value in read_from_start(bootstrap, runs_topic):
            feed.run(BusRun.model_validate_json(value))
    consumer = view_consumer(bootstrap, [events_topic, runs_topic, topics.alerts])
    try:
        while not stop():
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.topic == events_topic:
                        feed.event(BusEvent.model_validate_json(record.value))
                    elif record.topic == runs_topic:
                        feed.run(BusRun.model_validate_json(record.value))
                    elif json.loads(record.value).get("domain") == "bus":
                        feed.alert(Alert.model_validate_json(record.value))
    finally:
        consumer.close()
