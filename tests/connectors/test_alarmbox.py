"""The alarm-box JSON form: one-key boxes, fence and access-control sensors; readable errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args

import pytest

from safecampus.connectors.security.alarmbox import AlarmBoxKind, decode_alarmbox
from safecampus.connectors.security.record import VendorSecurityRecord, taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.schemas.security import SecurityEventType
from safecampus.simulator.security_payloads import alarmbox_json

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 9, 1, 8, 30, tzinfo=BEIJING)


def event(**fields: Any) -> bytes:
    """A valid one-key alarm event; `fields` replace keys (None drops one)."""
    values: dict[str, Any] = {
        "device_id": "CZ-AB-0001",
        "kind": "one_key",
        "state": "active",
        "time": "2026-09-01T08:30:00+08:00",
        "channel": 1,
        "zone": "gate guard room",
    } | fields
    return json.dumps({k: v for k, v in values.items() if v is not None}, ensure_ascii=False).encode()


def test_one_key_alarm() -> None:
    record = decode_alarmbox(event())
    assert record == VendorSecurityRecord(
        device_id="CZ-AB-0001",
        channel=1,
        source_format="alarmbox",
        vendor_type="alarmbox:one_key",
        state="active",
        occurred_at=AT,
        priority=None,
        description="gate guard room",
    )
    assert taxonomy_of(record.vendor_type) == "one_key_alarm"


def test_defaults_for_state_channel_and_zone() -> None:
    record = decode_alarmbox(event(state=None, channel=None, zone=None))
    assert (record.state, record.channel, record.description) == ("active", 1, None)


def test_chinese_zone_and_utc_time() -> None:
    record = decode_alarmbox(event(kind="fence", zone="东侧围墙 3 号防区", time="2026-09-01T00:30:00Z"))
    assert record.description == "东侧围墙 3 号防区"
    assert record.occurred_at == datetime(2026, 9, 1, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "expected_start"),
    [
        (
            {"colour": "red"},
            "the alarm-box event is not valid: field 'colour': Extra inputs are not permitted",
        ),
        ({"kind": "Smoke Alarm!"}, "the alarm-box event is not valid: field 'kind'"),
        ({"state": "on"}, "the alarm-box event is not valid: field 'state'"),
        ({"device_id": None}, "the alarm-box event is not valid: field 'device_id': Field required"),
        ({"device_id": ""}, "the alarm-box event is not valid: field 'device_id'"),
        ({"time": "2026-09-01T08:30:00"}, "the alarm-box event is not valid: field 'time'"),
        ({"time": "tomorrow"}, "the alarm-box event is not valid: field 'time'"),
        ({"channel": -1}, "the alarm-box event is not valid: field 'channel'"),
        ({"channel": "one"}, "the alarm-box event is not valid: field 'channel'"),
    ],
)
def test_invalid_fields_are_one_readable_line(fields: dict[str, Any], expected_start: str) -> None:
    with pytest.raises(SecurityDecodeError) as info:
        decode_alarmbox(event(**fields))
    message = str(info.value)
    assert message.startswith(expected_start)
    assert "\n" not in message


@pytest.mark.parametrize("payload", [b"", b"{", b"not json", b"[1, 2]", b'"one_key"', b"\xff\xfe{}"])
def test_not_an_event_object(payload: bytes) -> None:
    with pytest.raises(SecurityDecodeError, match="the alarm-box event is not valid"):
        decode_alarmbox(payload)


def test_oversize_payload() -> None:
    with pytest.raises(SecurityDecodeError, match="above the 262144-byte limit"):
        decode_alarmbox(event(zone="x" * 300_000))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("one_key", "one_key_alarm"),
        ("fence", "fence"),
        ("door_forced", "forced_door"),
        ("door_held", "other"),
        ("heartbeat", "heartbeat"),
        ("tamper", "tamper"),
        ("fault", "device_fault"),
    ],
)
def test_builder_round_trip_and_taxonomy(kind: AlarmBoxKind, expected: SecurityEventType) -> None:
    at = datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
    payload = alarmbox_json("CZ-FN-0012", kind, "inactive", at, channel=3, zone="east fence")
    record = decode_alarmbox(payload)
    assert record.device_id == "CZ-FN-0012"
    assert record.vendor_type == f"alarmbox:{kind}"
    assert (record.state, record.channel, record.description) == ("inactive", 3, "east fence")
    assert record.occurred_at == at
    assert taxonomy_of(record.vendor_type) == expected


def test_every_documented_kind_has_a_taxonomy() -> None:
    for kind in get_args(AlarmBoxKind):
        assert taxonomy_of(f"alarmbox:{kind}") in get_args(SecurityEventType)


@pytest.mark.parametrize(
    "vendor_type",
    [
        "alarmbox:smoke",
        "isapi:",
        "isapi:somethingnew",
        "gb28181:8",
        "gb28181:5/99",
        "gb28181:2/9",
        "onvif:motion",
        "",
    ],
)
def test_unknown_vendor_types_have_no_taxonomy(vendor_type: str) -> None:
    assert taxonomy_of(vendor_type) is None


def test_taxonomy_is_case_and_space_insensitive() -> None:
    assert taxonomy_of(" isapi:VMD ") == "motion"
    assert taxonomy_of("ISAPI:regionEntrance") == "intrusion"


def test_record_refuses_naive_time_and_unknown_prefix() -> None:
    with pytest.raises(ValueError, match="timezone"):
        VendorSecurityRecord(
            device_id="x",
            source_format="alarmbox",
            vendor_type="alarmbox:fence",
            occurred_at=datetime(2026, 9, 1),
        )
    with pytest.raises(ValueError, match="vendor_type"):
        VendorSecurityRecord(device_id="x", source_format="alarmbox", vendor_type="fence", occurred_at=AT)


def test_a_kind_the_documentation_does_not_list_is_kept_for_the_pipeline_to_raise() -> None:
    record = decode_alarmbox(event(kind="smoke"))
    assert record.vendor_type == "alarmbox:smoke" and taxonomy_of(record.vendor_type) is None
