"""The scorecard's arithmetic on facts made by hand: weights, thresholds both ways, shares of schools, a county
failing one required indicator and what it lacks; the shipped and an edited indicators file."""

from __future__ import annotations

from pathlib import Path

import pytest

from safecampus.pipelines.certification.indicators import (
    MEASURES,
    SHIPPED,
    Indicator,
    IndicatorError,
    Scorecard,
    load_indicators,
)
from safecampus.pipelines.certification.scorecard import Facts, certify

LINKAGE = Indicator(id="police_linkage", name="一键报警联网率", measure="security.police_linkage", threshold=1.0,
                    county_share=1.0, weight=3, required=True)  # fmt: skip
ARRIVAL = Indicator(id="alarm_response", name="出警到达时间", measure="alarm.arrival_minutes", direction="max",
                    threshold=5.0, county_share=0.5, weight=1, unit="minutes")  # fmt: skip
FIRE = Indicator(id="childcare_fire", name="托育消防合格率", measure="fire.compliance", level="district",
                 threshold=0.95, weight=1)  # fmt: skip
CARD = Scorecard(pass_score=80, indicators=(LINKAGE, ARRIVAL, FIRE))


def facts() -> Facts:
    """North: every school linked, quick police, fire 97 %. South: S0012 and S0040 not fully linked."""
    schools = {"S0001": "north", "S0002": "north", "S0012": "south", "S0040": "south", "S0041": "south"}
    return Facts(
        districts={"north": "北区", "south": "南区"},
        schools=schools,
        school={
            "security.police_linkage": {"S0001": 1.0, "S0002": 1.0, "S0012": 0.5, "S0040": 0.9, "S0041": 1.0},
            "alarm.arrival_minutes": {"S0001": 3.0, "S0002": 4.0, "S0012": 6.0, "S0040": 4.5},  # S0041: no test
        },
        district={"fire.compliance": {"north": 0.97, "south": 0.96}},
        city={"fire.compliance": 0.965},
        subjects={"fire.compliance": {"I001": 1.0, "I002": 0.94, "I003": 1.0}},
        subject_district={"I001": "north", "I002": "north", "I003": "south"},
    )


def test_weights_and_thresholds_give_each_county_its_score() -> None:
    cert = certify(CARD, facts())
    north, south = (next(c for c in cert.counties if c.id == d) for d in ("north", "south"))
    assert north.score == 100.0 and north.passed
    # linkage: 1 of 3 schools passes → 1/3 of weight 3; arrival: 1 of 2 tested ≤ 5 min → share 0.5 meets 0.5
    assert south.score == pytest.approx(round(100 * (3 * (1 / 3) + 1 + 1) / 5, 1))
    assert [c.id for c in cert.counties] == ["north", "south"]  # ranked by score
    arrival = next(r for r in south.results if r.indicator.id == "alarm_response")
    assert arrival.value == 0.5 and arrival.passed and arrival.subjects == ("S0012",)


def test_a_county_failing_one_required_indicator_says_what_is_missing() -> None:
    lenient = Scorecard(pass_score=50, indicators=CARD.indicators)
    south = next(c for c in certify(lenient, facts()).counties if c.id == "south")
    assert south.score >= 50 and not south.passed  # the score is enough, the required indicator is not
    (missing,) = south.as_json()["missing"]
    assert missing["indicator"] == "police_linkage"
    assert missing["value"] == pytest.approx(1 / 3) and missing["threshold"] == 1.0
    assert missing["subjects"] == ["S0012", "S0040"]
    assert missing["text"] == "2 所学校一键报警联网率未达 100%：S0012、S0040"


def test_a_school_is_judged_on_its_own_values_and_no_data_is_not_a_failure() -> None:
    cert = certify(CARD, facts())
    by_id = {s.id: s for s in cert.schools}
    assert by_id["S0012"].score == pytest.approx(round(100 * (3 * 0.5 + 1 * 5 / 6) / 4, 1))  # "max": 5 / 6
    assert {r.indicator.id for r in by_id["S0012"].missing} == {"police_linkage", "alarm_response"}
    s41 = by_id["S0041"]
    assert s41.score == 100.0 and s41.passed
    assert next(r for r in s41.results if r.indicator.id == "alarm_response").passed is None


def test_a_district_level_indicator_names_the_institutions_below_it() -> None:
    strict = Scorecard(pass_score=80, indicators=(LINKAGE, FIRE.model_copy(update={"threshold": 0.98})))
    north = next(c for c in certify(strict, facts()).counties if c.id == "north")
    (fire,) = north.missing
    assert fire.value == 0.97 and fire.subjects == ("I002",)
    assert fire.text() == "托育消防合格率 97.0%，未达 98.0%：1 家托育机构未达标 I002"
    assert certify(strict, facts()).city.results[1].subjects == ("I002",)


def test_the_shipped_indicators_cover_the_sources_and_weigh_100() -> None:
    card = load_indicators()
    assert sum(i.weight for i in card.indicators) == 100
    assert {i.measure for i in card.indicators} == set(MEASURES)
    assert all(i.source for i in card.indicators)


def test_an_edited_file_changes_the_verdict_without_code(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    edited = tmp_path / "county.toml"
    edited.write_text(text.replace("pass_score = 90.0", "pass_score = 40.0"), encoding="utf-8")
    assert load_indicators(edited).pass_score == 40.0
    (tmp_path / "bad.toml").write_text(
        '[[indicator]]\nid = "x"\nname = "x"\nmeasure = "nope"\nthreshold = 1\nweight = 1\n'
    )
    with pytest.raises(IndicatorError, match="unknown measure"):
        load_indicators(tmp_path / "bad.toml")


def test_a_canteen_month_counts_once_its_disclosure_is_due() -> None:
    from datetime import datetime

    from safecampus.pipelines.certification.facts import disclosure_state
    from safecampus.schemas.common import SHANGHAI

    before, after = datetime(2026, 11, 15, 23, tzinfo=SHANGHAI), datetime(2026, 11, 16, 0, tzinfo=SHANGHAI)
    assert disclosure_state("2026-10", 0.0, before) is None  # not yet due: neither published nor late
    assert disclosure_state("2026-10", 0.0, after) is False
    assert disclosure_state("2026-10", 0.5, after) is False  # reopened after publication: not published
    assert disclosure_state("2026-10", 1.0, before) is True
