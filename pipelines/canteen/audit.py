"""The audit of a city's canteen records: monthly statements, then every ledger-wide and calendar check.

    audit = run_audit(book, registry, settings.canteen)
    audit.statements   # MonthlyStatement per canteen and month
    audit.alerts       # Alert per red flag, each with the rows behind it as evidence

The per-line rules (forbidden categories, single-person acceptance) are raised by the pipeline as
lines arrive; `red_flags` gathers both for a report. Event time is the latest record's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from safecampus.config import CanteenRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen.book import CanteenBook
from safecampus.pipelines.canteen.calendar_checks import Disclosure, Reopened, Survey
from safecampus.pipelines.canteen.entry_rules import entry_rules
from safecampus.pipelines.canteen.ledger_checks import (
    AuditContext,
    DuplicateInvoice,
    LedgerCheck,
    PriceOutlier,
    Subsidy,
    SupplierConcentration,
    SurplusRate,
)
from safecampus.pipelines.canteen.statements import build_statements
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen_statement import MonthlyStatement

CHECKS: tuple[LedgerCheck, ...] = (
    SurplusRate(),
    Subsidy(),
    DuplicateInvoice(),
    PriceOutlier(),
    SupplierConcentration(),
    Disclosure(),
    Survey(),
    Reopened(),
)


@dataclass
class Audit:
    statements: list[MonthlyStatement] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # the audit's own checks
    line_alerts: list[Alert] = field(default_factory=list)  # the per-line rules, as the pipeline raised them
    clock: datetime | None = None

    def statement(self, canteen: str, month: str) -> MonthlyStatement | None:
        return next((s for s in self.statements if s.canteen_id == canteen and s.month == month), None)

    def red_flags(self, canteen: str | None = None, month: str | None = None) -> list[Alert]:
        """Every alert of a canteen (and month, told by the alert's window or evidence), oldest first."""
        chosen = []
        for a in [*self.alerts, *self.line_alerts]:
            if canteen is not None and a.subject != canteen:
                continue
            if month is not None and not _in_month(a, month):
                continue
            chosen.append(a)
        return sorted(chosen, key=lambda a: (a.occurred_at, a.rule, a.fingerprint))


def _in_month(alert: Alert, month: str) -> bool:
    booked = [e.get("booked_on", "") for e in alert.evidence if "booked_on" in e]
    months = {e.get("month") for e in alert.evidence if "month" in e}
    return month in months or any(str(b).startswith(month) for b in booked)


def run_audit(book: CanteenBook, registry: RegistryView, rules: CanteenRules) -> Audit:
    """Statements and alerts of everything in `book`."""
    clock = book.clock or datetime.now(UTC)
    statements = build_statements(book, registry)
    ctx = AuditContext(book, statements, registry, rules, clock)
    alerts = [a for check in CHECKS for a in check.check(ctx)]
    per_line = entry_rules(rules)
    line_alerts = [a for e in book.entries for rule in per_line for a in rule.check(e)]
    return Audit(statements, alerts, line_alerts, clock)
