"""The certification scorecard's arithmetic: every school, county and the city scored on the indicators.

An indicator judged per school passes for a school when its value meets the threshold; for a county its
value is the share of the county's schools (with data) that pass, which must reach `county_share`. An
indicator judged per district compares the county's own pooled value with the threshold.

    score = 100 × Σ weight × attainment / Σ weight      (over the indicators with data)
    attainment = 1 when passed, else value / threshold ("min") or threshold / value ("max"), in [0, 1]
    passed = score ≥ pass_score and no required indicator failed

What is missing to pass is said in plain words with the subjects behind it:
"3 所学校一键报警和视频监控与公安联网率未达 100%：S0012、S0040、S0101".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from safecampus.pipelines.certification.indicators import Indicator, Scorecard

SHOWN_SUBJECTS = 10  # a sentence names this many subjects, then "等 N 所"


@dataclass
class Facts:
    """What the domains gave for a period, by measure: per school, per district (pooled) and its subjects."""

    districts: dict[str, str]  # district id → name
    schools: dict[str, str]  # school id → district id
    school: dict[str, dict[str, float]] = field(default_factory=dict)  # measure → school → value
    district: dict[str, dict[str, float]] = field(default_factory=dict)  # measure → district → value
    city: dict[str, float] = field(default_factory=dict)  # measure → the city's pooled value
    subjects: dict[str, dict[str, float]] = field(default_factory=dict)  # measure → subject → value
    subject_district: dict[str, str] = field(default_factory=dict)  # institution → district
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Result:
    """One indicator for one school, county or the city."""

    indicator: Indicator
    value: float | None
    threshold: float
    direction: Literal["min", "max"]
    subjects: tuple[str, ...] = ()  # the schools or institutions that fail it
    noun: str = ""  # 所学校, 家托育机构: what the subjects are

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.threshold if self.direction == "min" else self.value <= self.threshold

    @property
    def attainment(self) -> float | None:
        if self.value is None:
            return None
        if self.passed:
            return 1.0
        if self.direction == "min":
            return max(0.0, min(1.0, self.value / self.threshold)) if self.threshold > 0 else 0.0
        return max(0.0, min(1.0, self.threshold / self.value)) if self.value > 0 else 1.0

    def text(self) -> str:
        """What is missing, in plain words (empty when it passes or has no data)."""
        ind = self.indicator
        if self.passed is not False:
            return ""
        if self.subjects and self.noun == "所学校":
            return f"{len(self.subjects)} 所学校{ind.name}{ind.short_of()}：{_listed(self.subjects)}"
        said = f"{ind.name} {ind.shown(self.value)}，{ind.short_of()}"
        if self.subjects:
            said += f"：{len(self.subjects)} {self.noun}未达标 {_listed(self.subjects)}"
        return said

    def as_json(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator.id,
            "name": self.indicator.name,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "weight": self.indicator.weight,
            "subjects": list(self.subjects),
            "text": self.text(),
        }


def _listed(subjects: tuple[str, ...]) -> str:
    shown = "、".join(subjects[:SHOWN_SUBJECTS])
    return shown + (f" 等 {len(subjects)} 个" if len(subjects) > SHOWN_SUBJECTS else "")


@dataclass(frozen=True)
class Standing:
    """A school's, county's or the city's score, pass or fail, and the indicators behind it."""

    level: Literal["school", "district", "city"]
    id: str
    name: str
    results: tuple[Result, ...]
    pass_score: float

    @property
    def score(self) -> float:
        judged = [(r.indicator.weight, r.attainment) for r in self.results if r.attainment is not None]
        total = sum(w for w, _ in judged)
        return round(100 * sum(w * a for w, a in judged) / total, 1) if total else 0.0

    @property
    def passed(self) -> bool:
        failed_required = any(r.passed is False and r.indicator.required for r in self.results)
        has_data = any(r.value is not None for r in self.results)
        return has_data and not failed_required and self.score >= self.pass_score

    @property
    def missing(self) -> list[Result]:
        return [r for r in self.results if r.passed is False]

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "id": self.id,
            "name": self.name,
            "score": self.score,
            "passed": self.passed,
            "missing": [
                {
                    k: v
                    for k, v in r.as_json().items()
                    if k in ("indicator", "name", "value", "threshold", "subjects", "text")
                }
                for r in self.missing
            ],
            "indicators": [r.as_json() for r in self.results],
        }


@dataclass(frozen=True)
class Certification:
    card: Scorecard
    city: Standing
    counties: tuple[Standing, ...]  # ranked by score, best first
    schools: tuple[Standing, ...]
    since: datetime | None = None
    until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "pass_score": self.card.pass_score,
            "city": self.city.as_json(),
            "counties": [c.as_json() for c in self.counties],
            "schools": [s.as_json() for s in self.schools],
        }


def school_standing(card: Scorecard, facts: Facts, school: str) -> Standing:
    results = []
    for ind in card.indicators:
        if ind.level == "school":
            value = facts.school.get(ind.measure, {}).get(school)
            results.append(Result(ind, value, ind.threshold, ind.direction))
    return Standing("school", school, school, tuple(results), card.pass_score)


def area_standing(card: Scorecard, facts: Facts, district: str | None) -> Standing:
    """A county's standing, or the city's (`district` None)."""
    schools = sorted(s for s, d in facts.schools.items() if district is None or d == district)
    results = []
    for ind in card.indicators:
        if ind.level == "school":
            values = facts.school.get(ind.measure, {})
            judged = [s for s in schools if s in values]
            failing = tuple(s for s in judged if not ind.meets(values[s]))
            share = (len(judged) - len(failing)) / len(judged) if judged else None
            results.append(Result(ind, share, ind.county_share, "min", failing, "所学校"))
        else:
            pooled = (
                facts.city.get(ind.measure) if district is None else facts.district.get(ind.measure, {}).get(district)
            )
            subjects = facts.subjects.get(ind.measure, {})
            failing = tuple(sorted(
                s for s, v in subjects.items()
                if (district is None or facts.subject_district.get(s) == district) and not ind.meets(v)
            ))  # fmt: skip
            results.append(Result(ind, pooled, ind.threshold, ind.direction, failing, "家托育机构"))
    name = "全市" if district is None else facts.districts.get(district, district)
    return Standing("city" if district is None else "district", district or "city", name, tuple(results),
                    card.pass_score)  # fmt: skip


def certify(card: Scorecard, facts: Facts, district: str | None = None) -> Certification:
    """Every county (or the one named, by id) ranked by score, its schools, and the city."""
    chosen = [d for d in sorted(facts.districts) if district is None or d == district]
    counties = sorted((area_standing(card, facts, d) for d in chosen), key=lambda s: (-s.score, s.id))
    schools = tuple(school_standing(card, facts, s) for s in sorted(facts.schools) if facts.schools[s] in chosen)
    return Certification(card, area_standing(card, facts, None), tuple(counties), schools, facts.since, facts.until)
