"""Canteen ledger entries: decode, enrichment, red flags, readable refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen import CanteenPipeline
from safecampus.pipelines.domain import DecodeError
from safecampus.schemas.envelope import RawEnvelope


def envelope(**fields: object) -> RawEnvelope:
    body = {
        "entry_id": "E1",
        "canteen_id": "C0003",
        "booked_on": "2026-09-01",
        "direction": "expense",
        "category": "ingredients",
        "amount_cny": "512.40",
        "accepted_by_count": 2,
        "recorded_at": "2026-09-01T06:00:00+08:00",
        **fields,
    }
    return RawEnvelope(
        domain="canteen", source="ledger-json", payload=json.dumps(body), received_at=datetime(2026, 9, 1, tzinfo=UTC)
    )


@pytest.fixture(scope="module")
def pipeline(city_registry: RegistryView) -> CanteenPipeline:
    return CanteenPipeline(Settings(), city_registry)


def test_an_entry_is_enriched_with_school_and_district(pipeline: CanteenPipeline) -> None:
    (entry,) = pipeline.decode(envelope())
    assert entry.school_id == "S0003" and entry.district == "wujin"
    assert str(entry.amount_cny) == "512.40"
    assert pipeline.alerts_of(entry) == []


@pytest.mark.parametrize("category", ["staff_meals", "hospitality", "bonus"])
def test_red_flag_categories_raise_high_alerts(pipeline: CanteenPipeline, category: str) -> None:
    (entry,) = pipeline.decode(envelope(category=category))
    (alert,) = pipeline.alerts_of(entry)
    assert alert.rule == f"canteen.red_flag.{category}" and alert.severity == "high"
    assert alert.school_id == "S0003"


def test_single_person_acceptance_is_a_warning(pipeline: CanteenPipeline) -> None:
    (entry,) = pipeline.decode(envelope(accepted_by_count=1))
    assert [a.rule for a in pipeline.alerts_of(entry)] == ["canteen.single_person_acceptance"]


def test_unknown_canteen_and_bad_amount_are_refused_plainly(pipeline: CanteenPipeline) -> None:
    with pytest.raises(DecodeError, match="canteen C9999 is not in the registry"):
        pipeline.decode(envelope(canteen_id="C9999"))
    with pytest.raises(ValueError, match="amount_cny"):
        pipeline.decode(envelope(amount_cny="-3"))
