"""bus.terminal_alarm.<name>: the terminal's own alarms, passed through edge-triggered.

Keyed by the BusEvent field the decoder set (`alarm_emergency`, …): one alert when a flag
appears, resolved when it clears. A flag another rule's open incident holds (`held`: the
overspeed flag during our own overspeed episode, see overspeed.py) is evidence there and raises
nothing here; one that incident gives back unalerted (`released`) alerts here from when it came on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import Severity, local_text


@dataclass(frozen=True)
class AlarmRule:
    """A terminal alarm field of BusEvent passed through as `bus.terminal_alarm.<name>`."""

    field: str
    name: str
    severity: Severity
    title: str


ALARM_RULES: tuple[AlarmRule, ...] = (
    AlarmRule("alarm_emergency", "emergency", "critical", "终端紧急报警"),
    AlarmRule("alarm_overspeed", "overspeed", "high", "终端超速报警"),
    AlarmRule("alarm_route_deviation", "route_deviation", "warning", "终端路线偏离报警"),
    AlarmRule("alarm_illegal_door_opening", "illegal_door_opening", "high", "终端非法开门报警"),
)


class TerminalAlarms:
    """Which alarms are on, and since when (the window of each open alert)."""

    def __init__(self, alerts: TerminalAlerts, rules: tuple[AlarmRule, ...] = ALARM_RULES) -> None:
        self.alerts = alerts
        self.rules = rules
        self._since: dict[str, str] = {}  # rule name → window of its firing alert, while the flag is on

    def observe(
        self, event: BusEvent, held: Collection[str] = (), released: Mapping[str, datetime] | None = None
    ) -> list[Alert]:
        """One fix, newer than every fix before it.

        `held`: names of flags whose state on this fix belongs to another rule's incident (unless
        their own alert is already firing); `released`: flags such an incident gives back, with
        the time each came on.
        """
        alerts: list[Alert] = []
        at = event.occurred_at
        for rule in self.rules:
            was_on = rule.name in self._since
            since = released.get(rule.name) if released else None
            if since is not None and not was_on:
                alerts.append(self._firing(rule, since, at, event))
                was_on = True
            now_on = getattr(event, rule.field) and (was_on or rule.name not in held)
            if now_on and not was_on:
                alerts.append(self._firing(rule, at, at, event))
            elif was_on and not now_on:
                window = self._since.pop(rule.name)
                alerts.append(
                    self.alerts(
                        rule=f"bus.terminal_alarm.{rule.name}",
                        window=window,
                        severity=rule.severity,
                        occurred_at=datetime.fromisoformat(window),
                        detected_at=at,
                        title=rule.title,
                        detail=f"{local_text(at)} 报警标志已清除。",
                        evidence=[event],
                        status="resolved",
                    )
                )
        return alerts

    def _firing(self, rule: AlarmRule, since: datetime, at: datetime, event: BusEvent) -> Alert:
        window = self._since[rule.name] = since.isoformat()
        return self.alerts(
            rule=f"bus.terminal_alarm.{rule.name}",
            window=window,
            severity=rule.severity,
            occurred_at=since,
            detected_at=at,
            title=rule.title,
            detail=f"车载终端于 {local_text(since)} 上报{rule.title}。",
            evidence=[event],
        )
