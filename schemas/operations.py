"""What control-room operators feed back into alerting: acknowledgements and suppression windows.

An `Acknowledgement` says an operator (by id only, no names) has seen one alert; a
`SuppressionWindow` says a school is in maintenance or a fire drill, so alarms raised there in
that time are expected. Both arrive later from a Kafka topic or the API; the logic that applies
them to alerts of every domain lives in `pipelines/alerts.py` (`acknowledge`, `AlertTriage`).

Example:
    Acknowledgement(fingerprint="3f9c0a…", operator_id="op-017",
                    acknowledged_at=datetime(2026, 9, 1, 2, 5, tzinfo=UTC), comment="guard sent")
    SuppressionWindow(school_id="S0042", start=..., end=..., reason="fire_drill")
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from safecampus.schemas.common import Record

SuppressionReason = Literal["maintenance", "fire_drill", "other"]


class Acknowledgement(Record):
    """An operator has seen an alert and taken it in hand."""

    fingerprint: str = Field(min_length=1, max_length=64, description="the alert's fingerprint")
    operator_id: str = Field(min_length=1, max_length=64, description="operator id; never a person's name")
    acknowledged_at: AwareDatetime
    comment: str = Field(default="", max_length=500)


class SuppressionWindow(Record):
    """A time span in which firing alerts of one school are expected (maintenance, fire drill)."""

    school_id: str = Field(min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime
    reason: SuppressionReason = "maintenance"
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _end_after_start(self) -> SuppressionWindow:
        if self.end <= self.start:
            raise ValueError("a suppression window must end after it starts")
        return self

    def covers(self, school_id: str | None, moment: AwareDatetime) -> bool:
        """Whether an alert of `school_id` at `moment` falls inside this window ([start, end))."""
        return school_id == self.school_id and self.start <= moment < self.end
