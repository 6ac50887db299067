"""Checks over the whole city's ledger, each a small rule object that returns alerts with the rows behind them.

| rule | what it finds | setting |
|---|---|---|
| `canteen.surplus_rate` | a month's surplus above the non-profit threshold | `surplus_rate_warning` |
| `canteen.subsidy_missing`, `_short`, `_excess` | a month's subsidy received vs granted | `granted_subsidy_cny` |
| `canteen.duplicate_invoice` | one supplier's invoice booked twice, across canteens and months | — |
| `canteen.price_outlier` | a unit price far above the item's city median that month | `price_deviation_ratio` |
| `canteen.supplier_concentration` | one supplier taking most of a month's ingredient spend | `supplier_share_warning` |

Months are judged on event time (`AuditContext.clock`, the latest record): surplus, supplier share
and a missing or short subsidy once the month is over; a subsidy above the grant is said at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from statistics import median
from typing import Any, Protocol

from safecampus.config import CanteenRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.canteen.book import CanteenBook, month_of
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.canteen_statement import MonthlyStatement
from safecampus.schemas.common import SHANGHAI, Severity

MAX_EVIDENCE_ROWS = 40


@dataclass
class AuditContext:
    book: CanteenBook
    statements: list[MonthlyStatement]
    registry: RegistryView
    rules: CanteenRules
    clock: datetime  # event time

    def statement(self, canteen: str, month: str) -> MonthlyStatement | None:
        return next((s for s in self.statements if s.canteen_id == canteen and s.month == month), None)


class LedgerCheck(Protocol):
    def check(self, ctx: AuditContext) -> list[Alert]: ...


def row(entry: CanteenLedgerEntry) -> dict[str, Any]:
    """A ledger line as alert evidence (the store's event id first, so it can be looked up)."""
    return {"event_id": f"{entry.canteen_id}/{entry.entry_id}", **entry.model_dump(mode="json", exclude_none=True)}


def summary(statement: MonthlyStatement) -> dict[str, Any]:
    keep = ("canteen_id", "month", "income_cny", "cost_cny", "surplus_cny", "surplus_rate", "ingredient_share")
    dumped = statement.model_dump(mode="json")
    return {"kind": "statement", **{k: dumped[k] for k in keep}}


def month_end(month: str) -> datetime:
    year, number = int(month[:4]), int(month[5:])
    first_next = date(year + (number == 12), number % 12 + 1, 1)
    return datetime(first_next.year, first_next.month, 1, tzinfo=SHANGHAI)


def alert(
    ctx: AuditContext,
    *,
    rule: str,
    canteen: str,
    window: str,
    severity: Severity,
    at: datetime,
    title: str,
    detail: str,
    evidence: Iterable[dict[str, Any]],
) -> Alert:
    """An audit alert through the one builder; detected at the audit's event-time clock."""
    info = ctx.registry.canteens.get(canteen)
    school = info.school_id if info else None
    return new_alert(
        domain="canteen",
        rule=rule,
        subject=canteen,
        window=window,
        severity=severity,
        school_id=school,
        district=ctx.registry.district_of_school(school),
        occurred_at=at,
        detected_at=max(at, ctx.clock),
        title=title,
        detail=detail,
        evidence=list(evidence)[:MAX_EVIDENCE_ROWS],
    )


def _pct(value: Decimal | float) -> str:
    return f"{float(value) * 100:.1f}%"


class SurplusRate:
    def check(self, ctx: AuditContext) -> list[Alert]:
        limit = Decimal(str(ctx.rules.surplus_rate_warning))
        grouped = ctx.book.by_canteen_month()
        found = []
        for s in ctx.statements:
            if s.surplus_rate is None or s.surplus_rate <= limit or s.kind == "central_kitchen":
                continue
            if month_end(s.month) > ctx.clock:  # mid-month (the subsidy came on day 1) says nothing yet
                continue
            rows = sorted(grouped.get((s.canteen_id, s.month), []), key=lambda e: -e.amount_cny)
            found.append(
                alert(
                    ctx,
                    rule="canteen.surplus_rate",
                    canteen=s.canteen_id,
                    window=s.month,
                    severity="warning",
                    at=min(month_end(s.month), ctx.clock),
                    title=f"{s.month} 结余率{_pct(s.surplus_rate)}，超过{_pct(limit)}（食堂应非营利）",
                    detail=f"收入{s.income_cny}元，支出{s.cost_cny}元，结余{s.surplus_cny}元",
                    evidence=[summary(s), *(row(e) for e in rows)],
                )
            )
        return found


class Subsidy:
    def check(self, ctx: AuditContext) -> list[Alert]:
        grouped = ctx.book.by_canteen_month()
        found = []
        for s in ctx.statements:
            if s.kind == "central_kitchen" or s.subsidy_granted_cny <= 0:
                continue
            ended = month_end(s.month) <= ctx.clock
            got, granted = s.subsidy_received_cny, s.subsidy_granted_cny
            if got > granted:
                rule, severity, title = "canteen.subsidy_excess", "warning", "财政补助到账多于核定"
            elif ended and got == 0:
                rule, severity, title = "canteen.subsidy_missing", "high", "财政补助未到账"
            elif ended and got < granted:
                rule, severity, title = "canteen.subsidy_short", "high", "财政补助到账不足"
            else:
                continue
            rows = [e for e in grouped.get((s.canteen_id, s.month), []) if e.category == "fiscal_subsidy"]
            at = rows[0].recorded_at if rows and got > granted else min(month_end(s.month), ctx.clock)
            found.append(
                alert(
                    ctx,
                    rule=rule,
                    canteen=s.canteen_id,
                    window=s.month,
                    severity=severity,  # type: ignore[arg-type]
                    at=at,
                    title=f"{s.month} {title}",
                    detail=f"核定{granted}元，到账{got}元，差额{got - granted}元",
                    evidence=[summary(s), *(row(e) for e in rows)],
                )
            )
        return found


class DuplicateInvoice:
    def check(self, ctx: AuditContext) -> list[Alert]:
        by_invoice: dict[tuple[str, str], list[CanteenLedgerEntry]] = defaultdict(list)
        for e in ctx.book.entries:
            if e.direction == "expense" and e.invoice_no and e.supplier_id:
                by_invoice[(e.supplier_id, e.invoice_no)].append(e)
        found = []
        for (supplier, invoice), rows in sorted(by_invoice.items()):
            if len(rows) < 2:
                continue
            rows.sort(key=lambda e: (e.recorded_at, e.canteen_id, e.entry_id))
            second = rows[1]
            places = "、".join(sorted({f"{e.canteen_id} {month_of(e)}" for e in rows}))
            found.append(
                alert(
                    ctx,
                    rule="canteen.duplicate_invoice",
                    canteen=second.canteen_id,
                    window=f"{supplier}/{invoice}",
                    severity="high",
                    at=second.recorded_at,
                    title=f"发票重复入账：供应商{supplier}发票{invoice}共{len(rows)}次",
                    detail=f"入账于 {places}",
                    evidence=[row(e) for e in rows],
                )
            )
        return found


class PriceOutlier:
    def check(self, ctx: AuditContext) -> list[Alert]:
        prices: dict[tuple[str, str, str], list[CanteenLedgerEntry]] = defaultdict(list)
        for e in ctx.book.entries:
            if e.category == "ingredients" and e.item and e.unit_price_cny:
                prices[(month_of(e), e.item, e.unit or "")].append(e)
        ratio = Decimal(str(ctx.rules.price_deviation_ratio))
        found = []
        for (month, item, unit), rows in sorted(prices.items()):
            if len({e.canteen_id for e in rows}) < ctx.rules.price_median_min_canteens:
                continue
            middle = Decimal(str(median(e.unit_price_cny for e in rows if e.unit_price_cny)))
            limit = middle * (1 + ratio)
            high: dict[str, list[CanteenLedgerEntry]] = defaultdict(list)
            for e in rows:
                if e.unit_price_cny and e.unit_price_cny > limit:
                    high[e.canteen_id].append(e)
            for canteen, outliers in sorted(high.items()):
                worst = max(e.unit_price_cny or Decimal(0) for e in outliers)
                found.append(
                    alert(
                        ctx,
                        rule="canteen.price_outlier",
                        canteen=canteen,
                        window=f"{month}/{item}/{unit}",
                        severity="warning",
                        at=outliers[0].recorded_at,
                        title=f"{month} {item}单价{worst}元/{unit or '单位'}，高于全市中位数{middle}元的{1 + ratio}倍",
                        detail=f"{len(outliers)}笔高于{limit.quantize(Decimal('0.01'))}元（全市{len(rows)}笔）",
                        evidence=[
                            {
                                "kind": "city_median",
                                "month": month,
                                "item": item,
                                "unit": unit,
                                "median_cny": str(middle),
                                "prices": len(rows),
                            },
                            *(row(e) for e in outliers),
                        ],
                    )
                )
        return found


class SupplierConcentration:
    def check(self, ctx: AuditContext) -> list[Alert]:
        limit = Decimal(str(ctx.rules.supplier_share_warning))
        found = []
        for (canteen, month), entries in sorted(ctx.book.by_canteen_month().items()):
            spend: dict[str, Decimal] = defaultdict(Decimal)
            for e in entries:
                if e.category == "ingredients" and e.supplier_id:
                    spend[e.supplier_id] += e.amount_cny
            total = sum(spend.values(), Decimal(0))
            if month_end(month) > ctx.clock or total <= 0:
                continue
            top, amount = max(spend.items(), key=lambda kv: (kv[1], kv[0]))
            share = amount / total
            if share <= limit:
                continue
            rows = [e for e in entries if e.supplier_id == top and e.category == "ingredients"]
            found.append(
                alert(
                    ctx,
                    rule="canteen.supplier_concentration",
                    canteen=canteen,
                    window=month,
                    severity="warning",
                    at=min(month_end(month), ctx.clock),
                    title=f"{month} 供应商{top}占食材采购{_pct(share)}，超过{_pct(limit)}",
                    detail=f"食材采购共{total}元，其中{top} {amount}元，共{len(spend)}家供应商",
                    evidence=[
                        {
                            "kind": "supplier_share",
                            "month": month,
                            "supplier_id": top,
                            "share": f"{share:.4f}",
                            "spend_cny": str(amount),
                            "total_cny": str(total),
                        },
                        *(row(e) for e in rows),
                    ],
                )
            )
        return found
