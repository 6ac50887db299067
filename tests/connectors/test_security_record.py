"""The vendor record every security decoder returns: taxonomy, device time, descriptions, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from safecampus.connectors.security import record
from safecampus.connectors.security.record import (
    DESCRIPTION_MAX_CHARS,
    device_time,
    short_description,
    taxonomy_of,
    vendor_record,
)
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.security import SecurityEventType


@pytest.mark.parametrize(
    ("vendor_type", "expected"),
    [
        ("isapi:fielddetection", "intrusion"),
        ("isapi:regionexiting", "other"),  # leaving a watched area is not an intrusion
        ("isapi:io", "one_key_alarm"),
        ("isapi:vmd", "motion"),
        ("gb28181:5/6", "intrusion"),
        ("gb28181:2", "other"),
        ("gb28181:2/1", "video_loss"),
        ("gb28181:keepalive", "heartbeat"),
        ("gb28181:keepalive/error", "device_fault"),
        ("alarmbox:door_forced", "forced_door"),
        ("alarmbox:door_held", "other"),
    ],
)
def test_known_vendor_types(vendor_type: str, expected: SecurityEventType) -> None:
    assert taxonomy_of(vendor_type) == expected


def test_vendor_types_are_matched_without_case_or_surrounding_space() -> None:
    assert taxonomy_of("  ISAPI:FieldDetection\t") == "intrusion"
    assert taxonomy_of("GB28181:KeepAlive/Error") == "device_fault"


@pytest.mark.parametrize(
    ("vendor_type", "expected"),
    [
        ("gb28181:1", "one_key_alarm"),  # a phone alarm: a person raised it, whatever the type
        ("gb28181:1/9", "one_key_alarm"),
        ("gb28181:3/2", "other"),
        ("gb28181:4", "other"),
        ("gb28181:7/1", "other"),
    ],
)
def test_gb_methods_whose_meaning_does_not_depend_on_the_type(vendor_type: str, expected: SecurityEventType) -> None:
    assert taxonomy_of(vendor_type) == expected


@pytest.mark.parametrize(
    "vendor_type",
    [
        "isapi:facerecognitionxyz",
        "gb28181:5/99",  # method 5 depends on its type: an unknown type is unknown
        "gb28181:2/9",
        "gb28181:8",
        "gb28181:1/x",
        "gb28181:keepalive/odd",
        "alarmbox:smoke",
        "onvif:motion",
        "",
    ],
)
def test_unknown_vendor_types_have_no_taxonomy(vendor_type: str) -> None:
    assert taxonomy_of(vendor_type) is None


def test_every_mapping_names_one_of_our_event_types() -> None:
    ours = set(get_args(SecurityEventType))
    mapped = {*record._TAXONOMY.values(), *record._GB_METHOD_WIDE.values()}
    assert mapped and mapped <= ours
    assert all(key == key.strip().lower() for key in record._TAXONOMY)  # lookups lower-case the vendor type


def test_device_time_keeps_an_offset() -> None:
    moment = device_time("2026-09-01T08:30:00+09:00", "dateTime")
    assert moment == datetime(2026, 8, 31, 23, 30, tzinfo=UTC)
    assert device_time("2026-09-01T00:30:00Z", "dateTime") == datetime(2026, 9, 1, 0, 30, tzinfo=UTC)


def test_device_time_without_offset_is_beijing_time() -> None:
    moment = device_time("2026-09-01T22:15:03", "AlarmTime")
    assert moment.tzinfo is SHANGHAI and moment.utcoffset() == timedelta(hours=8)
    assert moment.astimezone(UTC) == datetime(2026, 9, 1, 14, 15, 3, tzinfo=UTC)
    assert device_time("2026-09-01", "AlarmTime").astimezone(UTC) == datetime(2026, 8, 31, 16, 0, tzinfo=UTC)
    fraction = device_time("2026-09-01T08:00:00.250", "Date")
    assert fraction.microsecond == 250000 and fraction.utcoffset() == timedelta(hours=8)


def test_device_time_missing_or_invalid_is_a_plain_error() -> None:
    with pytest.raises(SecurityDecodeError, match="field 'AlarmTime' is missing"):
        device_time(None, "AlarmTime")
    with pytest.raises(SecurityDecodeError, match=r"field 'dateTime' is not a valid date and time \(got 'yesterday'\)"):
        device_time("yesterday", "dateTime")
    with pytest.raises(SecurityDecodeError) as caught:
        device_time("2026-13-45T99:99:99" + "x" * 100, "dateTime")
    shown = str(caught.value).split("(got ")[1].split(")")[0]
    assert len(shown) == 2 + 37 + 3 and shown.endswith("...'")  # a long value is cut, not quoted whole


def test_short_description() -> None:
    assert short_description(None) is None
    assert short_description(" \r\n\t ") is None
    assert short_description("  周界\r\n  入侵   alarm ") == "周界 入侵 alarm"
    exact = "a" * DESCRIPTION_MAX_CHARS
    assert short_description(exact) == exact
    cut = short_description("b" * (DESCRIPTION_MAX_CHARS + 50))
    assert cut is not None and len(cut) == DESCRIPTION_MAX_CHARS and cut.endswith("…")


def test_vendor_record_validation_is_one_readable_error() -> None:
    at = datetime(2026, 9, 1, 8, 30, tzinfo=SHANGHAI)
    ok = vendor_record(
        {"device_id": "CZ-AB-0001", "source_format": "alarmbox", "vendor_type": "alarmbox:fence", "occurred_at": at}
    )
    assert (ok.channel, ok.state, ok.priority) == (1, "active", None)
    with pytest.raises(SecurityDecodeError) as caught:
        vendor_record(
            {"device_id": "", "source_format": "alarmbox", "vendor_type": "alarmbox:fence", "occurred_at": at}
        )
    assert "device_id" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SecurityDecodeError, match="vendor_type"):
        vendor_record({"device_id": "X", "source_format": "isapi", "vendor_type": "onvif:motion", "occurred_at": at})
    with pytest.raises(SecurityDecodeError, match="occurred_at"):
        vendor_record(
            {
                "device_id": "X",
                "source_format": "isapi",
                "vendor_type": "isapi:vmd",
                "occurred_at": at.replace(tzinfo=None),
            }
        )
