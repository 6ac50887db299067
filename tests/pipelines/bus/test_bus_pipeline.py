"""BusPipeline: decoding envelopes into protocol-neutral BusEvents, enrichment, KPIs from runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from bus_route import DAY, TERMINAL, at, route_registry

from safecampus.config import Settings
from safecampus.connectors.bus.jt808_encode import encode_batch_body, encode_location_body
from safecampus.connectors.bus.jt808_frame import MSG_HEARTBEAT, MSG_LOCATION, MSG_LOCATION_BATCH, encode_frame
from safecampus.connectors.bus.jt808_messages import (
    ALARM_EMERGENCY,
    ALARM_ILLEGAL_DOOR_OPENING,
    STATUS_ACC_ON,
    STATUS_DOOR1_OPEN,
    STATUS_POSITIONED,
    LocationReport,
)
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.domain import DecodeError
from safecampus.schemas.bus import BusEvent, BusRun, CentreVisit, StopVisit
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.envelope import RawEnvelope

RECEIVED = datetime(2026, 9, 1, 7, 0, 5, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def pipeline() -> BusPipeline:
    return BusPipeline(Settings(), route_registry())


def _frame(message_id: int, body: bytes, phone: str = TERMINAL) -> RawEnvelope:
    return RawEnvelope.of_bytes(
        encode_frame(message_id, phone, 1, body), domain="bus", source="jt808", received_at=RECEIVED
    )


def _report(**changes: object) -> LocationReport:
    fields: dict[str, object] = {
        "lat_deg": 31.78,
        "lon_deg": 119.95,
        "time": datetime(2026, 9, 1, 7, 0, 0, tzinfo=SHANGHAI),
        "speed_kmh": 36.0,
        "direction_deg": 90,
        "altitude_m": 8,
        "status_flags": STATUS_ACC_ON | STATUS_POSITIONED,
    }
    fields.update(changes)
    return LocationReport(**fields)  # type: ignore[arg-type]


def test_a_fix_becomes_an_enriched_event_with_named_flags(pipeline: BusPipeline) -> None:
    report = _report(
        alarm_flags=ALARM_EMERGENCY | ALARM_ILLEGAL_DOOR_OPENING, status_flags=STATUS_POSITIONED | STATUS_DOOR1_OPEN
    )
    [event] = pipeline.decode(_frame(MSG_LOCATION, encode_location_body(report)))
    assert event.event_id == f"{TERMINAL}/fix/20260831T230000" and event.occurred_at == report.time
    assert (event.lat_deg, event.lon_deg, event.speed_kmh, event.direction_deg) == (31.78, 119.95, 36.0, 90)
    assert (event.positioned, event.ignition_on, event.door_open) == (True, False, True)
    assert (event.alarm_emergency, event.alarm_illegal_door_opening, event.alarm_overspeed) == (True, True, False)
    assert (event.bus_id, event.plate, event.route_id, event.school_id, event.district) == (
        "B001",
        "苏D00001",
        "R1",
        "S0001",
        "tianning",
    )
    assert not {"alarm_flags", "status_flags"} & set(BusEvent.model_fields)  # no protocol bits downstream


def test_a_batch_is_several_fixes_and_a_heartbeat_takes_the_receive_time(pipeline: BusPipeline) -> None:
    reports = [_report(time=_report().time + timedelta(seconds=15 * k), status_flags=0) for k in range(3)]
    events = pipeline.decode(_frame(MSG_LOCATION_BATCH, encode_batch_body(reports, 1)))
    assert [e.occurred_at for e in events] == [r.time for r in reports]
    assert not any(e.positioned for e in events)
    [beat] = pipeline.decode(_frame(MSG_HEARTBEAT, b""))
    assert (beat.kind, beat.occurred_at, beat.lat_deg) == ("heartbeat", RECEIVED, None)


def test_an_unknown_terminal_is_kept_without_registry_fields(pipeline: BusPipeline) -> None:
    [event] = pipeline.decode(_frame(MSG_LOCATION, encode_location_body(_report()), phone="013899999999"))
    assert event.terminal_id == "013899999999" and event.bus_id is None and event.school_id is None


def test_escort_json_and_refusals(pipeline: BusPipeline) -> None:
    body = f'{{"terminal_id": "{TERMINAL}", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}}'
    envelope = RawEnvelope(domain="bus", source="bus-json", payload=body, received_at=RECEIVED)
    [event] = pipeline.decode(envelope)
    assert (event.kind, event.bus_id, event.occurred_at) == ("all_off", "B001", at(7 * 3600 + 52 * 60 + 10))
    with pytest.raises(DecodeError, match="escort event is not valid"):
        pipeline.decode(envelope.model_copy(update={"payload": '{"kind": "all_off"}'}))
    with pytest.raises(DecodeError, match="JT/T 808 frame 7e02.*checksum"):
        frame = encode_frame(MSG_LOCATION, TERMINAL, 1, encode_location_body(_report()))
        pipeline.decode(
            RawEnvelope.of_bytes(frame[:-2] + b"\x00\x7e", domain="bus", source="jt808", received_at=RECEIVED)
        )
    with pytest.raises(DecodeError, match="not a bus format"):
        pipeline.decode(envelope.model_copy(update={"source": "isapi"}))


def _visit(stop: str, status: str, delay: int | None = 0) -> StopVisit:
    return StopVisit(
        stop_id=stop,
        stop_sequence=int(stop[-1]),
        trip_id="R1-AM-0",
        kind="arrival",
        scheduled=at(7 * 3600),
        actual=None if status == "missed" else at(7 * 3600 + (delay or 0)),
        delay_s=None if status == "missed" else delay,
        status=status,  # type: ignore[arg-type]
    )


def test_on_time_kpis_come_from_runs(pipeline: BusPipeline) -> None:
    run = BusRun(
        subject=TERMINAL,
        trip_id="R1-AM-0",
        route_id="R1",
        service_day=DAY,
        started_at=at(7 * 3600),
        ended_at=at(7 * 3600 + 600),
        reached_end=False,
        visits=[
            _visit("R1-0", "on_time"),
            _visit("R1-1", "late", 400),
            _visit("R1-1", "early", -90),
            _visit("R1-2", "missed"),
        ],
    )
    kpis = pipeline.finish_kpis(pipeline.kpi_partials((), (), [run]))
    assert kpis[("bus_stop_visits", ())] == 3  # the missed stop is no visit
    assert kpis[("bus_stop_visits_on_time", (("route", "R1"),))] == 1
    assert kpis[("bus_on_time_ratio", (("route", "R1"), ("stop", "R1-1")))] == 0
    assert kpis[("bus_on_time_ratio", ())] == pytest.approx(1 / 3)
    assert ("bus_stop_visits", (("route", "R1"), ("stop", "R1-2"))) not in kpis
    assert pipeline.derived == (("runs", BusRun), ("centre_visits", CentreVisit))
