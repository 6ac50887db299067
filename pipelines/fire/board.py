"""What the control room has been shown of one institution, and the updates that bring it up to date.

The rules say what each alert *should* be now (a pure function of the institution's inspections and
the event-time clock); the board compares that with what it last emitted and emits only changes:
a new alert, a raised severity, a further day of escalation, a resolve. A rule's alerts are grouped
(one checklist item, one day's patrols, …): an alert the group showed earlier that the rules no
longer produce (a late form moved when a finding opened) is resolved. A resolve of an alert never
shown is dropped. So whatever order the forms arrive in, the last update of each alert is the same.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import datetime
from typing import Any

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Severity

Group = tuple[Hashable, ...]
WITHDRAWN = "；后到的检查记录更正了此项（late forms changed what was known）"


def fire_alert(
    facts: InstitutionFacts,
    *,
    rule: str,
    window: str,
    severity: Severity,
    occurred_at: datetime,
    detected_at: datetime,
    title: str,
    detail: str,
    summary: dict[str, Any],
    evidence: Iterable[dict[str, Any]] = (),
    resolved: bool = False,
) -> Alert:
    """A fire alert through the one builder: subject the institution, district from the registry."""
    return new_alert(
        domain="fire",
        rule=rule,
        subject=facts.institution_id,
        window=window,
        severity=severity,
        status="resolved" if resolved else "firing",
        occurred_at=occurred_at,
        detected_at=detected_at,
        title=title,
        detail=detail,
        evidence=[{"opened": False, **summary}, *evidence],
        district=facts.district,
    )


def _state(alert: Alert) -> tuple[object, ...]:
    return (alert.status, alert.severity, alert.occurred_at, alert.evidence[0].get("escalation"), alert.detail)


class AlertBoard:
    """The last emitted update of every alert of one institution, by group."""

    def __init__(self) -> None:
        self.shown: dict[str, Alert] = {}
        self.groups: dict[Group, set[str]] = {}

    def offer(self, group: Group, alerts: Iterable[Alert]) -> list[Alert]:
        """The updates that take the group's alerts from what was shown to `alerts`."""
        out: list[Alert] = []
        now: set[str] = set()
        for alert in alerts:
            out.extend(self._show(alert))
            if alert.fingerprint in self.shown:
                now.add(alert.fingerprint)
        for fingerprint in sorted(self.groups.get(group, set()) - now):
            old = self.shown[fingerprint]
            if old.status != "resolved":
                gone = old.model_copy(
                    update={"status": "resolved", "detail": old.detail + WITHDRAWN, "evidence": _not_opened(old)}
                )
                out.extend(self._show(gone))
            now.add(fingerprint)  # still the group's: a later evaluation may bring it back
        self.groups[group] = now
        return out

    def restore(self, group: Group, alert: Alert) -> None:
        """What the control room was shown before this board was rebuilt (the store's last update): later
        offers then bring that up to date, e.g. resolve a patrol alert a timer raised before a late form."""
        if alert.status not in ("firing", "resolved"):  # acknowledged or suppressed: the rules' view is firing
            alert = alert.model_copy(update={"status": "firing"})
        self.shown[alert.fingerprint] = alert
        self.groups.setdefault(group, set()).add(alert.fingerprint)

    def _show(self, alert: Alert) -> list[Alert]:
        before = self.shown.get(alert.fingerprint)
        if before is None and alert.status == "resolved":
            return []
        if before is not None and _state(before) == _state(alert):
            return []
        if before is None:
            summary = {**alert.evidence[0], "opened": True}
            alert = alert.model_copy(update={"evidence": [summary, *alert.evidence[1:]]})
        self.shown[alert.fingerprint] = alert
        return [alert]


def _not_opened(alert: Alert) -> list[dict[str, Any]]:
    return [{**alert.evidence[0], "opened": False}, *alert.evidence[1:]]
