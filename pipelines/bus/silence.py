"""bus.terminal_silent: during a run, no fix for `stale_interval_factor` × the report interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.run import Run
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import local_text

RULE = "bus.terminal_silent"
TITLE = "校车车载终端失联"


class TerminalSilence:
    """Fires at the deadline after the last fix of a run (a timer), resolves at the next fix.

    Outside a run a terminal may be switched off: silence then means nothing."""

    def __init__(self, stale: timedelta, alerts: TerminalAlerts) -> None:
        self.stale = stale
        self.alerts = alerts
        self.silent_from: datetime | None = None  # the last fix before the silence, while it lasts

    def deadline(self, last: BusEvent | None, run: Run | None) -> datetime | None:
        """When the terminal becomes silent if no fix comes, while a run is on."""
        if run is None or run.ended_at is not None or last is None or self.silent_from is not None:
            return None
        return last.occurred_at + self.stale

    def due(self, now: datetime, last: BusEvent | None, run: Run | None) -> list[Alert]:
        """Event time is `now`; `last` is the newest fix, `run` the run being driven."""
        deadline = self.deadline(last, run)
        if deadline is None or last is None or run is None:
            return []
        if last.occurred_at < run.started_at or deadline > now or deadline > run.window_end():
            return []
        self.silent_from = last.occurred_at
        return [
            self.alerts(
                rule=RULE,
                window=last.occurred_at.isoformat(),
                severity="warning",
                occurred_at=deadline,
                detected_at=deadline,
                title=TITLE,
                detail=f"运行中超过 {self.stale.total_seconds():.0f} 秒未上报定位,"
                f"最后定位 {local_text(last.occurred_at)}。",
                evidence=[last],
            )
        ]

    def resumed(self, event: BusEvent) -> list[Alert]:
        """A new fix: a silence, if there was one, is over."""
        since = self.silent_from
        if since is None:
            return []
        self.silent_from = None
        return [
            self.alerts(
                rule=RULE,
                window=since.isoformat(),
                severity="warning",
                occurred_at=since + self.stale,
                detected_at=event.occurred_at,
                title=TITLE,
                detail=f"{local_text(event.occurred_at)} 恢复上报定位。",
                evidence=[event],
                status="resolved",
            )
        ]
