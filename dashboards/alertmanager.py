"""The pipelines' alerts as Alertmanager v2 alerts, and silences read back as acknowledgements.

Each of our alerts becomes one Alertmanager alert: labels `alertname` (our rule), `severity`, `domain`,
`district`, `school`, `fingerprint` and `escalation="school"`; title and detail (Chinese) as annotations,
and a camera's playback link (`playback`) when the alert has one;
`startsAt` from when it happened. An open alert is posted again every push with `endsAt` a few pushes
ahead, as Prometheus does, so that it ends by itself should the exporter stop; a resolve (or a suppression)
is posted once with `endsAt` at the resolve.

Escalation is Prometheus' (`deploy/prometheus/rules/alerts.yml`, over `safecampus_alerts_unacknowledged`):
an acknowledgement stops it. A silence created in Alertmanager on an alert's `fingerprint` counts as one
(`acknowledgements`), so the operator who silenced it stops the escalation and is counted in the
time-to-acknowledge histogram like one who ran `safecampus alerts ack`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from safecampus.pipelines.alerts import acknowledge
from safecampus.schemas.alert import Alert, rule_name
from safecampus.schemas.operations import Acknowledgement

ENDS_AFTER_PUSHES = 4  # an open alert not posted again for this many pushes ends in Alertmanager


def postable(alert: Alert, now: datetime, push_every_s: float) -> dict[str, Any]:
    """The Alertmanager v2 `postableAlert` of one of our alerts, as it stands at `now`."""
    labels = {
        "alertname": alert.rule,
        "severity": alert.severity,
        "domain": alert.domain,
        "district": alert.district or "",
        "school": alert.school_id or "",
        "fingerprint": alert.fingerprint,
        "escalation": "school",
    }
    open_ = alert.status in ("firing", "acknowledged")
    ends = now + timedelta(seconds=ENDS_AFTER_PUSHES * push_every_s) if open_ else alert.detected_at
    annotations = {
        "summary": f"{alert.title}（{rule_name(alert.rule)}）",
        "description": alert.detail or alert.title,
        "status": {"firing": "告警中", "acknowledged": "已确认"}.get(alert.status, "已恢复"),
    }
    if alert.playback is not None:  # a camera's video around the alarm, or that it has expired
        annotations["playback"] = alert.playback.text(now)
    return {
        "labels": {k: v for k, v in labels.items() if v},
        "annotations": annotations,
        "startsAt": alert.occurred_at.isoformat(),
        "endsAt": ends.isoformat(),
    }


class Pusher:
    """Which of our alerts Alertmanager should hold: the open ones, and the ends not yet posted."""

    def __init__(self, push_every_s: float) -> None:
        self.push_every_s = push_every_s
        self.open: dict[str, Alert] = {}
        self._ended: dict[str, Alert] = {}
        self._acked: set[str] = set()

    def observe(self, alert: Alert) -> None:
        fp = alert.fingerprint
        if alert.status in ("firing", "acknowledged"):
            if alert.status == "firing" and fp in self._acked:  # an acknowledgement sticks to its fingerprint
                return
            self.open[fp] = alert
            self._ended.pop(fp, None)
        elif fp in self.open or alert.status == "resolved":
            self.open.pop(fp, None)
            self._ended[fp] = alert

    def batch(self, now: datetime) -> tuple[list[dict[str, Any]], list[str]]:
        """What to post now: every open alert, and the ends not posted yet (with their fingerprints, for
        `sent` once Alertmanager took them)."""
        ended = list(self._ended.values())
        alerts = [postable(a, now, self.push_every_s) for a in [*self.open.values(), *ended]]
        return alerts, [a.fingerprint for a in ended]

    def sent(self, ended: list[str]) -> None:
        for fp in ended:
            self._ended.pop(fp, None)

    def unacknowledged(self) -> list[str]:
        """Fingerprints of the open alerts nobody acknowledged yet."""
        return [fp for fp, alert in self.open.items() if alert.status == "firing" and fp not in self._acked]

    def acknowledgements(self, silences: list[dict[str, Any]]) -> list[Alert]:
        """Open unacknowledged alerts an active silence on their fingerprint covers, as acknowledged
        (the silence's author as operator, its start as the time); each is reported once."""
        acks = []
        for silence in silences:
            if silence.get("status", {}).get("state") != "active":
                continue
            for matcher in silence.get("matchers", []):
                exact = matcher.get("name") == "fingerprint" and not matcher.get("isRegex")
                if not exact or not matcher.get("isEqual", True):
                    continue
                acks.append(
                    Acknowledgement(
                        fingerprint=matcher.get("value", "") or "-",
                        operator_id=(silence.get("createdBy") or "alertmanager")[:64],
                        acknowledged_at=datetime.fromisoformat(silence["startsAt"].replace("Z", "+00:00")),
                        comment=f"Alertmanager 静默 silence {silence.get('id', '')}: {silence.get('comment', '')}"[
                            :500
                        ],
                    )
                )
        return self.apply(acks)

    def apply(self, acks: Iterable[Acknowledgement]) -> list[Alert]:
        """The open unacknowledged alerts these acknowledgements are for, acknowledged; each once."""
        out = []
        for ack in acks:
            alert = self.open.get(ack.fingerprint)
            if alert is None or ack.fingerprint in self._acked or alert.status != "firing":
                continue
            acked = acknowledge(alert, ack)
            self._acked.add(ack.fingerprint)
            self.open[ack.fingerprint] = acked
            out.append(acked)
        return out
