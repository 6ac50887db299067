"""GTFS-realtime out: live bus positions and delays as protobuf feeds any transit tool can read.

`build_feed` turns the latest BusEvent per terminal (VehiclePositions) and, per terminal, the
predicted arrivals at the remaining stops of the run in service (TripUpdates: one StopTimeUpdate
per stop, its time, delay and uncertainty) or else the latest measured stop delay into a
FeedMessage. `GtfsRealtimeState` is what the pipeline updates (fixes from events, predictions
from `pipelines.bus.predict`, delays from the stop visits of runs and late-arrival alerts);
`GtfsRealtimeServer` serves it over HTTP on 127.0.0.1:

    GET /gtfs-rt/vehicle-positions   VehiclePositions only
    GET /gtfs-rt/trip-updates        TripUpdates only
    GET /gtfs-rt                     both in one feed

    >>> state = GtfsRealtimeState()
    >>> state.update(event)                       # a BusEvent fix
    >>> state.observe_run(run)                    # a BusRun: its last measured stop visit is the delay
    >>> state.observe_alert(alert)                # a late-arrival alert: the visit in its evidence
    >>> state.set_prediction(terminal, prediction)  # an ArrivalPrediction (None: not in service)
    >>> with GtfsRealtimeServer(state) as server:  # port 0: the OS picks one
    ...     urllib.request.urlopen(server.url + "/gtfs-rt/vehicle-positions").read()
"""

from __future__ import annotations

import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal

from google.transit import gtfs_realtime_pb2
from pydantic import ValidationError

from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import ArrivalPrediction, BusEvent, BusRun, StopVisit

FeedPart = Literal["all", "vehicles", "trips"]
CONTENT_TYPE = "application/x-protobuf"
PATHS: dict[str, FeedPart] = {
    "/gtfs-rt": "all",
    "/gtfs-rt/feed": "all",
    "/gtfs-rt/vehicle-positions": "vehicles",
    "/gtfs-rt/trip-updates": "trips",
}
# (trip_id, stop_id, delay in seconds): the last timed stop a bus was measured at.
Delay = tuple[str, str, int]


def build_feed(
    latest: dict[str, BusEvent],
    delays: dict[str, Delay],
    now: datetime,
    part: FeedPart = "all",
    predictions: dict[str, ArrivalPrediction] | None = None,
) -> bytes:
    """A FULL_DATASET FeedMessage of the buses in `latest` (by terminal id), serialized.

    A terminal with a prediction has it as its TripUpdate; one without, its last measured delay."""
    predictions = predictions or {}
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = gtfs_realtime_pb2.FeedHeader.FULL_DATASET
    feed.header.timestamp = int(now.timestamp())
    for terminal_id in sorted(latest):
        event = latest[terminal_id]
        delay, predicted = delays.get(terminal_id), predictions.get(terminal_id)
        trip_id = predicted.trip_id if predicted else delay[0] if delay else event.trip_id
        if part in ("all", "vehicles") and event.lat_deg is not None and event.lon_deg is not None:
            entity = feed.entity.add()
            entity.id = f"vp-{terminal_id}"
            vehicle = entity.vehicle
            _describe(vehicle.vehicle, event)
            if trip_id:
                vehicle.trip.trip_id = trip_id
            if event.route_id:
                vehicle.trip.route_id = event.route_id
            vehicle.position.latitude = event.lat_deg
            vehicle.position.longitude = event.lon_deg
            if event.direction_deg is not None:
                vehicle.position.bearing = float(event.direction_deg)
            if event.speed_kmh is not None:
                vehicle.position.speed = event.speed_kmh / 3.6  # GTFS-realtime speed is in m/s
            vehicle.timestamp = int(event.occurred_at.timestamp())
            if predicted is not None and predicted.stops:  # where the run is going next
                vehicle.current_stop_sequence = predicted.stops[0].stop_sequence
                vehicle.stop_id = predicted.stops[0].stop_id
                vehicle.current_status = gtfs_realtime_pb2.VehiclePosition.IN_TRANSIT_TO
        if part in ("all", "trips") and predicted is not None:
            _trip_update(feed.entity.add(), terminal_id, predicted, event)
        elif part in ("all", "trips") and delay is not None:
            entity = feed.entity.add()
            entity.id = f"tu-{terminal_id}"
            update = entity.trip_update
            update.trip.trip_id = delay[0]
            if event.route_id:
                update.trip.route_id = event.route_id
            _describe(update.vehicle, event)
            stop_update = update.stop_time_update.add()
            stop_update.stop_id = delay[1]
            stop_update.arrival.delay = delay[2]
            update.delay = delay[2]
            update.timestamp = int(event.occurred_at.timestamp())
    return bytes(feed.SerializeToString())


