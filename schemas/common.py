"""Shared vocabulary of every schema: domains, severities, time helpers, readable errors.

Example:
    >>> describe_validation_error(exc)
    "field 'speed_kmh': Input should be a valid number, unable to parse string as a number (got 'fast')"
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

Domain = Literal["security", "bus", "canteen", "fire"]
DOMAINS: tuple[Domain, ...] = ("security", "bus", "canteen", "fire")
Severity = Literal["critical", "high", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "warning", "info")
SEVERITY_NAMES: dict[str, str] = {
    "critical": "紧急 critical",
    "high": "高 high",
    "warning": "警告 warning",
    "info": "提示 info",
}

# The one time zone: what people see, device clocks (JT/T 808, ISAPI, GB/T 28181 are UTC+8 by standard
# or practice) and the GTFS service day. Everything stored is UTC.
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Record(BaseModel):
    """Base of every boundary model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (we never guess a zone)."""
    if moment.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return moment.astimezone(UTC)


def service_time(day: date, seconds: float) -> datetime:
    """`seconds` after the start of a local service day, as an aware UTC instant. GTFS counts a day's
    times from "noon minus 12 h" (they may pass 24:00:00); Shanghai has no daylight saving, so that is
    local midnight."""
    return (datetime.combine(day, time(0), SHANGHAI) + timedelta(seconds=seconds)).astimezone(UTC)


def local_text(moment: datetime) -> str:
    """How a person sees a timestamp: Asia/Shanghai, to the second."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line for a pydantic error: the first problems, field by field."""
    parts: list[str] = []
    for err in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
        if len(shown) > 40:
            shown = shown[:37] + "..."
        field = f"field '{where}': " if where else ""
        # A missing field's "input" is the whole record: naming it would only confuse.
        parts.append(f"{field}{err['msg']}" if err["type"] == "missing" else f"{field}{err['msg']} (got {shown})")
    more = exc.error_count() - len(parts)
    tail = f"; and {more} more problem(s)" if more > 0 else ""
    return "; ".join(parts) + tail
