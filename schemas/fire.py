"""Normalized childcare fire-safety inspections: checklist findings and remediation deadlines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from safecampus.schemas.common import PlausibleDate, PlausibleDeadline, PlausibleTime, Record

InspectionKind = Literal["patrol", "monthly", "authority", "drill"]
FindingCategory = Literal[
    "location",  # floor >= 4, basement, 三合一, steel-panel, hazardous goods
    "ebike",  # e-bikes or batteries in care areas, stairwells, exits
    "video",  # 24-hour video viewable in the duty room, kept >= 30 days
    "exits",
    "extinguishers",
    "electrical",
    "other",
]


class FireFinding(Record):
    """One checklist item: compliant or a hazard with a deadline."""

    item_code: str = Field(min_length=1, max_length=16)
    category: FindingCategory
    compliant: bool
    major: bool = Field(default=False, description="a major hazard that stops use of the area")
    deadline: PlausibleDeadline | None = None
    remediated_on: PlausibleDate | None = None


class FireInspection(Record):
    """One inspection (patrol, monthly, authority visit or drill) of a childcare institution."""

    inspection_id: str = Field(min_length=1, max_length=64)
    institution_id: str = Field(min_length=1, max_length=32)
    kind: InspectionKind
    inspected_at: PlausibleTime
    findings: list[FireFinding] = Field(default_factory=list, max_length=200)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
