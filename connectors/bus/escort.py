"""The escort app's form: the escort (照管员) confirms that every student is off the bus.

{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}

`decode_escort` reads one form and raises only `EscortError`. A time without an offset is
Beijing time (Asia/Shanghai), never the host's zone, and is counted as lenient
("time_without_offset"); a time outside the accepted window (config `[limits]`) is refused.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, ValidationError

from safecampus.schemas.common import Record, describe_validation_error, read_device_time

# A form is under a hundred bytes; the same cap as every other JSON form.
MAX_ESCORT_BYTES = 64 * 1024


class EscortError(ValueError):
    """An escort form we cannot use; str() is one plain-words line."""


class EscortForm(Record):
    """The escort app's JSON form, as posted: the time is text, read by `read_device_time`."""

    terminal_id: str = Field(min_length=1, max_length=20)
    kind: str = Field(min_length=1, max_length=32)
    time: str = Field(min_length=1, max_length=64)


class EscortEvent(Record):
    """The form decoded: `time` is aware; `lenient` names what the app bent and we accepted."""

    terminal_id: str
    kind: str
    time: datetime
    lenient: tuple[str, ...] = ()


def decode_escort(data: bytes) -> EscortEvent:
    """One escort form; raises EscortError with the reason."""
    if len(data) > MAX_ESCORT_BYTES:
        raise EscortError(f"the escort form is {len(data)} bytes, above the {MAX_ESCORT_BYTES}-byte limit")
    try:
        form = EscortForm.model_validate_json(data)
    except ValidationError as exc:
        raise EscortError(f"escort event is not valid: {describe_validation_error(exc)}") from None
    except ValueError as exc:  # the JSON parser refusing a number or a nesting it cannot hold
        raise EscortError(f"escort event cannot be read ({str(exc)[:80]})") from None
    lenient: list[str] = []
    try:
        moment = read_device_time(form.time, lenient)
    except ValueError as exc:
        raise EscortError(f"field 'time' {exc}") from None
    return EscortEvent(terminal_id=form.terminal_id, kind=form.kind, time=moment, lenient=tuple(lenient))
