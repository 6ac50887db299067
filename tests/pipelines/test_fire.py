"""Fire-safety inspections: hazards by category, overdue deadlines, major hazards, resolved by a later patrol."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import DecodeError
from safecampus.pipelines.fire import FirePipeline
from safecampus.schemas.envelope import RawEnvelope


def envelope(
    findings: list[dict[str, object]], institution: str = "T001", inspection: str = "I1", at: str = "08:30"
) -> RawEnvelope:
    body = {
        "inspection_id": inspection,
        "institution_id": institution,
        "kind": "patrol",
        "inspected_at": f"2026-09-10T{at}:00+08:00",
        "findings": findings,
    }
    return RawEnvelope(
        domain="fire", source="inspection-json", payload=json.dumps(body), received_at=datetime(2026, 9, 10, tzinfo=UTC)
    )


@pytest.fixture(scope="module")
def pipeline(city_registry: RegistryView) -> FirePipeline:
    return FirePipeline(Settings(), city_registry)


def test_compliant_inspection_raises_nothing(pipeline: FirePipeline) -> None:
    (inspection,) = pipeline.decode(envelope([{"item_code": "F01", "category": "exits", "compliant": True}]))
    assert inspection.district == "zhonglou"
    assert pipeline.new_detector("T001").observe(inspection) == []


def test_hazards_by_category_deadline_and_size(pipeline: FirePipeline) -> None:
    findings = [
        {"item_code": "F04", "category": "ebike", "compliant": False, "deadline": "2026-09-17"},
        {"item_code": "F05", "category": "video", "compliant": False, "deadline": "2026-09-17"},
        {"item_code": "F01", "category": "exits", "compliant": False, "deadline": "2026-09-01"},
        {"item_code": "F03", "category": "electrical", "compliant": False, "major": True},
        {"item_code": "F02", "category": "extinguishers", "compliant": False, "remediated_on": "2026-09-09"},
    ]
    (inspection,) = pipeline.decode(envelope(findings))
    found = {(a.rule, a.severity) for a in pipeline.new_detector("T001").observe(inspection)}
    assert found == {
        ("fire.hazard.ebike", "high"),
        ("fire.hazard.video", "warning"),
        ("fire.hazard_overdue", "high"),
        ("fire.area_closed", "critical"),
    }


def test_unknown_institution_is_refused(pipeline: FirePipeline) -> None:
    with pytest.raises(DecodeError, match="T999 is not in the registry"):
        pipeline.decode(envelope([], institution="T999"))


EBIKE = {"item_code": "F04", "category": "ebike", "compliant": False, "deadline": "2026-09-17"}


def test_the_afternoon_patrol_resolves_the_morning_finding(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    (morning,) = pipeline.decode(envelope([EBIKE], inspection="P0"))
    (again,) = pipeline.decode(envelope([EBIKE], inspection="P0b", at="12:00"))
    (afternoon,) = pipeline.decode(
        envelope([{"item_code": "F04", "category": "ebike", "compliant": True}], inspection="P1", at="16:30")
    )
    (opened,) = detector.observe(morning)
    assert detector.observe(again) == []  # a repeat of an open finding adds nothing
    (closed,) = detector.observe(afternoon)
    assert (opened.status, closed.status) == ("firing", "resolved")
    assert closed.fingerprint == opened.fingerprint and closed.rule == "fire.hazard.ebike"
    assert closed.occurred_at == opened.occurred_at and closed.detected_at == afternoon.inspected_at
    assert "P1" in closed.detail and "已合格" in closed.detail
    assert detector.observe(afternoon) == []  # nothing left open
    partials = pipeline.kpi_partials([], [opened, closed])
    assert partials == {("fire_alerts_total", (("rule", "fire.hazard.ebike"), ("severity", "high"))): 1.0}


def test_remediated_resolves_a_late_inspection_does_not_and_a_new_rule_replaces(pipeline: FirePipeline) -> None:
    detector = pipeline.new_detector("T001")
    (morning,) = pipeline.decode(envelope([EBIKE], inspection="P0"))
    (opened,) = detector.observe(morning)
    fixed = {**EBIKE, "remediated_on": "2026-09-10"}
    (late,) = pipeline.decode(envelope([{**EBIKE, "compliant": True}], inspection="early", at="07:00"))
    assert detector.observe(late) == []  # older than what the detector knows: neither resolves nor reopens
    (major,) = pipeline.decode(envelope([{**EBIKE, "major": True}], inspection="P0c", at="10:00"))
    old, new = detector.observe(major)
    assert (old.fingerprint, old.status) == (opened.fingerprint, "resolved")
    assert (new.rule, new.status) == ("fire.area_closed", "firing") and "升级" in old.detail
    (afternoon,) = pipeline.decode(envelope([fixed], inspection="P1", at="16:30"))
    (closed,) = detector.observe(afternoon)
    assert (closed.fingerprint, closed.status) == (
        new.fingerprint,
        "resolved",
    ) and "已于 2026-09-10 整改" in closed.detail
