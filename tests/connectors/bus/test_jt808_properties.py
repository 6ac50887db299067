"""Property tests (hypothesis) of JT/T 808: encode → decode is the identity on what the protocol holds,
and the encoder refuses everything else with its own error rather than wrapping it (issue 10).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_encode import encode_batch_body, encode_location_body
from safecampus.connectors.bus.jt808_frame import (
    MSG_LOCATION,
    MSG_LOCATION_BATCH,
    Jt808Error,
    encode_frame,
    split_frames,
)
from safecampus.connectors.bus.jt808_messages import KNOWN_EXTRA, LocationBatch, LocationReport
from safecampus.schemas.common import SHANGHAI

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What the 0x0200 body holds: BCD seconds from 2000 to 2099 Beijing time, micro-degrees, 0.1 km/h.
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda moment: moment.replace(microsecond=0, tzinfo=SHANGHAI)
)
micro = st.integers(min_value=0, max_value=90_000_000)
extras = st.dictionaries(
    st.sampled_from(sorted(KNOWN_EXTRA)) | st.integers(min_value=0xE0, max_value=0xFF),
    st.binary(min_size=0, max_size=12),
    max_size=5,
)


@st.composite
def reports(draw: st.DrawFn) -> LocationReport:
    extra: dict[int, int | float | str] = {}
    for item_id, raw in draw(extras).items():
        size, divisor = KNOWN_EXTRA.get(item_id, (-1, None))
        if size < 0:
            extra[item_id] = raw.hex()  # vendor items stay hex
        else:
            number = draw(st.integers(min_value=0, max_value=256**size - 1))
            extra[item_id] = number / divisor if divisor else number
    return LocationReport(
        lat_deg=draw(micro) / 1e6 * draw(st.sampled_from([1, -1])),
        lon_deg=draw(st.integers(min_value=0, max_value=180_000_000)) / 1e6 * draw(st.sampled_from([1, -1])),
        time=draw(times),
        altitude_m=draw(st.integers(min_value=0, max_value=0xFFFF)),
        speed_kmh=draw(st.integers(min_value=0, max_value=0xFFFF)) / 10,
        direction_deg=draw(st.integers(min_value=0, max_value=359)),
        alarm_flags=draw(st.integers(min_value=0, max_value=0xFFFFFFFF)),
        status_flags=draw(st.integers(min_value=0, max_value=0xFFFFFFFF)) & ~0b1100,  # south/west follow the signs
        extra=extra,
    )


def _same(decoded: LocationReport, report: LocationReport) -> None:
    assert math.isclose(decoded.lat_deg, report.lat_deg, abs_tol=1e-9)
    assert math.isclose(decoded.lon_deg, report.lon_deg, abs_tol=1e-9)
    assert decoded.time == report.time
    assert (decoded.altitude_m, decoded.direction_deg, decoded.alarm_flags) == (
        report.altitude_m,
        report.direction_deg,
        report.alarm_flags,
    )
    assert math.isclose(decoded.speed_kmh, report.speed_kmh, abs_tol=1e-9)
    assert decoded.status_flags & ~0b1100 == report.status_flags
    assert decoded.lenient == ()
    for item_id, value in report.extra.items():
        got = decoded.extra[item_id]
        assert got == value or (isinstance(value, float) and math.isclose(float(got), value)), item_id


@PROPERTIES
@given(reports(), st.sampled_from(["2013", "2019"]), st.integers(min_value=0, max_value=0xFFFF))
def test_a_fix_round_trips_through_a_frame(report: LocationReport, version: str, serial: int) -> None:
    phone = "013800000001" if version == "2013" else "01380000000100000001"
    frame = encode_frame(MSG_LOCATION, phone, serial, encode_location_body(report), version)  # type: ignore[arg-type]
    assert split_frames(b"\x00junk" + frame + frame[:5]) == ([frame], frame[:5])
    message = decode_frame(frame)
    assert (message.phone, message.serial, message.version) == (phone, serial, version)
    assert isinstance(message.payload, LocationReport)
    _same(message.payload, report)


@PROPERTIES
@given(st.lists(reports(), min_size=1, max_size=4), st.integers(min_value=0, max_value=1))
def test_a_batch_round_trips(batch: list[LocationReport], batch_type: int) -> None:
    body = encode_batch_body(batch, batch_type)
    if len(body) > 0x3FF:  # a batch that does not fit one frame is split into packages: not this test's
        return
    message = decode_frame(encode_frame(MSG_LOCATION_BATCH, "013800000001", 1, body))
    assert isinstance(message.payload, LocationBatch) and message.payload.batch_type == batch_type
    assert len(message.payload.locations) == len(batch)
    for decoded, report in zip(message.payload.locations, batch, strict=True):
        _same(decoded, report)


outside_years = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(1999, 12, 31, 15)),
    st.datetimes(min_value=datetime(2100, 1, 1, 1), max_value=datetime(9999, 12, 30)),
).map(lambda moment: moment.replace(tzinfo=SHANGHAI))


@PROPERTIES
@given(outside_years)
def test_a_time_jt808_cannot_hold_is_refused_not_wrapped(moment: datetime) -> None:
    report = LocationReport(lat_deg=31.78, lon_deg=119.95, time=moment)
    try:
        frame = encode_frame(MSG_LOCATION, "013800000001", 1, encode_location_body(report))
    except Jt808Error as exc:
        assert "2000-2099" in str(exc) or "Beijing time" in str(exc)
        return
    decoded = decode_frame(frame).payload  # only a time that is 2000-2099 in Beijing may pass
    assert isinstance(decoded, LocationReport) and decoded.time == moment


@PROPERTIES
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "lat_deg": st.floats(allow_nan=True, allow_infinity=True),
            "lon_deg": st.floats(allow_nan=True, allow_infinity=True),
            "speed_kmh": st.floats(allow_nan=True, allow_infinity=True),
            "altitude_m": st.integers(min_value=-(2**40), max_value=2**40),
            "direction_deg": st.integers(min_value=-(2**40), max_value=2**40),
            "alarm_flags": st.integers(min_value=-(2**70), max_value=2**70),
            "extra": st.dictionaries(
                st.integers(min_value=-5, max_value=300),
                st.one_of(st.floats(), st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=8)),
                max_size=3,
            ),
        },
    ),
    st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.just(SHANGHAI)),
)
def test_the_encoder_raises_only_its_own_error(fields: dict[str, object], moment: datetime) -> None:
    report = LocationReport(**({"lat_deg": 0.0, "lon_deg": 0.0, "time": moment} | fields))  # type: ignore[arg-type]
    try:
        body = encode_location_body(report)
    except Jt808Error:
        return
    assert len(body) >= 28  # flags, coordinates, motion, time
    try:
        decoded = decode_frame(encode_frame(MSG_LOCATION, "013800000001", 1, body))
    except Jt808Error:
        return  # the decoder may refuse what the encoder let a test build (a latitude of 91°)
    assert isinstance(decoded.payload, LocationReport)
    assert decoded.payload.time == report.time.replace(microsecond=0)  # JT/T 808 counts whole seconds


def test_the_year_1999_is_refused_not_sent_as_2099() -> None:
    late = datetime(1999, 12, 31, 23, 59, 59, tzinfo=SHANGHAI)
    report = LocationReport(lat_deg=31.78, lon_deg=119.95, time=late)
    try:
        encode_location_body(report)
    except Jt808Error as exc:
        assert "2000-2099" in str(exc)
    else:
        raise AssertionError("1999 was encoded")
    first = LocationReport(lat_deg=31.78, lon_deg=119.95, time=late + timedelta(seconds=1))
    decoded = decode_frame(encode_frame(MSG_LOCATION, "013800000001", 1, encode_location_body(first))).payload
    assert isinstance(decoded, LocationReport) and decoded.time == datetime(2000, 1, 1, tzinfo=SHANGHAI)
