"""The plan's numbered targets as data: deploy/plan/targets.toml (docs/plan.md).

    plan = load_targets()            # or load_targets(Path("my-plan.toml"))
    plan.targets[0].number           # 20 smart-security projects
    plan.targets[0].quota["wujin"]   # 4 of them in 武进区

Each target names its deadline, lead and responsible units, the measure that counts toward it and where
that measure comes from; `quota` splits a count among the counties.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safecampus.schemas.progress import PROJECT_KINDS, STAGES

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "plan" / "targets.toml"
Measure = Literal[
    "milestones",
    "first_aiders",
    "routes_in_service",
    "bus_compliance",
    "canteen_disclosure",
    "canteen_subsidy",
    "childcare_fire",
    "certified_counties",
]


class PlanError(ValueError):
    """A targets file we cannot use; str() is one plain line."""


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    number: float = Field(gt=0)
    unit: str
    deadline: date
    lead: str
    responsible: tuple[str, ...]
    measure: Measure
    source: str
    kind: str | None = None  # milestones: security_project, pickup_centre, hall
    done_stage: str = "in_use"  # milestones: the stage at which a project counts
    quota: dict[str, float] = Field(default_factory=dict)  # district id → its share of `number`

    @model_validator(mode="after")
    def _milestones_name_their_kind(self) -> Target:
        if self.measure == "milestones":
            if self.kind not in PROJECT_KINDS:
                raise ValueError(f"target {self.id}: kind must be one of {', '.join(PROJECT_KINDS)}")
            if self.done_stage not in STAGES:
                raise ValueError(f"target {self.id}: done_stage must be one of {', '.join(STAGES)}")
        return self

    @property
    def percent(self) -> bool:
        """A target given as a share (100 %) rather than a count."""
        return self.unit == "%"


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    start: date
    pace_days: int = Field(365, gt=0)
    targets: tuple[Target, ...]


def load_targets(path: Path | None = None) -> Plan:
    """The plan of a TOML file (the shipped one by default); `PlanError` names what is wrong."""
    path = path or SHIPPED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"规划目标文件无法读取 cannot read the targets file {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"规划目标文件不是有效的 TOML {path} is not valid TOML ({exc})") from None
    try:
        return Plan(**data.get("plan", {}), targets=tuple(data.get("target", [])))
    except (ValidationError, TypeError) as exc:
        raise PlanError(f"规划目标文件有误 {path}: {' '.join(str(exc).splitlines()[:3])}") from None
