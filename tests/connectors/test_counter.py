"""The counter JSON form of pick-up centres: counters' readings and barriers' passages; readable errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from safecampus.connectors.security.counter import decode_counter
from safecampus.connectors.security.record import taxonomy_of
from safecampus.connectors.security.xml import SecurityDecodeError
from safecampus.simulator.security_payloads import counter_json

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 9, 1, 7, 35, tzinfo=BEIJING)


def reading(**fields: Any) -> bytes:
    """The documented example (docs/pickup-centres.md); `fields` replace keys (None drops one)."""
    values: dict[str, Any] = {
        "device_id": "CZ-PC01-CNT",
        "kind": "count",
        "time": "2026-09-01T07:35:00+08:00",
        "occupancy": 41,
        "queue": 6,
        "entered": 9,
        "exited": 3,
    } | fields
    return json.dumps({k: v for k, v in values.items() if v is not None}).encode()


def test_a_counter_reading() -> None:
    record = decode_counter(reading())
    assert (record.vendor_type, record.occupancy, record.queue, record.entered, record.exited) == (
        "counter:count", 41, 6, 9, 3
    )  # fmt: skip
    assert record.occurred_at == AT and record.source_format == "counter" and record.direction is None
    assert taxonomy_of(record.vendor_type) == "vehicle_count"
    assert decode_counter(reading(queue=None, entered=None, exited=None)).queue == 0  # no queue reported: none


def test_a_barrier_passage_and_a_heartbeat() -> None:
    passage = decode_counter(counter_json("CZ-PC02-BAR", "passage", AT, direction="out", channel=2))
    assert (passage.vendor_type, passage.direction, passage.channel, passage.occupancy) == (
        "counter:passage", "out", 2, None
    )  # fmt: skip
    assert taxonomy_of("counter:passage") == "vehicle_passage"
    beat = decode_counter(counter_json("CZ-PC02-BAR", "heartbeat", AT))
    assert taxonomy_of(beat.vendor_type) == "heartbeat" and beat.queue is None


def test_the_simulators_payloads_are_the_documented_form() -> None:
    payload = counter_json("CZ-PC01-CNT", "count", AT, occupancy=41, queue=6, entered=9, exited=3)
    assert decode_counter(payload) == decode_counter(reading())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (reading(occupancy=None), "a count needs occupancy"),
        (reading(kind="passage", occupancy=None, queue=None, entered=None, exited=None), "a passage needs direction"),
        (reading(direction="in"), "direction belongs to a passage only"),
        (reading(kind="heartbeat"), "belong to a count only"),
        (reading(occupancy=-1), "greater than or equal to 0"),
        (reading(occupancy=10_001), "less than or equal to 10000"),
        (reading(kind="tally"), "field 'kind'"),
        (reading(time="2026-09-01T07:35:00"), "field 'time'"),  # a counter must say its zone
        (reading(plate="苏D12345"), "field 'plate'"),  # unknown fields are refused
        (b"[1, 2]", "not valid"),
        (b"{" * 20_000, "16384-byte limit"),
    ],
)
def test_bad_events_are_refused_in_plain_words(payload: bytes, reason: str) -> None:
    with pytest.raises(SecurityDecodeError, match=reason) as caught:
        decode_counter(payload)
    assert "\n" not in str(caught.value)
