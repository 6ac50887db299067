"""Fire-safety inspections: hazards by category, overdue deadlines, major hazards."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import DecodeError
from safecampus.pipelines.fire import FirePipeline
from safecampus.schemas.envelope import RawEnvelope


def envelope(findings: list[dict[str, object]], institution: str = "T001") -> RawEnvelope:
    body = {
        "inspection_id": "I1",
        "institution_id": institution,
        "kind": "patrol",
        "inspected_at": "2026-09-10T08:30:00+08:00",
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
    assert pipeline.alerts_of(inspection) == []


def test_hazards_by_category_deadline_and_size(pipeline: FirePipeline) -> None:
    findings = [
        {"item_code": "F04", "category": "ebike", "compliant": False, "deadline": "2026-09-17"},
        {"item_code": "F05", "category": "video", "compliant": False, "deadline": "2026-09-17"},
        {"item_code": "F01", "category": "exits", "compliant": False, "deadline": "2026-09-01"},
        {"item_code": "F03", "category": "electrical", "compliant": False, "major": True},
        {"item_code": "F02", "category": "extinguishers", "compliant": False, "remediated_on": "2026-09-09"},
    ]
    (inspection,) = pipeline.decode(envelope(findings))
    found = {(a.rule, a.severity) for a in pipeline.alerts_of(inspection)}
    assert found == {
        ("fire.hazard.ebike", "high"),
        ("fire.hazard.video", "warning"),
        ("fire.hazard_overdue", "high"),
        ("fire.area_closed", "critical"),
    }


def test_unknown_institution_is_refused(pipeline: FirePipeline) -> None:
    with pytest.raises(DecodeError, match="T999 is not in the registry"):
        pipeline.decode(envelope([], institution="T999"))
