"""A school day of canteen ledgers: meal fees, purchases, the monthly subsidy, and red flags."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date

from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local

ITEMS = (("大米", 4.2), ("猪肉", 28.0), ("青菜", 5.5), ("鸡蛋", 9.8), ("食用油", 16.0), ("牛奶", 3.6))


class _Ledger:
    """Numbers one canteen's entries of one day and wraps them as raw envelopes."""

    def __init__(self, canteen_id: str, day: date) -> None:
        self.canteen_id, self.day, self.seq = canteen_id, day, 0

    def entry(self, category: str, direction: str, amount: float, at_s: float, **extra: object) -> RawEnvelope:
        self.seq += 1
        at = local(self.day, at_s)
        body = {
            "entry_id": f"{self.canteen_id}-{self.day:%Y%m%d}-{self.seq:03d}",
            "canteen_id": self.canteen_id,
            "booked_on": self.day.isoformat(),
            "direction": direction,
            "category": category,
            "amount_cny": f"{amount:.2f}",
            "recorded_at": at.isoformat(),
            **extra,
        }
        return RawEnvelope(
            domain="canteen",
            source="ledger-json",
            payload=json.dumps(body, ensure_ascii=False),
            received_at=at,
            gateway="ledger-import",
            key=self.canteen_id,
        )


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    for n, canteen in enumerate(city.canteens):
        school = next(s for s in city.schools if s.school_id == canteen.school_id)
        entry = _Ledger(canteen.canteen_id, day).entry
        if day.day == 1:
            yield entry("fiscal_subsidy", "income", canteen.granted_subsidy_cny * (0.8 if n == 7 else 1.0), 9 * 3600)
            if n == 7:
                truth.add("canteen", "subsidy_short", canteen.canteen_id, local(day, 9 * 3600))
        diners = int(school.enrolment * rng.uniform(0.5, 0.8))
        yield entry("meal_fee", "income", diners * 6.0, 17 * 3600)
        for k, (item, price) in enumerate(rng.sample(ITEMS, 4)):
            qty = rng.randint(20, 200)
            unit = price * (3.0 if (n % 37 == 11 and k == 0) else rng.uniform(0.9, 1.1))
            invoice = f"INV{canteen.canteen_id}{day:%m%d}{k}"
            checkers = 1 if (n % 31 == 13 and k == 1) else 2
            yield entry(
                "ingredients",
                "expense",
                qty * unit,
                6 * 3600 + k * 600,
                supplier_id=f"SUP{(n + k) % 25:02d}",
                invoice_no=invoice,
                item=item,
                quantity=str(qty),
                unit_price_cny=f"{unit:.2f}",
                accepted_by_count=checkers,
            )
            if n % 37 == 11 and k == 0:
                truth.add("canteen", "price_outlier", canteen.canteen_id, local(day, 6 * 3600))
            if checkers < 2:
                truth.add("canteen", "single_person_acceptance", canteen.canteen_id, local(day, 6 * 3600 + k * 600))
            if n % 43 == 21 and k == 2:  # the same invoice booked twice
                yield entry(
                    "ingredients",
                    "expense",
                    qty * unit,
                    6 * 3600 + k * 600 + 60,
                    supplier_id=f"SUP{(n + k) % 25:02d}",
                    invoice_no=invoice,
                    item=item,
                    quantity=str(qty),
                    unit_price_cny=f"{unit:.2f}",
                    accepted_by_count=2,
                )
                truth.add("canteen", "duplicate_invoice", canteen.canteen_id, local(day, 6 * 3600 + k * 600 + 60))
        for flag, every in (("staff_meals", 47), ("hospitality", 53), ("bonus", 71)):
            if n % every == 3:
                yield entry(flag, "expense", rng.uniform(300, 3000), 15 * 3600)
                truth.add("canteen", f"red_flag_{flag}", canteen.canteen_id, local(day, 15 * 3600))
