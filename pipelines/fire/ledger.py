"""The remediation ledger (整改台账) of one institution as of a moment, and its checklist compliance.

Both the detector (its derived records, `ledger.jsonl` of a replay) and `safecampus report fire`
(over the store's inspections) make it with `institution_ledger`: the same book and clock give the
same ledger. Compliance: of the checklist items that apply to the institution (any pass or fail
said about them, and the location items the registry breaks), the share with no open finding and
no registry failure.
"""

from __future__ import annotations

from datetime import datetime

from safecampus.connectors.fire.checklist import Checklist
from safecampus.pipelines.fire.book import Finding, InstitutionBook, local_day
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.pipelines.fire.findings import finding_severity
from safecampus.pipelines.fire.structural import registry_failures
from safecampus.schemas.fire import FireLedger, FireLedgerRow


def days_overdue(finding: Finding, as_of: datetime) -> int:
    if finding.deadline is None:
        return 0
    fixed = min((t for t in (finding.rectified_at, finding.closed_at) if t is not None and t <= as_of), default=None)
    end = local_day(fixed) if fixed else local_day(as_of)  # rectified, or closed by a compliant inspection
    return max(0, (end - finding.deadline).days)


def ledger_row(facts: InstitutionFacts, finding: Finding, checklist: Checklist, as_of: datetime) -> FireLedgerRow:
    closed = finding.closed_at is not None and finding.closed_at <= as_of
    confirmed = finding.confirmed_at is not None and finding.confirmed_at <= as_of
    return FireLedgerRow(
        finding_id=f"{facts.institution_id}/{finding.window}",
        institution_id=facts.institution_id,
        district=facts.district,
        item_code=finding.item_code,
        item_name=checklist.name_of(finding.item_code),
        category=finding.category,
        severity=finding_severity(finding),
        major=finding.major,
        area=finding.area,
        found_at=finding.opened_at,
        found_by=finding.opened_by,
        deadline=finding.deadline,
        rectified_at=finding.rectified_at if finding.rectified_at and finding.rectified_at <= as_of else None,
        confirmed_at=finding.confirmed_at if confirmed else None,
        confirmed_by=finding.confirmed_by if confirmed else None,
        closed_at=finding.closed_at if closed else None,
        closed_how=finding.closed_how if closed else None,  # type: ignore[arg-type]
        days_overdue=days_overdue(finding, as_of),
        photos=finding.photos,
    )


def institution_ledger(
    facts: InstitutionFacts, book: InstitutionBook, checklist: Checklist, as_of: datetime, max_floor: int
) -> FireLedger:
    rows = [ledger_row(facts, f, checklist, as_of) for f in book.all_findings() if f.opened_at <= as_of]
    open_items = {r.item_code for r in rows if r.closed_at is None}
    failing = set(registry_failures(facts, max_floor))
    applicable = {code for code in book.items if book.latest_result(code) is not None} | failing
    compliant = applicable - open_items - failing
    return FireLedger(
        institution_id=facts.institution_id,
        district=facts.district,
        as_of=as_of,
        items_applicable=len(applicable),
        items_compliant=len(compliant),
        rows=rows,
    )
