"""Childcare fire-safety inspection histories: patrols, monthly inspections, drills, findings and their remediation.

Each open day (the institution's calendar: weekdays, the National Day holiday closed) has two patrols
(08:30, 16:30) by patrol staff; the first open day of a month the morning round is the fire-safety
manager's full inspection (every checklist item). Key units drill once in the first days. Everything
is a function of the institution, the day and the simulation's first day (`city.start`), so a day's
forms know which findings opened days before. Injected problems, each in the ground truth at the
moment a correct pipeline can know it:

    hazard_ebike       e-bike charging in a corridor; rectified 2 days later, confirmed the day after
    hazard_video       video not viewable in the duty room; a patrol finds it compliant 5 days later
    hazard_overdue     blocked exit, deadline 3 days on, rectified only on day 10 (overdue from day 4)
    area_closed        the same finding at one institution is major: the area is closed until confirmed
    rectification_unconfirmed   wiring rectified on day 2, never confirmed by the manager
    missing_patrol     an open day with only the morning patrol (closed days owe none)
    missing_monthly_inspection  one institution skips September's full inspection
    drill_overdue      one key unit does not drill when due
    unknown_institution  forms from T999, not in the registry
    malformed          a form naming a checklist item that does not exist (to the DLQ)
Some institutions' afternoon forms sync the next morning (received late, arriving out of order).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from safecampus.schemas.common import service_time
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import ChildcareInstitution
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local

PATROL_ITEMS = ("C01", "C02", "E01", "E02", "G01", "H02", "V01")
ALL_ITEMS = (
    *("A01", "A02", "A03", "A04", "A05", "B01", "B02", "C01", "C02", "C03", "C04", "D01", "E01", "E02", "F01"),
    *("F02", "F03", "F04", "G01", "G02", "G03", "H01", "H02", "H03", "V01", "V02", "M01", "M02", "M03", "M04", "M05"),
)
BREAKS = {"basement": "A02", "semi_basement": "A02", "three_in_one": "A03", "steel_panel": "A04"}
GRACE = timedelta(hours=2)  # FireRules.patrol_grace_h: a day is judged at 02:00 the next day
CONFIRM_WAIT = timedelta(hours=72)  # FireRules.unconfirmed_after_h


def is_open(city: City, inst: ChildcareInstitution, day: date) -> bool:
    for exception in city.childcare_dates:
        if exception.on == day and exception.scope in ("*", inst.institution_id):
            return exception.open
    return str(day.isoweekday()) in inst.open_weekdays


def open_days_from(city: City, inst: ChildcareInstitution, day: date, count: int) -> date:
    """The `count`-th open day after `day` (0: `day` itself if open)."""
    seen = -1
    while True:
        if is_open(city, inst, day):
            seen += 1
            if seen == count:
                return day
        day += timedelta(days=1)


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    k = (day - city.start).days
    for n, inst in enumerate(city.institutions):
        if is_open(city, inst, day):
            yield from _day(city, n, inst, day, k, rng, truth)
    if k == 0:
        yield _unknown_institution(day, truth)


def _day(
    city: City, n: int, inst: ChildcareInstitution, day: date, k: int, rng: random.Random, truth: GroundTruth
) -> Iterator[RawEnvelope]:
    iid = inst.institution_id
    first_open_of_month = open_days_from(city, inst, day.replace(day=1), 0) == day
    monthly = first_open_of_month and not (n == 11 and day.month == city.start.month)
    if n == 11 and first_open_of_month and day.month == city.start.month:
        last = inst.last_full_inspection_on or city.start
        due = open_days_from(city, inst, last + timedelta(days=31), 0)
        truth.add("fire", "missing_monthly_inspection", iid, service_time(due + timedelta(days=1), 0) + GRACE)
    start = city.start
    day0 = open_days_from(city, inst, start, 0)
    rounds = [(8.5, "monthly" if monthly else "patrol"), (16.5, "patrol")]
    if (k + n) % 23 == 5 and n % 4 == 1:
        rounds = rounds[:1]
        truth.add("fire", "missing_patrol", iid, service_time(day + timedelta(days=1), 0) + GRACE)
    for p, (hour, kind) in enumerate(rounds):
        items = ALL_ITEMS if kind == "monthly" else PATROL_ITEMS
        at = local(day, hour * 3600 + rng.uniform(0, 900))
        checklist: list[dict[str, object]] = []
        findings: list[dict[str, object]] = []
        for code in items:
            result, finding = _item(city, n, inst, code, day, day0, p, at, truth)
            checklist.append({"item_code": code, "result": result})
            if finding is not None:
                findings.append({"item_code": code, **finding})
        role = "fire_safety_manager" if kind == "monthly" else "patrol_staff"
        form = _form(f"{iid}-{day:%Y%m%d}-P{p}", iid, role, kind, at, checklist, findings)
        late = n % 9 == 4 and p == 1  # the afternoon form syncs the next morning
        received = local(day + timedelta(days=1), 7.5 * 3600) if late else at
        yield _envelope(form, iid, received)
    extra = _manager_round(city, n, inst, day, day0, truth)
    if extra is not None:
        yield _envelope(extra, iid, datetime.fromisoformat(str(extra["inspected_at"])))
    if inst.key_unit and day == open_days_from(city, inst, start, n % 5) and n != 20:
        drill = _form(f"{iid}-{day:%Y%m%d}-D", iid, "fire_safety_manager", "drill", local(day, 10 * 3600), [], [])
        yield _envelope(drill, iid, local(day, 10 * 3600))
    if n == 20 and day == day0 and inst.last_drill_on is not None:
        due = open_days_from(city, inst, inst.last_drill_on + timedelta(days=183), 0)
        truth.add("fire", "drill_overdue", iid, service_time(due + timedelta(days=1), 0) + GRACE)
    if n == 33 and k == 1:
        bad = _form(f"{iid}-{day:%Y%m%d}-X", iid, "patrol_staff", "patrol", local(day, 12 * 3600), [], [])
        bad["checklist"] = [{"item_code": "Z99", "result": "fail"}]
        truth.add("fire", "malformed", iid, local(day, 12 * 3600))
        yield _envelope(bad, iid, local(day, 12 * 3600))


def _item(
    city: City,
    n: int,
    inst: ChildcareInstitution,
    code: str,
    day: date,
    day0: date,
    p: int,
    at: datetime,
    truth: GroundTruth,
) -> tuple[str, dict[str, object] | None]:
    """What a round finds on one item: pass, or the injected finding's state that day."""
    nth = lambda d: open_days_from(city, inst, day0, d)  # noqa: E731
    if code == BREAKS.get(inst.building_type) or (code == "A01" and inst.floor >= 4):
        return "fail", {"description": "设置场所不符合指南要求", "major": False}
    if code == "E01" and n % 21 == 2:
        if day == day0 and p == 0:
            truth.add("fire", "hazard_ebike", inst.institution_id, at)
            photo = f"{inst.institution_id}/e01-1.jpg"
            return "fail", {"area": "一楼走道", "deadline": (day + timedelta(days=7)).isoformat(), "photos": [photo]}
        if (day, p) == (nth(2), 1):
            return "fail", {"rectified_at": at.isoformat()}
        if day < nth(2) or (day, p) in ((nth(2), 0), (nth(3), 0)):
            return "fail", {}
    if code == "V01" and n % 33 == 8:
        if day == day0 and p == 0:
            truth.add("fire", "hazard_video", inst.institution_id, at)
            return "fail", {"deadline": (day + timedelta(days=7)).isoformat()}
        if day < nth(5):
            return "fail", {}
    if code == "C01" and n % 26 == 15:
        deadline = day0 + timedelta(days=3)
        if day == day0 and p == 0:
            truth.add("fire", "hazard_overdue", inst.institution_id, service_time(deadline + timedelta(days=1), 0))
            if n == 15:
                truth.add("fire", "area_closed", inst.institution_id, at)
            return "fail", {"area": "安全出口", "deadline": deadline.isoformat(), "major": n == 15}
        if (day, p) == (nth(10), 1):
            return "fail", {"rectified_at": at.isoformat()}
        if day < nth(10) or (day, p) in ((nth(10), 0), (nth(11), 0)):
            return "fail", {}
    if code == "G01" and n % 17 == 9:
        if (day, p) == (nth(1), 0):
            return "fail", {"deadline": (day + timedelta(days=10)).isoformat()}
        if (day, p) == (nth(2), 0):
            truth.add("fire", "rectification_unconfirmed", inst.institution_id, at + CONFIRM_WAIT)
            return "fail", {"rectified_at": at.isoformat()}
        if day >= nth(1):
            return "fail", {}
    return "pass", None


