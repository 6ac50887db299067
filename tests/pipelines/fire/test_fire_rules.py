"""Each fire rule with a case that alerts and one that does not (T001 is open Monday to Friday, Zhonglou)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fire_forms import at, form, last_updates, of_rule, run

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.fire import FirePipeline
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.pipelines.fire.detector import FireDetector
from safecampus.pipelines.fire.structural import BUILDING_ITEMS, registry_failures


@pytest.fixture(scope="module")
def pipeline(city_registry: RegistryView) -> FirePipeline:
    return FirePipeline(Settings(), city_registry)


def test_a_compliant_patrol_raises_nothing(pipeline: FirePipeline) -> None:
    inspection = form(pipeline, "P0", at("09-10"))
    assert inspection.district == "zhonglou" and inspection.findings == []
    assert pipeline.new_detector("T001").observe(inspection) == []


def test_findings_take_their_category_severity(pipeline: FirePipeline) -> None:
    fail = {"E01": {}, "V01": {}, "A01": {}, "C01": {}, "G02": {"severity": "high"}}
    alerts = pipeline.new_detector("T001").observe(form(pipeline, "P0", at("09-10"), fail))
    found = {(a.rule, a.severity) for a in alerts}
    assert found == {
        ("fire.hazard.ebike", "high"),
        ("fire.hazard.video", "warning"),
        ("fire.hazard.location", "critical"),
        ("fire.hazard.exits", "high"),  # the checklist's default for C01
        ("fire.hazard.electrical", "high"),  # G02 is a warning in the checklist; the form raised it
    }
    assert all(a.subject == "T001" and a.district == "zhonglou" and a.evidence[0]["opened"] for a in alerts)


def test_a_form_cannot_lower_a_category_severity(pipeline: FirePipeline) -> None:
    (alert,) = pipeline.new_detector("T001").observe(form(pipeline, "P0", at("09-10"), {"E01": {"severity": "info"}}))
    assert alert.severity == "high"


def test_a_later_compliant_inspection_closes_the_finding(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    (opened,) = detector.observe(form(pipeline, "P0", at("09-10"), {"E01": {"deadline": "2026-09-17"}}))
    assert detector.observe(form(pipeline, "P1", at("09-10", "12:00"), {"E01": {}})) == []  # still open
    (closed,) = detector.observe(form(pipeline, "P2", at("09-10", "16:30")))
    assert (closed.fingerprint, closed.status, closed.rule) == (opened.fingerprint, "resolved", "fire.hazard.ebike")
    assert closed.detected_at == at("09-10", "16:30") and "复查合格" in closed.detail
    (row,) = detector.take_records()[0].rows  # type: ignore[attr-defined]
    assert (row.closed_how, row.closed_at) == ("compliant", at("09-10", "16:30"))


def test_a_major_hazard_closes_the_area_until_confirmed(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    first = detector.observe(form(pipeline, "P0", at("09-10"), {"C01": {"major": True, "area": "二楼活动室"}}))
    (area,) = of_rule(first, "fire.area_closed")
    assert area.severity == "critical" and "二楼活动室停止使用" in area.detail
    rectified = {"C01": {"rectified_at": at("09-11", "10:00").isoformat()}}
    assert of_rule(detector.observe(form(pipeline, "P1", at("09-11", "16:00"), rectified)), "fire.area_closed") == []
    confirm = {"C01": {"confirmed_by": "fire_safety_manager"}}
    done = detector.observe(form(pipeline, "S", at("09-12", "10:00"), confirm, passed=(), role="fire_safety_manager"))
    (reopened,) = of_rule(done, "fire.area_closed")
    assert (reopened.fingerprint, reopened.status) == (area.fingerprint, "resolved")
    minor = pipeline.new_detector("T001").observe(form(pipeline, "P0", at("09-10"), {"C01": {}}))
    assert of_rule(minor, "fire.area_closed") == []


def test_a_hazard_fixed_and_confirmed_on_the_spot_raises_nothing_but_is_in_the_ledger(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    fixed = {"E02": {"rectified_at": at("09-10", "08:40").isoformat(), "confirmed_by": "fire_safety_manager"}}
    assert detector.observe(form(pipeline, "M", at("09-10", "08:45"), fixed, role="fire_safety_manager")) == []
    (row,) = detector.take_records()[0].rows  # type: ignore[attr-defined]
    assert row.closed_how == "on_the_spot" and row.item_name.startswith("充电式玩具")


def test_an_open_finding_past_its_deadline_is_high_and_escalates_daily(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    run(detector, [form(pipeline, "P0", at("09-10"), {"V01": {"deadline": "2026-09-14"}})])
    assert of_rule(detector.expire(at("09-14", "23:59")), "fire.hazard_overdue") == []  # the deadline day itself
    first = of_rule(detector.expire(at("09-15", "00:00")), "fire.hazard_overdue")
    later = of_rule(detector.expire(at("09-17", "09:00")), "fire.hazard_overdue")
    assert [(a.severity, a.evidence[0]["escalation"]) for a in first] == [("high", 1)]  # a warning finding, raised
    assert [a.evidence[0]["escalation"] for a in later] == [2, 3]  # one update per further day, each day
    assert detector.next_deadline() == at("09-18", "00:00")
    rectified = {"V01": {"rectified_at": at("09-18", "15:00").isoformat()}}
    fourth, resolved = of_rule(
        detector.observe(form(pipeline, "P1", at("09-18", "16:00"), rectified)), "fire.hazard_overdue"
    )
    assert (fourth.status, fourth.evidence[0]["escalation"]) == ("firing", 4)  # 09-18 00:00 passed before the form
    assert (resolved.fingerprint, resolved.status) == (first[0].fingerprint, "resolved")
    assert resolved.evidence[0]["escalation"] == 4 and resolved.detected_at == at("09-18", "15:00")
    (ledger,) = detector.take_records()
    assert ledger.rows[0].days_overdue == 4  # type: ignore[attr-defined]


def test_a_finding_rectified_in_time_and_confirmed_after_its_deadline_is_not_overdue(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    forms = [
        form(pipeline, "P0", at("09-10"), {"E01": {"deadline": "2026-09-11"}}),
        form(pipeline, "P1", at("09-11", "16:00"), {"E01": {"rectified_at": at("09-11", "15:00").isoformat()}}),
        form(pipeline, "P2", at("09-12", "08:30"), {"E01": {}}),
        form(pipeline, "S", at("09-16", "10:00"), {"E01": {"confirmed_by": "fire_safety_manager"}}, passed=()),
    ]
    alerts = run(detector, forms, until=at("09-20"))
    assert of_rule(alerts, "fire.hazard_overdue") == []
    (late,) = last_updates(of_rule(alerts, "fire.rectification_unconfirmed")).values()  # 72 h passed on 09-14
    assert late.status == "resolved" and late.occurred_at == at("09-14", "15:00")
    row = detector.take_records()[0].rows[0]  # type: ignore[attr-defined]
    assert (row.days_overdue, row.closed_how, row.confirmed_by) == (0, "confirmed", "fire_safety_manager")


def test_a_rectification_needs_the_managers_confirmation(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    forms = [
        form(pipeline, "P0", at("09-10"), {"G01": {"rectified_at": at("09-10", "11:00").isoformat()}}),
        form(pipeline, "P1", at("09-10", "16:00"), {"G01": {"confirmed_by": "patrol_staff"}}),  # not the manager
    ]
    assert of_rule(run(detector, forms, until=at("09-13", "10:59")), "fire.rectification_unconfirmed") == []
    (flag,) = of_rule(detector.expire(at("09-13", "11:00")), "fire.rectification_unconfirmed")
    assert (flag.severity, flag.status) == ("warning", "firing")
    in_time = pipeline.new_detector("T001")
    confirmed = {"G01": {"confirmed_by": "fire_safety_manager", "confirmed_at": at("09-11", "09:00").isoformat()}}
    forms = [forms[0], form(pipeline, "S", at("09-11", "09:00"), confirmed, passed=())]
    assert of_rule(run(in_time, forms, until=at("09-20")), "fire.rectification_unconfirmed") == []


def test_an_open_day_with_one_patrol_alerts_after_it_is_judged(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    run(detector, [form(pipeline, "P0", at("09-10")), form(pipeline, "P1", at("09-10", "16:30"))])
    run(detector, [form(pipeline, "P2", at("09-11"))])  # Friday: one patrol
    assert of_rule(detector.expire(at("09-12", "01:59")), "fire.patrol_missing") == []  # judged at 02:00
    (missing,) = of_rule(detector.expire(at("09-12", "02:00")), "fire.patrol_missing")
    assert (missing.severity, missing.evidence[0]["day"], missing.evidence[0]["patrols"]) == (
        "warning",
        "2026-09-11",
        1,
    )
    late = detector.observe(form(pipeline, "P3", at("09-11", "16:40")))  # synced late, on Saturday
    (resolved,) = of_rule(late, "fire.patrol_missing")
    assert (resolved.fingerprint, resolved.status) == (missing.fingerprint, "resolved")


def test_a_closed_day_with_no_patrol_raises_nothing(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    friday = [form(pipeline, "P0", at("09-11")), form(pipeline, "P1", at("09-11", "16:30"))]
    alerts = run(detector, friday, until=at("09-14", "08:00"))  # Saturday and Sunday pass without a patrol
    assert of_rule(alerts, "fire.patrol_missing") == []
    holiday = pipeline.new_detector("T001")
    before = [form(pipeline, "P0", at("09-30")), form(pipeline, "P1", at("09-30", "16:30"))]
    assert of_rule(run(holiday, before, until=at("10-08", "03:00")), "fire.patrol_missing") == []  # 国庆节 closed
    (monday,) = of_rule(holiday.expire(at("10-09", "02:00")), "fire.patrol_missing")  # open again on the 8th
    assert monday.evidence[0]["day"] == "2026-10-08"


def test_a_missing_monthly_inspection_is_high_and_a_late_one_resolves_it(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")  # the registry's last full inspection: 2026-08-30, due 09-30
    full = pipeline.registry.institutions["T001"].last_full_inspection_on
    assert full is not None and full.isoformat() == "2026-08-30"
    run(detector, [form(pipeline, "P0", at("09-29"))])
    assert of_rule(detector.expire(at("10-01", "01:59")), "fire.monthly_inspection_missing") == []
    (missing,) = of_rule(detector.expire(at("10-01", "02:00")), "fire.monthly_inspection_missing")
    assert (missing.severity, missing.evidence[0]["due"]) == ("high", "2026-09-30")
    monthly = form(pipeline, "M", at("10-08"), kind="monthly", role="fire_safety_manager")
    (resolved,) = of_rule(detector.observe(monthly), "fire.monthly_inspection_missing")
    assert resolved.status == "resolved"
    on_time = pipeline.new_detector("T001")
    forms = [form(pipeline, "M", at("09-25"), kind="monthly", role="fire_safety_manager")]
    assert of_rule(run(on_time, forms, until=at("10-20")), "fire.monthly_inspection_missing") == []


def test_a_monthly_inspection_due_on_a_holiday_is_due_on_the_next_open_day(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    forms = [form(pipeline, "M", at("09-02"), kind="monthly", role="fire_safety_manager")]  # due 10-03: 国庆节
    assert of_rule(run(detector, forms, until=at("10-09", "01:00")), "fire.monthly_inspection_missing") == []
    (missing,) = of_rule(detector.expire(at("10-09", "02:00")), "fire.monthly_inspection_missing")
    assert missing.evidence[0]["due"] == "2026-10-08"


def test_drills_are_due_by_the_institutions_class(pipeline: FirePipeline) -> None:
    key = pipeline.registry.institutions["T000"]  # a key unit: every 183 days
    assert key.key_unit and key.last_drill_on is not None
    detector = pipeline.new_detector("T000")
    alerts = run(detector, [form(pipeline, "P0", at("09-01"), institution="T000")], until=at("09-30"))
    (drill,) = last_updates(of_rule(alerts, "fire.drill_overdue")).values()
    assert drill.severity == "warning" and drill.status == "firing"
    other = pipeline.new_detector("T001")  # not a key unit: its last drill 200 days ago is within a year
    assert of_rule(run(other, [form(pipeline, "P0", at("09-01"))], until=at("09-30")), "fire.drill_overdue") == []


def test_the_registrys_location_breaches_are_critical_once(pipeline: FirePipeline) -> None:
    assert pipeline.registry.institutions["T004"].floor == 4
    detector = pipeline.new_detector("T004")
    first = of_rule(
        detector.observe(form(pipeline, "P0", at("09-10"), institution="T004")), "fire.location_noncompliant"
    )
    again = detector.observe(form(pipeline, "P1", at("09-10", "16:30"), institution="T004"))
    assert [a.severity for a in first] == ["critical"] and "第 4 层" in first[0].detail
    assert of_rule(again, "fire.location_noncompliant") == []
    ok = pipeline.new_detector("T001").observe(form(pipeline, "P0", at("09-10")))
    assert of_rule(ok, "fire.location_noncompliant") == []
    (ledger,) = detector.take_records()
    assert ledger.items_applicable == 4 and ledger.items_compliant == 3  # type: ignore[attr-defined]


def test_a_form_for_an_unregistered_institution_is_an_alert_and_its_findings_still_count(
    pipeline: FirePipeline,
) -> None:
    inspection = form(pipeline, "X0", at("09-10"), {"E01": {}}, institution="T999")
    assert inspection.district is None
    alerts = run(pipeline.new_detector("T999"), [inspection], until=at("09-20"))
    assert {a.rule for a in alerts} == {"fire.unknown_institution", "fire.hazard.ebike"}  # no calendar: no timers
    (unknown,) = of_rule(alerts, "fire.unknown_institution")
    assert unknown.severity == "warning" and "T999" in unknown.detail and unknown.evidence[0]["event_id"] == "T999/X0"


@pytest.mark.parametrize("building", sorted(BUILDING_ITEMS))
def test_each_building_the_guideline_forbids_is_critical(pipeline: FirePipeline, building: str) -> None:
    """Basement, semi-basement, 三合一, steel-panel and hazardous-storage buildings, each from the registry row
    (T001 itself is an ordinary building on a low floor: nothing, as the floor case above shows)."""
    facts = InstitutionFacts.of("T001", pipeline.registry)
    assert facts.row is not None and facts.row.building_type == "ordinary"
    moved = replace(facts, row=facts.row.model_copy(update={"building_type": building}))
    detector = FireDetector(moved, Settings().fire, pipeline.checklist)
    (alert,) = of_rule(detector.observe(form(pipeline, "P0", at("09-10"))), "fire.location_noncompliant")
    code, words = BUILDING_ITEMS[building]
    assert alert.severity == "critical" and words in alert.detail
    assert {"kind": "building", "building_type": building} in alert.evidence
    (ledger,) = detector.take_records()
    assert ledger.items_applicable - ledger.items_compliant == 1  # type: ignore[attr-defined]  # its item fails
    assert registry_failures(moved, Settings().fire.max_floor).keys() == {code}
