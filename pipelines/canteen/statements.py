"""Monthly statements per canteen: income by source, costs by category, surplus and its rate, the share
of meal-fee income spent on ingredients, the surplus carried forward, and the fiscal subsidy.

Central kitchens (registry `kind = central_kitchen`) cook for the canteens that name them in
`kitchen_id`; each month a kitchen's costs are allocated to those canteens by meals served (the
quantity of their meal-fee lines), by meal-fee income when no meals are recorded, else equally,
category by category, to the fen (the last canteen takes the rounding remainder, so the parts add
up to the kitchen's costs exactly).

A statement is `published` once the school's disclosure for the month is on record; entries
recorded after that reopen it (`reopened`, with the entries named).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen.book import CanteenBook
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_statement import MonthlyStatement

FEN = Decimal("0.01")
RATE = Decimal("0.0001")
ZERO = Decimal("0.00")


def _sum(entries: list[CanteenLedgerEntry], direction: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        if e.direction == direction:
            totals[e.category] += e.amount_cny
    return dict(sorted(totals.items()))


def _meals(entries: list[CanteenLedgerEntry]) -> int:
    return int(sum((e.quantity or 0) for e in entries if e.category == "meal_fee"))


def _shares(weights: dict[str, Decimal]) -> dict[str, Decimal]:
    total = sum(weights.values())
    if total <= 0:
        return {k: Decimal(1) / len(weights) for k in weights}
    return {k: w / total for k, w in weights.items()}


def allocate(costs: dict[str, Decimal], shares: dict[str, Decimal]) -> dict[str, dict[str, Decimal]]:
    """Each category's cost split by `shares`, to the fen; the last share takes the remainder."""
    out: dict[str, dict[str, Decimal]] = {k: {} for k in shares}
    names = sorted(shares)
    for category, amount in costs.items():
        given = ZERO
        for name in names[:-1]:
            part = (amount * shares[name]).quantize(FEN, ROUND_HALF_UP)
            out[name][category] = part
            given += part
        out[names[-1]][category] = amount - given
    return out


def _rate(part: Decimal, whole: Decimal) -> Decimal | None:
    return (part / whole).quantize(RATE, ROUND_HALF_UP) if whole > 0 else None


def build_statements(book: CanteenBook, registry: RegistryView) -> list[MonthlyStatement]:
    """Every canteen's statement for every month it has ledger lines (a kitchen's canteens too)."""
    grouped = book.by_canteen_month()
    served: dict[str, list[str]] = defaultdict(list)
    for canteen in registry.canteens.values():
        if canteen.kitchen_id:
            served[canteen.kitchen_id].append(canteen.canteen_id)
    allocated: dict[tuple[str, str], dict[str, Decimal]] = {}
    allocated_out: dict[tuple[str, str], Decimal] = {}
    for (kitchen, month), entries in grouped.items():
        satellites = sorted(served.get(kitchen, []))
        if not satellites:
            continue
        meals = {c: Decimal(_meals(grouped.get((c, month), []))) for c in satellites}
        if not any(meals.values()):
            meals = {c: _sum(grouped.get((c, month), []), "income").get("meal_fee", ZERO) for c in satellites}
        costs = _sum(entries, "expense")
        for satellite, parts in allocate(costs, _shares(meals)).items():
            allocated[(satellite, month)] = parts
        allocated_out[(kitchen, month)] = sum(costs.values(), ZERO)
    keys = sorted(set(grouped) | set(allocated))
    statements: list[MonthlyStatement] = []
    carried: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for canteen_id, month in keys:
        entries = grouped.get((canteen_id, month), [])
        statements.append(_statement(book, registry, canteen_id, month, entries, allocated, allocated_out, carried))
    return statements


def _statement(
    book: CanteenBook,
    registry: RegistryView,
    canteen_id: str,
    month: str,
    entries: list[CanteenLedgerEntry],
    allocated: dict[tuple[str, str], dict[str, Decimal]],
    allocated_out: dict[tuple[str, str], Decimal],
    carried: dict[str, Decimal],
) -> MonthlyStatement:
    canteen = registry.canteens.get(canteen_id)
    income = _sum(entries, "income")
    costs = _sum(entries, "expense")
    kitchen_parts = allocated.get((canteen_id, month), {})
    out = allocated_out.get((canteen_id, month), ZERO)
    if out:  # a kitchen's costs are its canteens' costs now: what stays is its own income against nothing
        costs = {}
    for category, part in kitchen_parts.items():
        costs[category] = costs.get(category, ZERO) + part
    costs = dict(sorted(costs.items()))
    income_total, cost_total = sum(income.values(), ZERO), sum(costs.values(), ZERO)
    surplus = income_total - cost_total
    carried[canteen_id] += surplus
    meal_fee, ingredients = income.get("meal_fee", ZERO), costs.get("ingredients", ZERO)
    disclosure = book.disclosures.get((canteen_id, month))
    late = sorted(e.entry_id for e in entries if disclosure is not None and e.recorded_at > disclosure.published_at)
    status = "draft" if disclosure is None else ("reopened" if late else "published")
    school = canteen.school_id if canteen else (entries[0].school_id if entries else None)
    return MonthlyStatement(
        canteen_id=canteen_id,
        school_id=school,
        district=registry.district_of_school(school),
        kind=canteen.kind if canteen else "canteen",
        month=month,
        income_cny=income_total,
        income_by_source=income,
        cost_cny=cost_total,
        cost_by_category=costs,
        kitchen_id=canteen.kitchen_id if canteen else None,
        kitchen_cost_cny=sum(kitchen_parts.values(), ZERO),
        allocated_out_cny=out,
        surplus_cny=surplus,
        surplus_rate=_rate(surplus, income_total),
        meal_fee_cny=meal_fee,
        ingredients_cny=ingredients,
        ingredient_share=_rate(ingredients, meal_fee),
        carried_surplus_cny=carried[canteen_id],
        meals_served=_meals(entries),
        subsidy_granted_cny=Decimal(str(canteen.granted_subsidy_cny)).quantize(FEN) if canteen else ZERO,
        subsidy_received_cny=income.get("fiscal_subsidy", ZERO),
        entries=len(entries),
        status=status,  # type: ignore[arg-type]
        published_at=disclosure.published_at if disclosure else None,
        late_entries=late,
    )
