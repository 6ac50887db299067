from datetime import datetime

import pytest
from pydantic import ValidationError

from safecampus.schemas.alert import alert_fingerprint
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import describe_validation_error, utc
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.kpi import Kpi


def test_validation_error_is_one_readable_line() -> None:
    with pytest.raises(ValidationError) as caught:
        BusEvent.model_validate(
            {
                "event_id": "x",
                "terminal_id": "1",
                "occurred_at": "2026-09-01T08:00:00+08:00",
                "speed_kmh": "fast",
                "lat_deg": 91,
            }
        )
    text = describe_validation_error(caught.value)
    assert "\n" not in text
    assert "field 'speed_kmh'" in text and "'fast'" in text
    assert "field 'lat_deg'" in text


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        RawEnvelope(domain="bus", source="jt808", payload="7e7e", received_at=datetime(2026, 9, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        utc(datetime(2026, 9, 1))


def test_envelope_keeps_binary_bytes_exactly() -> None:
    frame = bytes.fromhex("7e0002000001380013800000017e")
    received = datetime.fromisoformat("2026-09-01T00:00:00+00:00")
    text = RawEnvelope.of_bytes(b"<xml/>", domain="security", source="isapi", received_at=received)
    binary = RawEnvelope.of_bytes(frame + b"\xff", domain="bus", source="jt808", received_at=received)
    assert text.encoding == "text" and text.payload_bytes() == b"<xml/>"
    assert binary.encoding == "hex" and binary.payload_bytes() == frame + b"\xff"
    again = RawEnvelope.model_validate_json(binary.model_dump_json())
    assert again.payload_bytes() == frame + b"\xff"


def test_alert_fingerprint_is_stable_and_distinct() -> None:
    a = alert_fingerprint("bus", "bus.overspeed", "013800000003", "2026-09-01")
    assert a == alert_fingerprint("bus", "bus.overspeed", "013800000003", "2026-09-01")
    assert a != alert_fingerprint("bus", "bus.overspeed", "013800000004", "2026-09-01")


def test_kpi_key_sorts_labels() -> None:
    at = datetime.fromisoformat("2026-09-01T00:00:00+00:00")
    kpi = Kpi(
        domain="bus",
        metric="bus_fixes_total",
        labels={"route": "CZ01", "district": "wujin"},
        value=3,
        window_start=at,
        window_end=at,
    )
    assert kpi.key() == 'bus_fixes_total{district="wujin",route="CZ01"}'
    with pytest.raises(ValidationError):
        Kpi(domain="bus", metric="Bad Name", value=1, window_start=at, window_end=at)
