"""Childcare fire safety: inspection forms normalized against the checklist, detection per institution.

Forms come as JSON (`inspection-json`: the app, the HTTP gateway's POST /inspection, `safecampus
import fire` of .json/.jsonl) or as the rows of a CSV/XLSX export (`inspection-csv`, one envelope per
inspection). Decoding checks the form (schemas/fire.py) and completes it from the checklist
(connectors/fire/forms.py); a form that cannot be used goes to the DLQ with the reason. A form for an
institution the registry does not know still becomes an event: its detector raises
`fire.unknown_institution` (structural.py), as an unknown camera is raised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property

from safecampus.connectors.fire.checklist import Checklist, ChecklistError, load_checklist
from safecampus.connectors.fire.forms import FormError, checked_form, form_of_rows
from safecampus.pipelines.domain import DecodeError, DomainPipeline, KpiPartials, add, json_object, payload_of
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.pipelines.fire.detector import FireDetector
from safecampus.pipelines.fire.kpis import finish_fire_kpis, ledger_partials
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireInspection, FireLedger

MAX_CSV_ROWS = 400  # one inspection's export rows: one per checklist item, with room


class FirePipeline(DomainPipeline[FireInspection]):
    domain = "fire"
    event_type = FireInspection
    derived = (("ledger", FireLedger),)

    @cached_property
    def checklist(self) -> Checklist:
        return load_checklist(self.settings.fire.checklist)

    def decode(self, envelope: RawEnvelope) -> list[FireInspection]:
        if envelope.source == "inspection-json":
            fields = json_object(envelope, "inspection form")
        elif envelope.source == "inspection-csv":
            fields = self._rows(envelope)
        else:
            raise DecodeError("decode", f"source format {envelope.source!r} is not an inspection format")
        try:
            form = checked_form(fields, self.checklist)
        except FormError as exc:
            raise DecodeError("validate", str(exc)) from None
        except ChecklistError as exc:
            raise DecodeError("checklist", str(exc)) from None
        institution = self.registry.institutions.get(form.institution_id)
        return [form.model_copy(update={"district": institution.district_id if institution else None})]

    def _rows(self, envelope: RawEnvelope) -> dict[str, object]:
        try:
            text = payload_of(envelope).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("decode", "inspection rows are not UTF-8 text") from None
        try:  # newline="": a bare CR ends a row, as csv wants (found by fuzzing, issue 10)
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:  # a field over csv's size limit, a stray NUL
            raise DecodeError("decode", f"inspection rows are not readable CSV ({exc})") from None
        if len(rows) < 2 or len(rows) > MAX_CSV_ROWS:
            raise DecodeError("decode", f"an inspection export has a header and 1 to {MAX_CSV_ROWS - 1} rows")
        try:
            return form_of_rows(rows[0], rows[1:])
        except FormError as exc:
            raise DecodeError("validate", f"inspection rows: {exc}") from None

    def subject(self, event: FireInspection) -> str:
        return event.institution_id

    def event_id(self, event: FireInspection) -> str:
        return inspection_event_id(event)

    def occurred_at(self, event: FireInspection) -> datetime:
        return event.inspected_at

    def new_detector(self, subject: str) -> FireDetector:
        return FireDetector(InstitutionFacts.of(subject, self.registry), self.settings.fire, self.checklist)

    def detector_history(self) -> None:
        """Every stored form: the rules reach back to each open finding's day, a month (the monthly
        inspection) and a year (drills), and a late form may be older than the newest one."""
        return None

    def kpi_partials(
        self, events: Sequence[FireInspection], alerts: Sequence[Alert], derived: Sequence[Record] = ()
    ) -> KpiPartials:
        partials = super().kpi_partials(events, [], derived)
        for alert in alerts:  # an update log: each alert counts once, when it opens
            if alert.evidence and alert.evidence[0].get("opened"):
                add_alert(partials, alert)
        for e in events:
            add_inspection(partials, e)
        for record in derived:
            if isinstance(record, FireLedger):
                ledger_partials(partials, record)
        return partials

    def finish_kpis(self, totals: KpiPartials) -> KpiPartials:
        return finish_fire_kpis(totals)


def add_alert(partials: KpiPartials, alert: Alert) -> None:
    add(partials, "fire_alerts_total", rule=alert.rule, severity=alert.severity)


def add_inspection(partials: KpiPartials, inspection: FireInspection) -> None:
    add(partials, "fire_inspections_total", kind=inspection.kind, district=inspection.district)
    add(
        partials,
        "fire_items_checked_total",
        sum(i.result != "na" for i in inspection.checklist),
        district=inspection.district,
    )
    add(
        partials,
        "fire_items_failed_total",
        sum(i.result == "fail" for i in inspection.checklist),
        district=inspection.district,
    )


def inspection_event_id(inspection: FireInspection) -> str:
    """The natural key of an inspection; alert evidence names it, so alerts find their input lines."""
    return f"{inspection.institution_id}/{inspection.inspection_id}"