def _trip_update(
    entity: gtfs_realtime_pb2.FeedEntity, terminal_id: str, predicted: ArrivalPrediction, event: BusEvent
) -> None:
    """A TripUpdate of predicted arrivals: each remaining stop's time, delay and uncertainty."""
    entity.id = f"tu-{terminal_id}"
    update = entity.trip_update
    update.trip.trip_id = predicted.trip_id
    update.trip.route_id = predicted.route_id
    update.trip.start_date = predicted.service_day.strftime("%Y%m%d")
    update.trip.schedule_relationship = gtfs_realtime_pb2.TripDescriptor.SCHEDULED
    _describe(update.vehicle, event)
    for stop in predicted.stops:
        stop_update = update.stop_time_update.add()
        stop_update.stop_sequence = stop.stop_sequence
        stop_update.stop_id = stop.stop_id
        stop_update.arrival.time = int(stop.predicted.timestamp())
        stop_update.arrival.delay = round((stop.predicted - stop.scheduled).total_seconds())
        stop_update.arrival.uncertainty = stop.uncertainty_s
        stop_update.schedule_relationship = gtfs_realtime_pb2.TripUpdate.StopTimeUpdate.SCHEDULED
    update.delay = predicted.delay_s
    update.timestamp = int(predicted.made_at.timestamp())


def _describe(descriptor: gtfs_realtime_pb2.VehicleDescriptor, event: BusEvent) -> None:
    descriptor.id = event.bus_id or event.terminal_id
    if event.plate:
        descriptor.license_plate = event.plate
        descriptor.label = event.plate


class GtfsRealtimeState:
    """The latest fix and delay per terminal; updated by the pipeline, read by the server (thread-safe).

    Runs and alerts may arrive in any order (two streams): a delay measured earlier than the one
    held never replaces it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, BusEvent] = {}
        self._delays: dict[str, Delay] = {}
        self._measured_at: dict[str, datetime] = {}
        self._predictions: dict[str, ArrivalPrediction] = {}

    def update(self, event: BusEvent) -> None:
        """Keep a fix if it is newer than the one held: late fixes must not move a bus backwards."""
        if event.kind != "fix" or event.lat_deg is None or event.lon_deg is None:
            return
        with self._lock:
            held = self._latest.get(event.terminal_id)
            if held is None or event.occurred_at > held.occurred_at:
                self._latest[event.terminal_id] = event

    def set_prediction(self, terminal_id: str, prediction: ArrivalPrediction | None) -> None:
        """The predicted arrivals of the terminal's run in service; None: it is not in service."""
        with self._lock:
            if prediction is None:
                self._predictions.pop(terminal_id, None)
            else:
                self._predictions[terminal_id] = prediction

    def set_delay(self, terminal_id: str, trip_id: str, stop_id: str, delay_s: int) -> None:
        with self._lock:
            self._delays[terminal_id] = (trip_id, stop_id, delay_s)
            self._measured_at.pop(terminal_id, None)

    def observe_visit(self, terminal_id: str, visit: StopVisit) -> None:
        """A measured stop visit (not a missed one) becomes the terminal's delay unless a newer one is held."""
        if visit.delay_s is None or visit.actual is None:
            return
        with self._lock:
            held = self._measured_at.get(terminal_id)
            if held is None or visit.actual >= held:
                self._delays[terminal_id] = (visit.trip_id, visit.stop_id, visit.delay_s)
                self._measured_at[terminal_id] = visit.actual

    def observe_run(self, run: BusRun) -> None:
        """A finished run: its last measured stop visit."""
        measured = [v for v in run.visits if v.delay_s is not None]
        if measured:
            self.observe_visit(run.subject, measured[-1])

    def observe_alert(self, alert: Alert) -> None:
        """A bus alert whose evidence holds a stop visit (a late arrival): its delay."""
        if alert.domain != "bus":
            return
        for item in reversed(alert.evidence):
            if "stop_sequence" in item and "delay_s" in item:
                try:
                    visit = StopVisit.model_validate(item)
                except ValidationError:
                    continue
                self.observe_visit(alert.subject, visit)
                return

    def feed(self, now: datetime, part: FeedPart = "all") -> bytes:
        with self._lock:
            latest, delays, predictions = dict(self._latest), dict(self._delays), dict(self._predictions)
        return build_feed(latest, delays, now, part, predictions)


class GtfsRealtimeServer:
    """The feeds over HTTP on 127.0.0.1 (port 0: an ephemeral port), served from a thread."""

    def __init__(self, state: GtfsRealtimeState, port: int = 0, host: str = "127.0.0.1") -> None:
        self.state = state
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(state))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="gtfs-rt", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GtfsRealtimeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GtfsRealtimeServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _handler_for(state: GtfsRealtimeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            part = PATHS.get(self.path.split("?", 1)[0].rstrip("/"))
            if part is None:
                body = ("not found: the feeds are " + ", ".join(sorted(PATHS)) + "\n").encode("utf-8")
                self._send(404, "text/plain; charset=utf-8", body)
                return
            self._send(200, CONTENT_TYPE, state.feed(datetime.now().astimezone(), part))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Quiet: a feed polled every few seconds must not flood the log."""

    return Handler
