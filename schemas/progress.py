"""Progress records of the city's plan (docs/progress-records.md), as the store keeps them.

Four forms that no device sends and the bureau's units report: project milestones (smart-security
projects, underground pick-up centres, safety-education experience halls), first-aider certificates,
visits to the halls, and the monthly one-key alarm tests. No personal names: a teacher is a salted
hash, a class a label.

    MilestoneRow(project_id="AF-2024-01", kind="security_project", district_id="wujin",
                 stage="accepted", reached_on=date(2025, 3, 1))
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

# A project's stages in order; a project counts as done for a target at the stage the target names.
STAGES: tuple[str, ...] = ("approved", "started", "completed", "accepted", "in_use")
STAGE_NAMES: dict[str, str] = {
    "approved": "立项",
    "started": "开工",
    "completed": "完工",
    "accepted": "验收",
    "in_use": "投用",
}
PROJECT_KINDS: dict[str, str] = {
    "security_project": "智慧安防项目",
    "pickup_centre": "地下接送中心",
    "hall": "安全教育体验馆",
}


class MilestoneRow(SQLModel, table=True):
    """One stage a project reached, on a day; `due_on` is when the plan wants it in use."""

    project_id: str = Field(primary_key=True)
    stage: str = Field(primary_key=True)  # STAGES
    kind: str = Field(index=True)  # PROJECT_KINDS
    district_id: str = Field(index=True)
    school_id: str | None = None
    reached_on: date
    due_on: date | None = None


class FirstAidCertificateRow(SQLModel, table=True):
    """A teacher's Red Cross first-aider certificate; the teacher is a salted SHA-256, never a name."""

    teacher_hash: str = Field(primary_key=True)
    issued_on: date = Field(primary_key=True)
    school_id: str = Field(index=True)
    district_id: str = Field(index=True)
    expires_on: date


class HallVisitRow(SQLModel, table=True):
    """A class's visit to a safety-education experience hall."""

    school_id: str = Field(primary_key=True)
    class_name: str = Field(primary_key=True)  # 班级 as the school writes it, e.g. 三年级2班
    visited_on: date = Field(primary_key=True)
    hall_id: str = Field(default="", primary_key=True)
    district_id: str = Field(index=True)
    headcount: int


class AlarmTestRow(SQLModel, table=True):
    """A school's monthly one-key alarm test: did the police receive it, and minutes until they arrived."""

    school_id: str = Field(primary_key=True)
    tested_on: date = Field(primary_key=True)
    device_id: str = Field(default="", primary_key=True)
    district_id: str = Field(index=True)
    received: bool = True
    arrival_minutes: float | None = None


PROGRESS_TABLES: dict[str, type[SQLModel]] = {
    "milestone": MilestoneRow,
    "certificate": FirstAidCertificateRow,
    "hall_visit": HallVisitRow,
    "alarm_test": AlarmTestRow,
}
