"""Forty simulated days replayed: every problem the simulator injected is found on the right institution and day,
and the timer rules raise nothing the simulator did not inject (no patrol owed on a closed day)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from conftest import FireRun

from safecampus.connectors.registry import RegistryView
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.fire import FireLedger
from safecampus.simulator.city import build_city

RULES = {
    "hazard_ebike": "fire.hazard.ebike",
    "hazard_video": "fire.hazard.video",
    "hazard_overdue": "fire.hazard_overdue",
    "area_closed": "fire.area_closed",
    "rectification_unconfirmed": "fire.rectification_unconfirmed",
    "missing_patrol": "fire.patrol_missing",
    "missing_monthly_inspection": "fire.monthly_inspection_missing",
    "drill_overdue": "fire.drill_overdue",
    "unknown_institution": "fire.unknown_institution",
    "location_noncompliant": "fire.location_noncompliant",
}
TIMERS = ("fire.patrol_missing", "fire.monthly_inspection_missing", "fire.drill_overdue")


def _lines(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _day(moment: datetime | str) -> str:
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return when.astimezone(SHANGHAI).date().isoformat()


def _alerts(run: FireRun) -> list[Alert]:
    return [Alert.model_validate(a) for a in _lines(run.out / "alerts.jsonl")]


def _input_end(run: FireRun) -> datetime:
    return max(datetime.fromisoformat(e["inspected_at"]) for e in _lines(run.out / "events.jsonl"))


def test_every_injected_problem_is_found_on_its_institution_and_day(fire_run: FireRun) -> None:
    truth = [t for t in _lines(fire_run.sim.out_dir / "ground_truth.jsonl") if t["domain"] == "fire"]
    end = _input_end(fire_run)
    due = [t for t in truth if len(t["time"]) == 10 or datetime.fromisoformat(t["time"]) <= end]
    later = [t for t in truth if t not in due]
    assert {t["kind"] for t in due} == {*RULES, "malformed"}  # every kind injected, and judged by the end
    assert {t["kind"] for t in later} <= {"missing_patrol"} and all(_day(t["time"]) > _day(end) for t in later)
    alerts = _alerts(fire_run)
    found = {(a.rule, a.subject, _day(a.occurred_at)) for a in alerts}
    subjects = {(a.rule, a.subject) for a in alerts}
    missed = []
    for t in due:
        if t["kind"] == "malformed":
            continue
        rule = RULES[t["kind"]]
        if t["kind"] == "location_noncompliant":  # a registry fact: once per institution, on its first form
            hit = (rule, t["subject"]) in subjects
        else:
            hit = (rule, t["subject"], _day(t["time"])) in found
        if not hit:
            missed.append(t)
    assert missed == []
    counts = Counter(t["kind"] for t in due)
    assert counts["missing_patrol"] >= 20 and counts["hazard_ebike"] >= 3


def test_the_timers_raise_only_what_was_injected(fire_run: FireRun) -> None:
    truth = _lines(fire_run.sim.out_dir / "ground_truth.jsonl")
    injected = {(RULES[t["kind"]], t["subject"], _day(t["time"])) for t in truth if RULES.get(t["kind"]) in TIMERS}
    raised = {(a.rule, a.subject, _day(a.occurred_at)) for a in _alerts(fire_run) if a.rule in TIMERS}
    assert raised and raised <= injected  # no patrol owed on a Saturday, a Sunday or the National Day holiday
    holiday = {a.evidence[0]["day"] for a in _alerts(fire_run) if a.rule == "fire.patrol_missing"}
    assert holiday and not {f"2026-10-0{d}" for d in range(1, 8)} & holiday  # none owed 1–7 October


def test_an_overdue_finding_escalates_daily_until_rectified(fire_run: FireRun) -> None:
    updates = [a for a in _alerts(fire_run) if a.rule == "fire.hazard_overdue" and a.subject == "T015"]
    *firing, resolved = updates
    levels = [a.evidence[0]["escalation"] for a in firing]
    assert levels == list(range(1, len(levels) + 1)) and len(levels) >= 10  # every midnight, weekends too
    assert {a.status for a in firing} == {"firing"} and resolved.status == "resolved"
    assert resolved.evidence[0]["escalation"] == levels[-1]  # rectified on the 11th day overdue


def test_bad_forms_went_to_the_dlq_with_their_reason(fire_run: FireRun) -> None:
    (bad,) = _lines(fire_run.out / "dlq.jsonl")
    assert bad["step"] == "validate" and "Z99 is not in the checklist" in bad["reason"]


def test_the_ledger_and_kpis_cover_every_institution(fire_run: FireRun) -> None:
    ledgers = [FireLedger.model_validate(x) for x in _lines(fire_run.out / "ledger.jsonl")]
    registered = set(RegistryView.of_rows(build_city().rows()).institutions)
    ids = [ledger.institution_id for ledger in ledgers]
    assert len(ids) == len(set(ids)) and set(ids) == registered | {"T999"}  # each one once, the unregistered too
    rows = {r.institution_id: r for ledger in ledgers for r in ledger.rows if r.item_code == "C01"}
    assert rows["T015"].major and rows["T015"].days_overdue > 0 and rows["T015"].closed_how == "confirmed"
    kpis = {
        (k["metric"], json.dumps(k["labels"], sort_keys=True)): k["value"] for k in _lines(fire_run.out / "kpis.jsonl")
    }
    city = kpis[("fire_compliance_rate", "{}")]
    assert 0.9 < city < 1.0
    assert ("fire_compliance_rate", json.dumps({"district": "zhonglou"})) in kpis
    assert kpis[("fire_mean_days_to_rectify", "{}")] > 0
