"""Shared vocabulary of every schema: domains, severities, time helpers, readable errors.

Example:
    >>> describe_validation_error(exc)
    "field 'speed_kmh': Input should be a valid number, unable to parse string as a number (got 'fast')"
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from safecampus.config import InputLimits

Domain = Literal["security", "bus", "canteen", "fire"]
DOMAINS: tuple[Domain, ...] = ("security", "bus", "canteen", "fire")
# KPI and DLQ records also come from the plan's progress records and the certification scorecard (no raw topic).
RecordDomain = Literal["security", "bus", "canteen", "fire", "plan"]
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


# Times and dates from devices and files are checked against one window (config `[limits]`), so a
# clock at the edge of the calendar (year 1, year 9999) is refused here rather than overflowing a rule.
_limits: InputLimits | None = None


def use_input_limits(limits: InputLimits) -> None:
    """Make `limits` the window every boundary model checks (a pipeline passes its settings' limits)."""
    global _limits
    _limits = limits


def input_limits() -> InputLimits:
    """The window in force: what a pipeline set, else the settings (environment, TOML), read once."""
    global _limits
    if _limits is None:
        from safecampus.config import Settings

        _limits = Settings().limits
    return _limits


def check_time(moment: datetime) -> datetime:
    """`moment` when it lies between 1 January of `earliest_year` and `future_tolerance_days` past now."""
    limits = input_limits()
    earliest = datetime(limits.earliest_year, 1, 1, tzinfo=UTC)
    latest = datetime.now(UTC) + timedelta(days=limits.future_tolerance_days)
    if moment.tzinfo is not None and not earliest <= moment <= latest:  # aware comparisons never overflow
        raise ValueError(
            f"time {moment.isoformat()} is outside the accepted window "
            f"({limits.earliest_year}-01-01 to {limits.future_tolerance_days} days after now)"
        )
    return moment


def _check_day(day: date, what: str, horizon_days: int) -> date:
    """`day` when it lies between 1 January of `earliest_year` and `horizon_days` after today."""
    earliest = date(input_limits().earliest_year, 1, 1)
    if not earliest <= day <= datetime.now(UTC).date() + timedelta(days=horizon_days):
        raise ValueError(
            f"{what} {day.isoformat()} is outside the accepted window ({earliest} to {horizon_days} days after today)"
        )
    return day


def check_date(day: date) -> date:
    """A calendar date (booked, remediated) inside the same window as `check_time`."""
    return _check_day(day, "date", input_limits().future_tolerance_days)


def check_deadline(day: date) -> date:
    """A deadline: from `earliest_year` to `deadline_horizon_days` after today."""
    return _check_day(day, "deadline", input_limits().deadline_horizon_days)


def at_most_places(places: int) -> AfterValidator:
    """A validator refusing a Decimal with more than `places` decimal places, whatever its exponent
    says (pydantic's own `decimal_places` lets `1e-999999999` through)."""
    step = Decimal(1).scaleb(-places)

    def check(value: Decimal) -> Decimal:
        if value.is_finite() and value.quantize(step) != value:
            raise ValueError(f"has more than {places} decimal places")
        return value

    return AfterValidator(check)


PlausibleTime = Annotated[AwareDatetime, AfterValidator(check_time)]
PlausibleDate = Annotated[date, AfterValidator(check_date)]
PlausibleDeadline = Annotated[date, AfterValidator(check_deadline)]


TIME_MAX_CHARS = 64
# A one-digit hour in the UTC offset ("-8:00", "+8"): firmware that formats the offset with %d.
_SHORT_OFFSET = re.compile(r"([+-])(\d)(:?\d\d)?$")


def read_device_time(text: str, lenient: list[str] | None = None) -> datetime:
    """An ISO 8601 time from a device or a form, aware and inside the accepted window.

    No offset means Beijing time (Asia/Shanghai, the one zone of devices on campus), never the
    host's zone: "time_without_offset" is appended to `lenient`. An offset with a one-digit hour
    (`+8:00`, `-8:00`, `+8`), as some firmware writes it, is read as meant: "short_utc_offset".
    Raises ValueError with a plain reason for text that is no time, or a time outside the window."""
    try:
        if len(text) > TIME_MAX_CHARS:
            raise ValueError("too long")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            short = _SHORT_OFFSET.search(text)
            if short is None or short.start() < 10:  # the sign of a bare date ("2026-09-01") is no offset
                raise
            sign, hour, minutes = short.groups()
            moment = datetime.fromisoformat(f"{text[: short.start()]}{sign}0{hour}:{(minutes or '00')[-2:]}")
            if lenient is not None:
                lenient.append("short_utc_offset")
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(
            f"is not a valid date and time (got {shown!r}); expected ISO 8601 like 2026-09-01T08:30:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
        if lenient is not None:
            lenient.append("time_without_offset")
    return check_time(moment)
