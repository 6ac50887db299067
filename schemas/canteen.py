"""Normalized canteen ledger entries: a school canteen's sub-ledger of income and costs.

Amounts are yuan with fen precision (Decimal, never float). No personal names: wages are
booked by category, never by person.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from safecampus.schemas.common import PlausibleDate, PlausibleTime, Record, at_most_places

LedgerDirection = Literal["income", "expense"]
LedgerCategory = Literal[
    "meal_fee",  # income: students' meal fees
    "fiscal_subsidy",  # income: the city's fixed subsidy per canteen
    "other_income",
    "ingredients",  # expense: food purchases
    "staff_wages",  # expense: canteen staff, as a total
    "utilities",
    "equipment",
    "staff_meals",  # red flag: staff meals charged to the canteen
    "hospitality",  # red flag
    "bonus",  # red flag
    "other_expense",
]


class CanteenLedgerEntry(Record):
    """One booked line of a canteen's ledger; `source_file` and `source_row` say where an imported line was."""

    kind: Literal["ledger"] = "ledger"
    entry_id: str = Field(min_length=1, max_length=64, description="voucher number, unique per canteen")
    canteen_id: str = Field(min_length=1, max_length=32)
    school_id: str | None = Field(default=None, max_length=64)
    district: str | None = Field(default=None, max_length=64)
    booked_on: PlausibleDate
    direction: LedgerDirection
    category: LedgerCategory
    amount_cny: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2), at_most_places(2)]
    supplier_id: str | None = Field(default=None, max_length=32)
    unit: str | None = Field(default=None, max_length=8, description="unit of quantity, e.g. 公斤; for meal fees 份")
    source_file: str | None = Field(default=None, max_length=80)
    source_row: int | None = Field(default=None, ge=1)
    invoice_no: str | None = Field(default=None, max_length=40)
    item: str | None = Field(default=None, max_length=40, description="purchased item, e.g. 大米")
    # Bounded so that an exponent like 1e999999999 is refused, not carried into sums.
    quantity: Annotated[Decimal, Field(gt=0, lt=10**9), at_most_places(3)] | None = None
    unit_price_cny: Annotated[Decimal, Field(gt=0, lt=10**9), at_most_places(4)] | None = None
    accepted_by_count: int | None = Field(default=None, ge=0, le=100, description="people who checked the delivery")
    recorded_at: PlausibleTime
