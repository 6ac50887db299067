"""Shared vocabulary of every schema: domains, severities, time helpers, readable errors.

Example:
    >>> describe_validation_error(exc)
    "field 'speed_kmh': Input should be a valid number, unable to parse string as a number (got 'fast')"
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

Domain = Literal["security", "bus", "canteen", "fire"]
DOMAINS: tuple[Domain, ...] = ("security", "bus", "canteen", "fire")
Severity = Literal["critical", "high", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "warning", "info")

# Everything shown to a person is in the city's time zone; everything stored is UTC.
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Record(BaseModel):
    """Base of every boundary model: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (we never guess a zone)."""
    if moment.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return moment.astimezone(UTC)


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
