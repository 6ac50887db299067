"""Monthly statements and the ledger-wide checks: each check with a case that fires and one that does not,
a late entry reopening a published month, and a central kitchen's costs allocated by meals served."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from safecampus.config import CanteenRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen.audit import Audit, run_audit
from safecampus.pipelines.canteen.book import CanteenBook
from safecampus.pipelines.canteen.pipeline import CanteenRecord
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_forms import CanteenDisclosure, CanteenSurvey
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.registry import Canteen, District, School

RULES = CanteenRules()
_ids = count(1)


def registry(*canteens: Canteen) -> RegistryView:
    schools = [
        School(
            school_id=f"S{i}",
            name=f"学校{i}",
            district_id="wujin",
            stage="primary",
            enrolment=500,
            boarding=False,
            lat=31.7,
            lon=119.9,
        )
        for i in range(6)
    ]
    return RegistryView.of_rows([District(district_id="wujin", name="武进区"), *schools, *canteens])


def canteen(cid: str, school: int = 0, subsidy: float = 0.0, **extra: object) -> Canteen:
    return Canteen(canteen_id=cid, school_id=f"S{school}", granted_subsidy_cny=subsidy, **extra)  # type: ignore[arg-type]


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def line(
    cid: str, day: date, category: str, amount: str, recorded: datetime | None = None, **extra: object
) -> CanteenLedgerEntry:
    direction = "income" if category in ("meal_fee", "fiscal_subsidy", "other_income") else "expense"
    return CanteenLedgerEntry(
        entry_id=f"E{next(_ids)}",
        canteen_id=cid,
        booked_on=day,
        direction=direction,
        category=category,
        amount_cny=Decimal(amount),
        recorded_at=recorded or at(day),
        **extra,
    )  # type: ignore[arg-type]


def tick(day: date, cid: str = "TICK") -> CanteenLedgerEntry:
    """A line of another canteen that moves event time to `day`."""
    return line(cid, day, "utilities", "1.00")


def audit(records: list[CanteenRecord], view: RegistryView, rules: CanteenRules = RULES) -> Audit:
    return run_audit(CanteenBook.of(records), view, rules)


def rules_of(result: Audit, canteen_id: str) -> list[str]:
    return sorted(a.rule for a in result.red_flags(canteen_id))


SEP1, SEP30, OCT1 = date(2026, 9, 1), date(2026, 9, 30), date(2026, 10, 1)


def balanced_month(cid: str, fee: str = "10000.00", ingredients: str = "6500.00", other: str = "3300.00") -> list:
    return [
        line(cid, SEP1, "meal_fee", fee, quantity=Decimal(1000), unit="份"),
        line(cid, SEP1, "ingredients", ingredients),
        line(cid, SEP30, "staff_wages", other),
    ]


def test_a_statement_sums_income_and_costs_and_carries_the_surplus() -> None:
    view = registry(canteen("C1", subsidy=3000))
    records = [
        *balanced_month("C1"),
        line("C1", SEP1, "fiscal_subsidy", "3000.00"),
        line("C1", OCT1, "meal_fee", "500.00"),
        line("C1", OCT1, "utilities", "600.00"),
    ]
    sep, oct_ = audit(records, view).statements
    assert (sep.month, sep.income_cny, sep.cost_cny, sep.surplus_cny) == (
        "2026-09",
        Decimal("13000.00"),
        Decimal("9800.00"),
        Decimal("3200.00"),
    )
    assert sep.income_by_source == {"fiscal_subsidy": Decimal("3000.00"), "meal_fee": Decimal("10000.00")}
    assert sep.surplus_rate == Decimal("0.2462") and sep.ingredient_share == Decimal("0.6500")
    assert sep.meals_served == 1000 and sep.subsidy_received_cny == sep.subsidy_granted_cny == Decimal("3000.00")
    assert oct_.surplus_cny == Decimal("-100.00") and oct_.carried_surplus_cny == Decimal("3100.00")


def test_surplus_rate_above_the_threshold_after_the_month_is_a_warning() -> None:
    view = registry(canteen("C1"), canteen("C2", 1))
    over = audit([*balanced_month("C1", ingredients="4000.00"), *balanced_month("C2"), tick(OCT1)], view)
    (flag,) = [a for a in over.alerts if a.rule == "canteen.surplus_rate"]
    assert flag.subject == "C1" and flag.evidence[0]["surplus_rate"] == "0.2700" and len(flag.evidence) == 4
    not_yet = audit([*balanced_month("C1", ingredients="4000.00")], view)  # September is not over
    assert "canteen.surplus_rate" not in rules_of(not_yet, "C1")


@pytest.mark.parametrize(
    ("received", "rule"),
    [
        (None, "canteen.subsidy_missing"),
        ("2400.00", "canteen.subsidy_short"),
        ("3600.00", "canteen.subsidy_excess"),
        ("3000.00", None),
    ],
)
def test_subsidy_received_against_granted(received: str | None, rule: str | None) -> None:
    view = registry(canteen("C1", subsidy=3000))
    records = balanced_month("C1") + ([line("C1", SEP1, "fiscal_subsidy", received)] if received else [])
    found = [a for a in audit([*records, tick(OCT1)], view).alerts if a.rule.startswith("canteen.subsidy")]
    assert [a.rule for a in found] == ([rule] if rule else [])
    if rule:
        assert found[0].evidence[0]["month"] == "2026-09"


def test_duplicate_invoices_across_canteens_and_months() -> None:
    view = registry(canteen("C1"), canteen("C2", 1))
    first = line("C1", SEP1, "ingredients", "100.00", supplier_id="SUP1", invoice_no="INV9")
    again = line("C2", OCT1, "ingredients", "100.00", supplier_id="SUP1", invoice_no="INV9")
    other = line("C2", OCT1, "ingredients", "100.00", supplier_id="SUP2", invoice_no="INV9")  # another supplier's
    (flag,) = [a for a in audit([first, again, other], view).alerts if a.rule == "canteen.duplicate_invoice"]
    assert flag.subject == "C2" and {e["event_id"] for e in flag.evidence} == {
        f"C1/{first.entry_id}",
        f"C2/{again.entry_id}",
    }


def _rice(cid: str, price: str) -> CanteenLedgerEntry:
    return line(
        cid,
        SEP1,
        "ingredients",
        "400.00",
        item="大米",
        unit="公斤",
        unit_price_cny=Decimal(price),
        quantity=Decimal(100),
        supplier_id="SUP1",
    )


def test_a_price_far_above_the_city_median_is_flagged() -> None:
    view = registry(*(canteen(f"C{i}", i) for i in range(4)))
    result = audit([_rice("C0", "4.00"), _rice("C1", "4.20"), _rice("C2", "4.10"), _rice("C3", "9.00")], view)
    (flag,) = [a for a in result.alerts if a.rule == "canteen.price_outlier"]
    assert flag.subject == "C3" and flag.evidence[0]["median_cny"] == "4.15"
    few = audit([_rice("C0", "4.00"), _rice("C3", "9.00")], view)  # two canteens make no city median
    assert not [a for a in few.alerts if a.rule == "canteen.price_outlier"]


def test_one_supplier_taking_most_of_the_ingredient_spend() -> None:
    view = registry(canteen("C1"), canteen("C2", 1))
    one = [
        line("C1", SEP1, "ingredients", "800.00", supplier_id="SUP1"),
        line("C1", SEP1, "ingredients", "200.00", supplier_id="SUP2"),
    ]
    spread = [
        line("C2", SEP1, "ingredients", "600.00", supplier_id="SUP1"),
        line("C2", SEP1, "ingredients", "400.00", supplier_id="SUP2"),
    ]
    result = audit([*one, *spread, tick(OCT1)], view)
    (flag,) = [a for a in result.alerts if a.rule == "canteen.supplier_concentration"]
    assert flag.subject == "C1" and flag.evidence[0]["share"] == "0.8000"


def test_per_line_red_flags_are_gathered_with_the_audit() -> None:
    view = registry(canteen("C1"))
    result = audit(
        [
            line("C1", SEP1, "hospitality", "880.00"),
            line("C1", SEP1, "ingredients", "10.00", accepted_by_count=1),
            line("C1", SEP1, "ingredients", "10.00", accepted_by_count=2),
        ],
        view,
    )
    assert rules_of(result, "C1") == ["canteen.red_flag.hospitality", "canteen.single_person_acceptance"]


def _published(cid: str, month: str, when: datetime) -> CanteenDisclosure:
    return CanteenDisclosure(canteen_id=cid, month=month, published_at=when)


@pytest.mark.parametrize(
    ("published", "clock", "rule"),
    [
        (None, date(2026, 10, 16), "canteen.disclosure_missing"),
        (None, date(2026, 10, 15), None),
        (date(2026, 10, 20), date(2026, 10, 20), "canteen.disclosure_late"),
        (date(2026, 10, 15), date(2026, 10, 20), None),
    ],
)
def test_disclosure_by_the_15th_of_the_next_month_on_event_time(
    published: date | None, clock: date, rule: str | None
) -> None:
    view = registry(canteen("C1"))
    records: list = [*balanced_month("C1"), tick(clock)]
    if published:
        records.append(_published("C1", "2026-09", at(published, 22)))
    found = [a.rule for a in audit(records, view).alerts if a.rule.startswith("canteen.disclosure")]
    assert found == ([rule] if rule else [])


def test_a_late_entry_reopens_a_published_month_and_says_so() -> None:
    view = registry(canteen("C1"))
    records: list = [*balanced_month("C1"), _published("C1", "2026-09", at(date(2026, 10, 10), 10))]
    assert audit(records, view).statements[0].status == "published"
    late = line("C1", SEP30, "utilities", "420.00", recorded=at(date(2026, 10, 12)))
    result = audit([*records, late], view)
    sep = result.statements[0]
    assert sep.status == "reopened" and sep.late_entries == [late.entry_id] and sep.cost_cny == Decimal("10220.00")
    (flag,) = [a for a in result.alerts if a.rule == "canteen.statement_reopened"]
    assert "补录1笔" in flag.title and flag.evidence[-1]["entry_id"] == late.entry_id


def test_no_satisfaction_survey_in_a_finished_semester() -> None:
    view = registry(canteen("C1"), canteen("C2", 1))
    survey = CanteenSurvey(
        survey_id="s1",
        canteen_id="C2",
        semester="2026-2027-1",
        respondents="parents",
        satisfaction=Decimal("91.0"),
        surveyed_on=date(2026, 11, 20),
        recorded_at=at(date(2026, 11, 20)),
    )
    records = [line("C1", SEP1, "meal_fee", "10.00"), line("C2", SEP1, "meal_fee", "10.00"), survey]
    assert not [
        a for a in audit([*records, tick(date(2027, 1, 31))], view).alerts if a.rule == "canteen.survey_missing"
    ]
    found = [a for a in audit([*records, tick(date(2027, 2, 1))], view).alerts if a.rule == "canteen.survey_missing"]
    assert [a.subject for a in found] == ["C1"] and "第一学期" in found[0].title


def test_a_central_kitchens_costs_are_allocated_by_meals_served() -> None:
    view = registry(
        canteen("K1", kind="central_kitchen"),
        canteen("A", 1, kitchen_id="K1"),
        canteen("B", 2, kitchen_id="K1"),
        canteen("C", 3, kitchen_id="K1"),
    )
    records = [
        line("K1", SEP1, "ingredients", "1000.00"),
        line("K1", SEP1, "staff_wages", "500.00"),
        line("A", SEP1, "meal_fee", "600.00", quantity=Decimal(100)),
        line("B", SEP1, "meal_fee", "1200.00", quantity=Decimal(200)),
        line("C", SEP1, "utilities", "5.00"),
    ]
    by = {s.canteen_id: s for s in audit(records, view).statements}
    assert by["A"].cost_by_category == {"ingredients": Decimal("333.33"), "staff_wages": Decimal("166.67")}
    assert by["B"].cost_by_category == {"ingredients": Decimal("666.67"), "staff_wages": Decimal("333.33")}
    assert by["C"].kitchen_cost_cny == Decimal("0.00") and by["C"].cost_cny == Decimal("5.00")
    assert by["A"].kitchen_cost_cny + by["B"].kitchen_cost_cny == by["K1"].allocated_out_cny == Decimal("1500.00")
    assert by["K1"].cost_cny == Decimal("0.00") and by["A"].ingredient_share == Decimal("0.5556")


def test_without_meals_a_kitchen_allocates_by_meal_fee_income() -> None:
    view = registry(
        canteen("K1", kind="central_kitchen"), canteen("A", 1, kitchen_id="K1"), canteen("B", 2, kitchen_id="K1")
    )
    records = [
        line("K1", SEP1, "ingredients", "100.00"),
        line("A", SEP1, "meal_fee", "300.00"),
        line("B", SEP1, "meal_fee", "100.00"),
    ]
    by = {s.canteen_id: s for s in audit(records, view).statements}
    assert (by["A"].kitchen_cost_cny, by["B"].kitchen_cost_cny) == (Decimal("75.00"), Decimal("25.00"))


def test_the_latest_version_of_a_line_counts_once() -> None:
    view = registry(canteen("C1"))
    first = line("C1", SEP1, "meal_fee", "100.00")
    fixed = first.model_copy(
        update={"amount_cny": Decimal("120.00"), "recorded_at": first.recorded_at + timedelta(hours=1)}
    )
    (sep,) = audit([first, fixed, first], view).statements
    assert sep.income_cny == Decimal("120.00") and sep.entries == 1
