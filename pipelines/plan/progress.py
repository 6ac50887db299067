"""The programme view: per target and per county, what is done, in progress and late, and a forecast.

Every measure (`measures.py`) gives the items that count toward a target — a project, a teacher's
certificate, a route, a bus, a canteen, an institution, a county — each done, in progress or late,
with the day it was done when known. A count target's `done` is the items done; a share target's
(unit "%") is 100 × done / items. The current pace is what was done in the last `pace_days` (items
with a date), else the average since the plan's start; the forecast is done + pace × days left, and
the day the number is reached at that pace.

    status = target_status(target, items, plan, as_of=date(2025, 6, 30))
    status.percent, status.forecast, status.reaches_on
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from safecampus.pipelines.plan.targets import Plan, Target

State = Literal["done", "in_progress", "late"]
STATE_NAMES = {"done": "已完成", "in_progress": "推进中", "late": "滞后"}


@dataclass(frozen=True)
class Item:
    """One thing that counts toward a target."""

    id: str
    district: str | None
    state: State
    note: str = ""  # what a person reads: "计划 2025-06-30 投用，现为 开工"
    done_on: date | None = None


@dataclass(frozen=True)
class Tally:
    """Done, in progress and late among some items, against a goal (None: no quota for a county)."""

    done: float
    items: int
    in_progress: int
    late: int
    goal: float | None

    @property
    def percent(self) -> float | None:
        if self.goal is None or self.goal <= 0:
            return None
        return min(100.0, 100 * self.done / self.goal)

    def as_json(self) -> dict[str, Any]:
        return {"done": self.done, "goal": self.goal, "percent": self.percent, "items": self.items,
                "in_progress": self.in_progress, "late": self.late}  # fmt: skip


@dataclass(frozen=True)
class TargetStatus:
    target: Target
    as_of: date
    total: Tally
    by_district: dict[str, Tally]
    items: tuple[Item, ...]
    pace_per_day: float
    forecast: float  # at the deadline, at the current pace (the value now once the deadline has passed)
    reaches_on: date | None  # the day the number is reached at the current pace (None: not at this pace)
    note: str = ""  # e.g. 无数据 when a domain gave nothing for the period

    @property
    def done(self) -> float:
        return self.total.done

    @property
    def percent(self) -> float:
        return self.total.percent or 0.0

    @property
    def late_items(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.state == "late")

    @property
    def met(self) -> bool:
        return self.done >= self.target.number

    @property
    def overdue(self) -> bool:
        """Past the deadline and not met."""
        return self.as_of > self.target.deadline and not self.met

    @property
    def on_track(self) -> bool:
        return self.met or (not self.overdue and self.forecast >= self.target.number)

    @property
    def verdict(self) -> str:
        if self.met:
            return "已完成"
        if self.overdue:
            return "逾期未完成"
        return "按进度可完成" if self.on_track else "按当前进度完不成"

    def as_json(self) -> dict[str, Any]:
        t = self.target
        return {
            "target": t.id,
            "name": t.name,
            "number": t.number,
            "unit": t.unit,
            "deadline": t.deadline.isoformat(),
            "lead": t.lead,
            "responsible": list(t.responsible),
            "measure": t.measure,
            "source": t.source,
            "done": self.done,
            "percent": round(self.percent, 1),
            "in_progress": self.total.in_progress,
            "late": self.total.late,
            "pace_per_day": self.pace_per_day,
            "forecast_at_deadline": round(self.forecast, 2),
            "reaches_on": self.reaches_on.isoformat() if self.reaches_on else None,
            "verdict": self.verdict,
            "note": self.note,
            "late_items": [{"id": i.id, "district": i.district, "note": i.note} for i in self.late_items],
            "districts": {d: tally.as_json() for d, tally in sorted(self.by_district.items())},
        }


def tally(target: Target, items: list[Item] | tuple[Item, ...], goal: float | None) -> Tally:
    done = sum(1 for i in items if i.state == "done")
    value = (100 * done / len(items) if items else 0.0) if target.percent else float(done)
    return Tally(
        value,
        len(items),
        sum(1 for i in items if i.state == "in_progress"),
        sum(1 for i in items if i.state == "late"),
        goal,
    )


def pace(target: Target, items: tuple[Item, ...], plan: Plan, as_of: date) -> float:
    """Per day: the items done in the last `pace_days` (when items carry dates), else done / days since start."""
    dated = [i.done_on for i in items if i.state == "done" and i.done_on is not None]
    scale = 100 / len(items) if target.percent and items else 1.0
    if dated:
        window_start = as_of - timedelta(days=plan.pace_days)
        recent = sum(1 for d in dated if window_start < d <= as_of)
        return recent * scale / plan.pace_days
    elapsed = (as_of - plan.start).days
    done = tally(target, items, None).done
    return done / elapsed if elapsed > 0 else 0.0


def target_status(target: Target, items: list[Item], plan: Plan, as_of: date, note: str = "") -> TargetStatus:
    """The target's status on `as_of` from its items (see the module doc)."""
    ordered = tuple(sorted(items, key=lambda i: (i.district or "", i.id)))
    total = tally(target, ordered, target.number)
    districts = sorted({i.district for i in ordered if i.district} | set(target.quota))
    by_district = {}
    for d in districts:
        mine = [i for i in ordered if i.district == d]
        goal = target.quota.get(d) if not target.percent else 100.0
        by_district[d] = tally(target, mine, goal)
    per_day = pace(target, ordered, plan, as_of)
    days_left = max(0, (target.deadline - as_of).days)
    forecast = total.done + per_day * days_left
    if target.percent:
        forecast = min(100.0, forecast)
    reaches = None
    if total.done >= target.number:
        reaches = max((i.done_on for i in ordered if i.done_on), default=as_of)
    elif per_day > 0:
        reaches = as_of + timedelta(days=math.ceil((target.number - total.done) / per_day))
    return TargetStatus(target, as_of, total, by_district, ordered, per_day, forecast, reaches, note)


def overdue_state(as_of: date, due: date | None) -> State:
    """Not done: late once its due day (or the target's deadline) has passed, else in progress."""
    return "late" if due is not None and as_of > due else "in_progress"
