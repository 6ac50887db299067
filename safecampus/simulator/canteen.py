"""Canteen ledgers day by day: meal fees (with meals served), purchases, wages, utilities, the monthly subsidy,
central kitchens cooking for their canteens, disclosures, surveys and supplier ratings, and the injected
problems, each written to the ground truth on the canteen and at the time the audit should find it.

A canteen spends about 65 % of its meal fees on ingredients, 25 % on staff and 8 % on utilities, and its
subsidy on equipment, so its surplus rate stays near 2 %. Canteen `n` (its position in the registry):

| problem (ground truth kind) | canteens |
|---|---|
| subsidy short (80 %) / missing | n = 7 / n = 8 |
| price outlier (3× the price) | n % 37 = 11 |
| single-person acceptance | n % 31 = 13 |
| duplicate invoice | n % 43 = 21 |
| staff meals, hospitality, bonus | n % 47, 53, 71 = 3 |
| surplus rate (ingredients at 40 %) | n % 59 = 17 |
| one supplier for everything | n % 67 = 29 |
| disclosure missing / late (on the 20th) | n % 41 = 5 / n % 41 = 6 |
| late entry after publication (statement reopened) | n % 53 = 9 |
| no satisfaction survey in the semester | n % 61 = 7 |
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from datetime import date, timedelta

from safecampus.schemas.canteen_forms import semester_end, semester_of
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import Canteen
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local

ITEMS: tuple[tuple[str, str, float], ...] = (
    ("大米", "公斤", 4.2),
    ("猪肉", "公斤", 28.0),
    ("青菜", "公斤", 5.5),
    ("鸡蛋", "公斤", 9.8),
    ("食用油", "升", 16.0),
    ("牛奶", "盒", 3.6),
)
MEAL_PRICE = 6.0
PUBLISH_DAY, LATE_PUBLISH_DAY, LATE_ENTRY_DAY = 10, 20, 12


def _envelope(source: str, body: Mapping[str, object], at_s: float, day: date, key: str) -> RawEnvelope:
    at = local(day, at_s)
    return RawEnvelope(
        domain="canteen",
        source=source,  # type: ignore[arg-type]
        payload=json.dumps(body, ensure_ascii=False),
        received_at=at,
        gateway="ledger-import",
        key=key,
    )


class _Ledger:
    """Numbers one canteen's entries of one day and wraps them as raw envelopes."""

    def __init__(self, canteen_id: str, day: date) -> None:
        self.canteen_id, self.day, self.seq = canteen_id, day, 0

    def entry(
        self, category: str, direction: str, amount: float, at_s: float, booked: date | None = None, **extra: object
    ) -> RawEnvelope:
        self.seq += 1
        body = {
            "entry_id": f"{self.canteen_id}-{self.day:%Y%m%d}-{self.seq:03d}",
            "canteen_id": self.canteen_id,
            "booked_on": (booked or self.day).isoformat(),
            "direction": direction,
            "category": category,
            "amount_cny": f"{amount:.2f}",
            "recorded_at": local(self.day, at_s).isoformat(),
            **extra,
        }
        return _envelope("ledger-json", body, at_s, self.day, self.canteen_id)


def _previous_month(day: date) -> str:
    return f"{day.replace(day=1) - timedelta(days=1):%Y-%m}"


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    schools = {s.school_id: s for s in city.schools}
    canteens = [c for c in city.canteens if c.kind == "canteen"]
    diners: dict[str, int] = {}
    truth.days.add(("canteen", day))
    covered = ("canteen", day.replace(day=1) - timedelta(days=1)) in truth.days  # last month was simulated
    for n, canteen in enumerate(canteens):
        diners[canteen.canteen_id] = int(schools[canteen.school_id].enrolment * rng.uniform(0.5, 0.8))
        yield from _canteen_day(canteen, n, day, diners[canteen.canteen_id], rng, truth, covered)
        yield from _calendar(canteen, n, day, truth, covered)
    for k, kitchen in enumerate(c for c in city.canteens if c.kind == "central_kitchen"):
        served = sum(diners[c.canteen_id] for c in canteens if c.kitchen_id == kitchen.canteen_id)
        yield from _purchases(kitchen, 200 + k, day, served * MEAL_PRICE * 0.65, rng, truth, checkers_ok=True)
        ledger = _Ledger(kitchen.canteen_id, day)
        ledger.seq = 50
        yield ledger.entry("staff_wages", "expense", served * MEAL_PRICE * 0.25, 16 * 3600)
        yield from _calendar(kitchen, 200 + k, day, truth, covered)


def _canteen_day(
    canteen: Canteen, n: int, day: date, diners: int, rng: random.Random, truth: GroundTruth, covered: bool
) -> Iterator[RawEnvelope]:
    cid = canteen.canteen_id
    entry = _Ledger(cid, day).entry
    fees = diners * MEAL_PRICE
    if day.day == 1:
        granted = canteen.granted_subsidy_cny
        if n != 8:
            yield entry("fiscal_subsidy", "income", granted * (0.8 if n == 7 else 1.0), 9 * 3600)
        yield entry("equipment", "expense", granted * rng.uniform(0.93, 0.99), 9 * 3600 + 60)
        month_over = local(day, 0)  # last month is over: its month-level problems are due now
        if covered and n in (7, 8):
            truth.add("canteen", "subsidy_short" if n == 7 else "subsidy_missing", cid, month_over)
        if covered and n % 59 == 17:
            truth.add("canteen", "surplus_rate", cid, month_over)
        if covered and n % 67 == 29 and canteen.kitchen_id is None:
            truth.add("canteen", "supplier_concentration", cid, month_over)
    yield entry("meal_fee", "income", fees, 17 * 3600, quantity=str(diners), unit="份", unit_price_cny="6.00")
    if canteen.kitchen_id is None:
        share = 0.40 if n % 59 == 17 else 0.65
        yield from _purchases(canteen, n, day, fees * share, rng, truth, checkers_ok=False, entry=entry)
        yield entry("staff_wages", "expense", fees * 0.25, 16 * 3600)
    yield entry("utilities", "expense", fees * 0.08, 16 * 3600 + 60)
    for flag, every in (("staff_meals", 47), ("hospitality", 53), ("bonus", 71)):
        if n % every == 3:
            yield entry(flag, "expense", rng.uniform(300, 3000), 15 * 3600)
            truth.add("canteen", f"red_flag_{flag}", cid, local(day, 15 * 3600))


