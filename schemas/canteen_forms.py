"""A canteen's other records beside its ledger: satisfaction surveys, its ratings of suppliers, disclosures.

The MOE 2024 guideline asks for a satisfaction survey each semester (parents and students) and a
two-way evaluation of suppliers; schools publish the canteen's accounts monthly. None of these
carries a person's name: a survey is a score and a count of answers, a rating a score per supplier.

Semesters are written as the school year and term: `2026-2027-1` (September to January),
`2026-2027-2` (February to August).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import Field

from safecampus.schemas.common import SHANGHAI, PlausibleDate, PlausibleTime, Record

# 类别 as a school's ledger names it → our category code.
CATEGORY_NAMES: dict[str, str] = {
    "伙食费": "meal_fee",
    "财政补助": "fiscal_subsidy",
    "其他收入": "other_income",
    "食材": "ingredients",
    "人工": "staff_wages",
    "水电燃气": "utilities",
    "设备": "equipment",
    "职工餐费": "staff_meals",
    "招待费": "hospitality",
    "奖金": "bonus",
    "其他支出": "other_expense",
}
CATEGORY_TITLES: dict[str, str] = {code: name for name, code in CATEGORY_NAMES.items()}
INCOME_CATEGORIES = frozenset({"meal_fee", "fiscal_subsidy", "other_income"})

_SEMESTER = re.compile(r"^(\d{4})\s*[-—/]\s*(\d{4})\s*(?:学年)?\s*[-—/第]?\s*([12一二])\s*(?:学期)?$")
_SEASON = re.compile(r"^(\d{4})\s*(?:年)?\s*(秋|春|autumn|fall|spring)(?:季)?(?:学期)?$", re.IGNORECASE)


def parse_semester(text: str) -> str:
    """`2026-2027-1`, `2026-2027学年第一学期`, `2026秋`, `2027 spring` → '2026-2027-1' / '2026-2027-2'."""
    folded = unicodedata.normalize("NFKC", text).strip()
    match = _SEMESTER.match(folded)
    if match and int(match[2]) == int(match[1]) + 1:
        return f"{match[1]}-{match[2]}-{'1' if match[3] in ('1', '一') else '2'}"
    season = _SEASON.match(folded)
    if season:
        year = int(season[1])
        if season[2].lower() in ("秋", "autumn", "fall"):
            return f"{year}-{year + 1}-1"
        return f"{year - 1}-{year}-2"
    raise ValueError(f"学期「{text}」应写作 2026-2027-1 或 2026秋 semester must look like 2026-2027-1")


def semester_of(day: date) -> str:
    """The semester a day falls in: September–January is term 1, February–August term 2."""
    if day.month >= 9:
        return f"{day.year}-{day.year + 1}-1"
    if day.month == 1:
        return f"{day.year - 1}-{day.year}-1"
    return f"{day.year - 1}-{day.year}-2"


def semester_end(semester: str) -> datetime:
    """The last second of a semester, local time (term 1 ends 31 January, term 2 on 31 August)."""
    first, _, term = semester.split("-")
    month = 2 if term == "1" else 9
    return datetime(int(first) + 1, month, 1, tzinfo=SHANGHAI) - timedelta(seconds=1)


def semester_title(semester: str) -> str:
    first, second, term = semester.split("-")
    return f"{first}—{second}学年第{'一' if term == '1' else '二'}学期"


class CanteenSurvey(Record):
    """One semester's satisfaction survey of a canteen, by parents or by students."""

    kind: Literal["survey"] = "survey"
    survey_id: str = Field(min_length=1, max_length=64)
    canteen_id: str = Field(min_length=1, max_length=32)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    semester: str = Field(pattern=r"^\d{4}-\d{4}-[12]$")
    respondents: Literal["parents", "students"]
    responses: int | None = Field(default=None, ge=0, le=100_000, description="answers received")
    satisfaction: Decimal = Field(ge=0, le=100, decimal_places=1, description="share satisfied, 0–100")
    surveyed_on: PlausibleDate
    recorded_at: PlausibleTime


class SupplierRating(Record):
    """The canteen's rating of one supplier for a semester (the plan's two-way evaluation)."""

    kind: Literal["supplier_rating"] = "supplier_rating"
    canteen_id: str = Field(min_length=1, max_length=32)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    supplier_id: str = Field(min_length=1, max_length=32)
    semester: str = Field(pattern=r"^\d{4}-\d{4}-[12]$")
    score: Decimal = Field(ge=0, le=100, decimal_places=1)
    rated_on: PlausibleDate
    recorded_at: PlausibleTime


class CanteenDisclosure(Record):
    """A month's accounts published by the school (notice board, parents' group, website)."""

    kind: Literal["disclosure"] = "disclosure"
    canteen_id: str = Field(min_length=1, max_length=32)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    published_at: PlausibleTime
    channel: str | None = Field(default=None, max_length=40)
