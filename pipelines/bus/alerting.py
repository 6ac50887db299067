"""Alerts about one terminal: what every bus rule puts on an alert besides its own words.

alerts = TerminalAlerts("013800000001", plate="苏D00001")
alerts.see(event)                        # school and district come from the latest event
alerts(rule="bus.overspeed", window=..., severity="high", occurred_at=..., detected_at=...,
       title="校车超速", detail="…", evidence=[event])       # detail becomes "[苏D00001] …"
alerts.about("OP3", school_id=None, district=None, rule=..., ...)   # about the operator, not this terminal
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from safecampus.pipelines.alerts import Evidence, new_alert
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import Severity

MAX_EVIDENCE = 12  # evidence is for a person; the first fixes of an episode tell the story


class TerminalAlerts:
    """Builds a terminal's alerts through `new_alert`: subject, school, district, the plate before the detail."""

    def __init__(self, terminal_id: str, plate: str | None) -> None:
        self.terminal_id = terminal_id
        self.label = plate or terminal_id
        self.context: BusEvent | None = None  # the latest event: school and district, also for timer alerts

    def see(self, event: BusEvent) -> None:
        if self.context is None or event.occurred_at >= self.context.occurred_at:
            self.context = event

    def __call__(
        self,
        *,
        rule: str,
        window: str,
        severity: Severity,
        occurred_at: datetime,
        detected_at: datetime,
        title: str,
        detail: str,
        evidence: Iterable[Evidence] = (),
        status: AlertStatus = "firing",
    ) -> Alert:
        context = self.context
        return new_alert(
            domain="bus",
            rule=rule,
            subject=self.terminal_id,
            window=window,
            severity=severity,
            occurred_at=occurred_at,
            detected_at=detected_at,
            title=title,
            detail=f"[{self.label}] {detail}",
            evidence=evidence,
            status=status,
            school_id=context.school_id if context else None,
            district=context.district if context else None,
        )

    def about(
        self,
        subject: str,
        *,
        school_id: str | None,
        district: str | None,
        rule: str,
        window: str,
        severity: Severity,
        occurred_at: datetime,
        detected_at: datetime,
        title: str,
        detail: str,
        evidence: Iterable[Evidence] = (),
    ) -> Alert:
        """An alert about something bigger than this terminal (an operator and its fleet).

        Nothing in it comes from this terminal's events, so every terminal of the fleet builds the
        same alert (same fingerprint, same content) and the copies collapse into one.
        """
        return new_alert(
            domain="bus",
            rule=rule,
            subject=subject,
            window=window,
            severity=severity,
            occurred_at=occurred_at,
            detected_at=detected_at,
            title=title,
            detail=detail,
            evidence=evidence,
            school_id=school_id,
            district=district,
        )