def _purchases(
    canteen: Canteen,
    n: int,
    day: date,
    budget: float,
    rng: random.Random,
    truth: GroundTruth,
    checkers_ok: bool,
    entry: object = None,
) -> Iterator[RawEnvelope]:
    cid = canteen.canteen_id
    book = entry or _Ledger(cid, day).entry
    one_supplier = n % 67 == 29
    for k, (item, unit, price) in enumerate(rng.sample(ITEMS, 4)):
        outlier = n % 37 == 11 and k == 0
        unit_price = round(price * (3.0 if outlier else rng.uniform(0.9, 1.1)), 2)
        qty = max(1, round(budget / 4 / (price * (3.0 if outlier else 1.0))))
        invoice = f"INV{cid}{day:%m%d}{k}"
        checkers = 1 if (not checkers_ok and n % 31 == 13 and k == 1) else 2
        supplier = f"SUP{n % 25:02d}" if one_supplier else f"SUP{(n + k) % 25:02d}"
        fields = dict(
            supplier_id=supplier, invoice_no=invoice, item=item, unit=unit, quantity=str(qty),
            unit_price_cny=f"{unit_price:.2f}", accepted_by_count=checkers,
        )  # fmt: skip
        at_s = 6 * 3600 + k * 600
        yield book("ingredients", "expense", qty * unit_price, at_s, **fields)  # type: ignore[operator]
        if outlier:
            truth.add("canteen", "price_outlier", cid, local(day, at_s))
        if checkers < 2:
            truth.add("canteen", "single_person_acceptance", cid, local(day, at_s))
        if n % 43 == 21 and k == 2:  # the same invoice booked twice
            yield book("ingredients", "expense", qty * unit_price, at_s + 60, **{**fields, "accepted_by_count": 2})  # type: ignore[operator]
            truth.add("canteen", "duplicate_invoice", cid, local(day, at_s + 60))


def _calendar(canteen: Canteen, n: int, day: date, truth: GroundTruth, covered: bool) -> Iterator[RawEnvelope]:
    """Disclosures of last month, a late entry after one, surveys and supplier ratings."""
    cid = canteen.canteen_id
    month = _previous_month(day)
    publish_on = LATE_PUBLISH_DAY if n % 41 == 6 else PUBLISH_DAY
    if day.day == publish_on and n % 41 != 5 and covered:
        published = local(day, 10 * 3600).isoformat()
        body = {"canteen_id": cid, "month": month, "published_at": published, "channel": "校园公示栏"}
        yield _envelope("canteen-disclosure-json", body, 10 * 3600, day, cid)
        if n % 41 == 6:
            truth.add("canteen", "disclosure_late", cid, local(day, 10 * 3600))
    if day.day == 16 and n % 41 == 5 and covered:
        truth.add("canteen", "disclosure_missing", cid, local(day, 0))
    if day.day == LATE_ENTRY_DAY and n % 53 == 9 and covered:
        late = _Ledger(cid, day)
        late.seq = 90
        booked = day.replace(day=1) - timedelta(days=1)
        yield late.entry("utilities", "expense", 420.0, 11 * 3600, booked=booked)
        truth.add("canteen", "statement_reopened", cid, local(day, 11 * 3600))
    if day.month in (11, 5) and day.day == 20 and canteen.kind == "canteen" and n % 61 != 7:
        semester = semester_of(day)
        for who, score in (("parents", 88.0 + n % 9), ("students", 84.0 + n % 11)):
            survey: dict[str, object] = {
                "survey_id": f"{cid}-{semester}-{who}", "canteen_id": cid, "semester": semester,
                "respondents": who, "responses": 120 + n, "satisfaction": f"{score:.1f}",
                "surveyed_on": day.isoformat(), "recorded_at": local(day, 18 * 3600).isoformat(),
            }  # fmt: skip
            yield _envelope("canteen-survey-json", survey, 18 * 3600, day, cid)
        for k in range(2):
            body = {
                "canteen_id": cid, "supplier_id": f"SUP{(n + k) % 25:02d}", "semester": semester,
                "score": f"{80 + (n + k) % 17:.1f}", "rated_on": day.isoformat(),
                "recorded_at": local(day, 18 * 3600 + 60).isoformat(),
            }  # fmt: skip
            yield _envelope("supplier-rating-json", body, 18 * 3600 + 60, day, cid)
    ended = semester_of(day - timedelta(days=1))
    if ended != semester_of(day) and n % 61 == 7 and canteen.kind == "canteen" and covered:
        truth.add("canteen", "survey_missing", cid, semester_end(ended))
