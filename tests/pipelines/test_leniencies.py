"""What real devices bend is accepted, kept on the event and counted as decode_leniencies_total{domain, kind}.

Before issue 10 each of these records went to the DLQ (an unknown camera event type, an overrunning
JT/T 808 item, a `-8:00` offset) or was read in the host's zone (an escort time without offset).
"""

from __future__ import annotations

from datetime import datetime

from safecampus.config import Settings
from safecampus.connectors.bus.jt808_encode import encode_location_body
from safecampus.connectors.bus.jt808_frame import MSG_LOCATION, encode_frame
from safecampus.connectors.bus.jt808_messages import LocationReport
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.domain import LENIENCIES
from safecampus.pipelines.security import SecurityPipeline
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.envelope import RawEnvelope

RECEIVED = datetime(2026, 9, 1, 22, 15, 5, tzinfo=SHANGHAI)


def _isapi(event_type: str, moment: str = "2026-09-01T22:15:03+08:00") -> RawEnvelope:
    body = (
        "<EventNotificationAlert><macAddress>44:19:b6:12:34:56</macAddress><channelID>1</channelID>"
        f"<dateTime>{moment}</dateTime><eventType>{event_type}</eventType><eventState>active</eventState>"
        "</EventNotificationAlert>"
    )
    return RawEnvelope.of_bytes(
        body.encode(), domain="security", source="isapi", content_type="application/xml", received_at=RECEIVED
    )


def _count(partials: dict[tuple[str, tuple[tuple[str, str], ...]], float], domain: str, kind: str) -> float:
    return partials.get((LENIENCIES, (("domain", domain), ("kind", kind))), 0.0)


def test_an_unknown_camera_event_type_is_raised_as_other_and_counted() -> None:
    pipeline = SecurityPipeline(Settings(), RegistryView())
    [event] = pipeline.decode(_isapi("newFirmwareThing"))
    assert (event.event_type, event.severity, event.vendor_type) == ("other", "warning", "isapi:newfirmwarething")
    assert event.lenient == ("unknown_event_type",)
    partials = pipeline.kpi_partials([event], [])
    assert _count(partials, "security", "unknown_event_type") == 1
    [known] = pipeline.decode(_isapi("VMD"))
    assert known.lenient == () and "lenient" not in known.model_dump()  # the stored JSON is unchanged
    assert _count(pipeline.kpi_partials([known], []), "security", "unknown_event_type") == 0


def test_a_short_utc_offset_is_read_as_meant_and_counted() -> None:
    pipeline = SecurityPipeline(Settings(), RegistryView())
    [event] = pipeline.decode(_isapi("VMD", "2026-09-01T06:15:03-8:00"))
    assert event.occurred_at == datetime(2026, 9, 1, 22, 15, 3, tzinfo=SHANGHAI)
    assert _count(pipeline.kpi_partials([event], []), "security", "short_utc_offset") == 1


def test_a_fix_whose_last_item_overruns_is_kept_and_counted() -> None:
    pipeline = BusPipeline(Settings(), RegistryView())
    report = LocationReport(lat_deg=31.78, lon_deg=119.95, time=datetime(2026, 9, 1, 7, 30, tzinfo=SHANGHAI))
    body = encode_location_body(report) + bytes.fromhex("e10a010203")  # says 10 bytes, 3 remain
    envelope = RawEnvelope.of_bytes(
        encode_frame(MSG_LOCATION, "013800000001", 1, body), domain="bus", source="jt808", received_at=RECEIVED
    )
    [event] = pipeline.decode(envelope)
    assert event.kind == "fix" and event.lat_deg == 31.78 and event.lenient == ("extra_item_overrun",)
    assert _count(pipeline.kpi_partials([event], []), "bus", "extra_item_overrun") == 1


def test_an_escort_time_without_offset_is_beijing_time_and_counted() -> None:
    pipeline = BusPipeline(Settings(), RegistryView())
    body = '{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10"}'
    [event] = pipeline.decode(RawEnvelope(domain="bus", source="bus-json", payload=body, received_at=RECEIVED))
    assert event.occurred_at == datetime(2026, 9, 1, 7, 52, 10, tzinfo=SHANGHAI)
    assert _count(pipeline.kpi_partials([event], []), "bus", "time_without_offset") == 1


def test_an_alarm_box_kind_we_do_not_know_is_raised_not_dropped() -> None:
    pipeline = SecurityPipeline(Settings(), RegistryView())
    body = b'{"device_id": "CZ-0090-00", "kind": "smoke", "time": "2026-09-01T22:15:03+08:00"}'
    envelope = RawEnvelope.of_bytes(body, domain="security", source="alarmbox", received_at=RECEIVED)
    [event] = pipeline.decode(envelope)
    assert (event.event_type, event.severity, event.vendor_type) == ("other", "warning", "alarmbox:smoke")
    assert _count(pipeline.kpi_partials([event], []), "security", "unknown_event_type") == 1
