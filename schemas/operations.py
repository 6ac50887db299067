"""What control-room operators feed back into alerting: acknowledgements and suppression windows.

An `Acknowledgement` says an operator (by id only, no names) has seen one alert; a
`SuppressionWindow` says a school is in maintenance or a fire drill, so alarms raised there in
that time are expected. Both arrive later from a Kafka topic or the API; the logic that applies
them to alerts of every domain lives in `pipelines/alerts.py` (`acknowledge`, `AlertTriage`).

A window covers only the rules its reason implies (`REASON_RULES`), never every rule at the school:
a fire drill covers the alarms people moving through the campus set off (intrusion, tripwire,
loitering, fence, forced door; the security taxonomy has no smoke or fire type, and a fire-safety
finding is an inspector's, not a drill's), maintenance the faults, offline and flapping of devices
being worked on. A one-key alarm is never implied: a real emergency during a drill must get through.
`rules` names the covered rules instead, as exact ids (`security.one_key_alarm`) or families
ending in "." (`security.`); a window with reason `other` must name them.

Example:
    Acknowledgement(fingerprint="3f9c0a…", operator_id="op-017",
                    acknowledged_at=datetime(2026, 9, 1, 2, 5, tzinfo=UTC), comment="guard sent")
    SuppressionWindow(school_id="S0042", start=..., end=..., reason="fire_drill")
    SuppressionWindow(school_id="S0042", start=..., end=..., reason="other", rules=["security.fence"])
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from safecampus.schemas.alert import RULE_NAMES
from safecampus.schemas.common import Record

SuppressionReason = Literal["maintenance", "fire_drill", "other"]

# The rules each reason implies. A family ends in "." and covers every rule under it.
REASON_RULES: dict[SuppressionReason, tuple[str, ...]] = {
    "fire_drill": (
        "security.intrusion",
        "security.tripwire",
        "security.loitering",
        "security.fence",
        "security.forced_door",
    ),
    "maintenance": (
        "security.device_offline",
        "security.device_fault",
        "security.video_loss",
        "security.storage_fault",
        "security.tamper",
        "security.fault_unfixed",
        "security.flapping",
    ),
    "other": (),
}


def rule_matches(name: str, rule: str) -> bool:
    """Whether `name` (an exact rule id, or a family ending in ".") covers `rule`."""
    return rule.startswith(name) if name.endswith(".") else rule == name


def _known_rule_name(name: str) -> bool:
    """A rule id we raise, or a family of them; a typo would silently cover nothing."""
    if name.endswith("."):
        return any(known.startswith(name) for known in RULE_NAMES)
    family = name.rpartition(".")[0] + "."
    return name in RULE_NAMES or (family.count(".") >= 2 and family in RULE_NAMES)


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
    rules: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="rules covered, exact ids or families ending in '.'; empty: those the reason implies",
    )

    @model_validator(mode="after")
    def _end_after_start(self) -> SuppressionWindow:
        if self.end <= self.start:
            raise ValueError("a suppression window's end must be after its start")
        if self.reason == "other" and not self.rules:
            raise ValueError(
                "a suppression window with reason 'other' must name the rules it covers, "
                'e.g. "rules": ["security.fence"]'
            )
        unknown = [name for name in self.rules if not _known_rule_name(name)]
        if unknown:
            raise ValueError(
                f"rule {unknown[0]!r} is not a rule we raise; name a rule id such as security.intrusion "
                "or a family ending in '.', such as security."
            )
        return self

    @property
    def covered_rules(self) -> tuple[str, ...]:
        """The rules this window covers: those it names, else those its reason implies."""
        return tuple(self.rules) or REASON_RULES[self.reason]

    def covers(self, school_id: str | None, moment: AwareDatetime, rule: str) -> bool:
        """Whether an alert of `rule` at `school_id` at `moment` falls inside this window ([start, end))."""
        return (
            school_id == self.school_id
            and self.start <= moment < self.end
            and any(rule_matches(name, rule) for name in self.covered_rules)
        )
