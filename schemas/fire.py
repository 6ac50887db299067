"""Childcare fire-safety inspections as inspectors record them, and the remediation ledger derived from them.

An inspection form names the institution, who inspected (`InspectorRole`), what kind of round it
was (`InspectionKind`), the checklist items of the 2022 guideline each pass / fail / not applicable
(`ChecklistResult`; the item codes are those of connectors/fire/checklist.csv) and the findings
(`FireFinding`): severity, photo references, deadline, when it was rectified, who confirmed it.
A later form about the same item carries the finding on: rectified, confirmed, or found compliant.

    {"inspection_id": "T001-20260901-P0", "institution_id": "T001", "inspector_role": "patrol_staff",
     "kind": "patrol", "inspected_at": "2026-09-01T08:35:00+08:00",
     "checklist": [{"item_code": "E01", "result": "fail"}, {"item_code": "B01", "result": "pass"}],
     "findings": [{"item_code": "E01", "severity": "high", "deadline": "2026-09-08", "photos": ["p/1.jpg"]}]}
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import PlausibleDeadline, PlausibleTime, Record, Severity

InspectionKind = Literal["patrol", "monthly", "authority", "self_check", "drill"]
InspectorRole = Literal["patrol_staff", "fire_safety_manager", "fire_department", "education_bureau"]
ItemResult = Literal["pass", "fail", "na"]
FindingCategory = Literal[
    "location",  # floor >= 4, basement, 三合一, steel-panel, hazardous goods
    "ebike",  # e-bikes or batteries in care areas, stairwells, exits; rechargeable toys
    "video",  # 24-hour video viewable in the duty room, kept >= 30 days
    "exits",
    "separation",
    "materials",
    "facilities",
    "extinguishers",
    "electrical",
    "fire_use",
    "management",
    "other",
]
KIND_NAMES: dict[str, str] = {
    "patrol": "防火巡查",
    "monthly": "月度防火检查",
    "authority": "监管部门检查",
    "self_check": "自查",
    "drill": "疏散演练",
}
ROLE_NAMES: dict[str, str] = {
    "patrol_staff": "巡查人员",
    "fire_safety_manager": "消防安全管理人",
    "fire_department": "消防救援机构",
    "education_bureau": "教育（卫健）部门",
}
RESULT_NAMES: dict[str, str] = {"pass": "合格", "fail": "不合格", "na": "不适用"}


class ChecklistResult(Record):
    """One checklist item of the form: pass, fail or not applicable."""

    item_code: str = Field(min_length=1, max_length=16)
    result: ItemResult


class FireFinding(Record):
    """A hazard found on one checklist item, and what has been done about it since."""

    item_code: str = Field(min_length=1, max_length=16)
    category: FindingCategory | None = Field(default=None, description="from the checklist when not given")
    severity: Severity | None = Field(default=None, description="the checklist's default when not given")
    description: str | None = Field(default=None, max_length=500)
    area: str | None = Field(default=None, max_length=64, description="where: 活动室, 楼梯间, …")
    photos: list[str] = Field(default_factory=list, max_length=20, description="photo references, not images")
    major: bool = Field(default=False, description="a major hazard that cannot be fixed at once: the area closes")
    deadline: PlausibleDeadline | None = None
    rectified_at: PlausibleTime | None = None
    confirmed_by: InspectorRole | None = None
    confirmed_at: PlausibleTime | None = None


class FireInspection(Record):
    """One inspection (patrol, monthly, authority visit, self-check or drill) of a childcare institution."""

    inspection_id: str = Field(min_length=1, max_length=64)
    institution_id: str = Field(min_length=1, max_length=32)
    inspector_role: InspectorRole = "patrol_staff"
    kind: InspectionKind
    inspected_at: PlausibleTime
    checklist: list[ChecklistResult] = Field(default_factory=list, max_length=200)
    findings: list[FireFinding] = Field(default_factory=list, max_length=200)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)


class FireLedgerRow(Record):
    """One finding in the remediation ledger (整改台账), as of a moment: from found to confirmed closed."""

    finding_id: str
    institution_id: str
    district: str | None = None
    item_code: str
    item_name: str
    category: str
    severity: Severity
    major: bool = False
    area: str | None = None
    found_at: AwareDatetime
    found_by: str  # the inspection that found it
    deadline: date | None = None
    rectified_at: AwareDatetime | None = None
    confirmed_at: AwareDatetime | None = None
    confirmed_by: str | None = None
    closed_at: AwareDatetime | None = None
    closed_how: Literal["confirmed", "compliant", "on_the_spot"] | None = None
    days_overdue: int = 0
    photos: list[str] = Field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class FireLedger(Record):
    """What the rules know of one institution as of `as_of`: its ledger rows and checklist compliance."""

    institution_id: str
    district: str | None = None
    as_of: AwareDatetime
    items_applicable: int
    items_compliant: int
    rows: list[FireLedgerRow] = Field(default_factory=list)