def _manager_round(
    city: City, n: int, inst: ChildcareInstitution, day: date, day0: date, truth: GroundTruth
) -> dict[str, object] | None:
    """The fire-safety manager confirms rectified findings closed (e-bike the day after; the exit on day 11)."""
    iid = inst.institution_id
    at = local(day, 10.5 * 3600)
    if n % 21 == 2 and day == open_days_from(city, inst, day0, 3):
        finding: dict[str, object] = {
            "item_code": "E01",
            "confirmed_by": "fire_safety_manager",
            "confirmed_at": at.isoformat(),
        }
    elif n % 26 == 15 and day == open_days_from(city, inst, day0, 11):
        finding = {"item_code": "C01", "confirmed_by": "fire_safety_manager"}
    else:
        return None
    code = str(finding["item_code"])
    return _form(
        f"{iid}-{day:%Y%m%d}-S",
        iid,
        "fire_safety_manager",
        "self_check",
        at,
        [{"item_code": code, "result": "fail"}],  # type: ignore[list-item]
        [finding],
    )


def _unknown_institution(day: date, truth: GroundTruth) -> RawEnvelope:
    at = local(day, 9 * 3600)
    truth.add("fire", "unknown_institution", "T999", at)
    checks: list[dict[str, object]] = [{"item_code": "C01", "result": "pass"}]
    form = _form(f"T999-{day:%Y%m%d}-P0", "T999", "patrol_staff", "patrol", at, checks, [])
    return _envelope(form, "T999", at)


def _form(
    inspection_id: str,
    institution_id: str,
    role: str,
    kind: str,
    at: datetime,
    checklist: list[dict[str, object]],
    findings: list[dict[str, object]],
) -> dict[str, object]:
    return {
        "inspection_id": inspection_id,
        "institution_id": institution_id,
        "inspector_role": role,
        "kind": kind,
        "inspected_at": at.isoformat(),
        "checklist": checklist,
        "findings": findings,
    }


def _envelope(form: dict[str, object], key: str, received: datetime) -> RawEnvelope:
    return RawEnvelope(
        domain="fire",
        source="inspection-json",
        payload=json.dumps(form, ensure_ascii=False),
        received_at=received,
        gateway="inspection-app",
        key=key,
    )
