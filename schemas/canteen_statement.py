"""A canteen's monthly statement: income by source, costs by category, surplus, ingredient share, subsidy.

What the school publishes each month (DOMAIN_RULES.md, canteen) and what auditors check. Amounts are
exact yuan (Decimal); rates are shares (0.0312 = 3.12 %). `status` is `draft` until the school
published the month, `published` after, and `reopened` when entries for the month were recorded
after it was published (`late_entries` names them; the statement then needs publishing again).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from safecampus.schemas.common import Record

StatementStatus = Literal["draft", "published", "reopened"]


class MonthlyStatement(Record):
    canteen_id: str
    school_id: str | None = None
    district: str | None = None
    kind: str = Field("canteen", description="canteen, or central_kitchen (its costs go to the canteens it serves)")
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    income_cny: Decimal
    income_by_source: dict[str, Decimal]
    cost_cny: Decimal
    cost_by_category: dict[str, Decimal]
    kitchen_id: str | None = Field(None, description="the central kitchen whose costs are allocated here")
    kitchen_cost_cny: Decimal = Field(Decimal("0.00"), description="central-kitchen costs allocated to this canteen")
    allocated_out_cny: Decimal = Field(Decimal("0.00"), description="a kitchen's costs allocated to its canteens")
    surplus_cny: Decimal
    surplus_rate: Decimal | None = Field(description="surplus / income; None without income")
    meal_fee_cny: Decimal
    ingredients_cny: Decimal
    ingredient_share: Decimal | None = Field(description="ingredients / meal-fee income; None without meal fees")
    carried_surplus_cny: Decimal = Field(description="surplus carried forward: every month so far, this one included")
    meals_served: int = 0
    subsidy_granted_cny: Decimal
    subsidy_received_cny: Decimal
    entries: int
    status: StatementStatus = "draft"
    published_at: datetime | None = None
    late_entries: list[str] = Field(default_factory=list)
