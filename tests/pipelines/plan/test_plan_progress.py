"""The programme view's arithmetic: done, in progress and late per target and county, the current pace, the
forecast to the deadline and the day the number is reached; the shipped targets file."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from safecampus.pipelines.plan.progress import Item, target_status
from safecampus.pipelines.plan.targets import Plan, PlanError, Target, load_targets

AS_OF = date(2025, 6, 30)


def plan(*targets: Target) -> Plan:
    return Plan(name="测试规划", start=date(2023, 1, 1), pace_days=365, targets=targets)


def count_target(**changes: object) -> Target:
    base = {"id": "halls", "name": "安全教育体验馆", "number": 10, "unit": "个", "deadline": date(2025, 12, 31),
            "lead": "市教育局", "responsible": ("市应急管理局",), "measure": "milestones", "kind": "hall",
            "source": "test", "quota": {"north": 6, "south": 4}}  # fmt: skip
    return Target.model_validate(base | changes)


def test_the_forecast_runs_the_recent_pace_to_the_deadline() -> None:
    target = count_target()
    # 2 done long ago (outside the year's pace window), 4 in the last 365 days, 1 in progress, 1 late
    items = [Item(f"H{n}", "north", "done", done_on=date(2023, 5, 1)) for n in range(2)]
    items += [Item(f"H{n + 2}", "south" if n % 2 else "north", "done", done_on=AS_OF - timedelta(days=30 * n))
              for n in range(4)]  # fmt: skip
    items += [Item("H6", "south", "in_progress"), Item("H7", "north", "late", "计划 2025-03-01 投用")]
    status = target_status(target, items, plan(target), AS_OF)
    assert status.done == 6 and status.percent == 60.0
    assert status.pace_per_day == pytest.approx(4 / 365)
    days_left = (target.deadline - AS_OF).days
    assert status.forecast == pytest.approx(6 + 4 / 365 * days_left)  # 6 + 2.0 = 8.0 < 10
    assert not status.on_track and status.verdict == "按当前进度完不成"
    assert status.reaches_on == AS_OF + timedelta(days=math.ceil(4 / (4 / 365)))  # 4 more at 4 a year: a year
    assert [i.id for i in status.late_items] == ["H7"]
    north, south = status.by_district["north"], status.by_district["south"]
    assert (north.done, north.goal, north.late, south.done, south.in_progress) == (4, 6, 1, 2, 1)
    assert north.percent == pytest.approx(100 * 4 / 6)


def test_a_pace_fast_enough_is_on_track_and_a_passed_deadline_is_overdue() -> None:
    target = count_target(number=5)
    items = [Item(f"H{n}", "north", "done", done_on=AS_OF - timedelta(days=n)) for n in range(4)]
    on_time = target_status(target, items, plan(target), AS_OF)
    assert on_time.on_track and on_time.forecast > 5 and on_time.verdict == "按进度可完成"
    late = target_status(target, items, plan(target), date(2026, 3, 1))
    assert late.overdue and late.forecast == 4 and late.verdict == "逾期未完成"
    done = target_status(count_target(number=4), items, plan(target), AS_OF)
    assert done.met and done.reaches_on == AS_OF  # the day the last one was done


def test_a_share_target_without_dates_paces_from_the_plan_start() -> None:
    target = count_target(unit="%", number=100, quota={}, measure="canteen_disclosure", kind=None)
    items = [Item(f"C{n}", "north", "done") for n in range(3)] + [Item("C3", "south", "in_progress")]
    status = target_status(target, items, plan(target), AS_OF)
    assert status.done == 75.0
    assert status.pace_per_day == pytest.approx(75.0 / (AS_OF - date(2023, 1, 1)).days)
    elapsed, left = (AS_OF - date(2023, 1, 1)).days, (target.deadline - AS_OF).days
    assert status.forecast == pytest.approx(75.0 + 75.0 / elapsed * left) and not status.on_track
    early = target_status(target, items, plan(target), date(2023, 7, 1))  # 75 % in half a year
    assert early.forecast == 100.0 and early.on_track  # capped: a share cannot pass 100 %
    assert status.by_district["south"].done == 0.0 and status.by_district["north"].percent == 100.0


def test_the_shipped_targets_are_the_plans_numbers() -> None:
    shipped = {t.id: t for t in load_targets().targets}
    assert {k: shipped[k].number for k in ("security_projects", "pickup_centres", "custom_bus_routes",
                                           "safety_halls", "first_aiders")} == {
        "security_projects": 20, "pickup_centres": 13, "custom_bus_routes": 10, "safety_halls": 4,
        "first_aiders": 2000}  # fmt: skip
    for t in shipped.values():
        assert t.lead and t.responsible and t.source
        if t.quota:
            assert sum(t.quota.values()) == t.number, t.id


def test_a_milestone_target_must_name_its_kind(tmp_path: Path) -> None:
    bad = tmp_path / "targets.toml"
    bad.write_text(
        '[plan]\nname = "x"\nstart = 2023-01-01\n[[target]]\nid = "a"\nname = "a"\nnumber = 1\nunit = "个"\n'
        'deadline = 2025-12-31\nlead = "x"\nresponsible = ["y"]\nmeasure = "milestones"\nsource = "z"\n',
        encoding="utf-8",
    )
    with pytest.raises(PlanError, match="kind must be one of"):
        load_targets(bad)
