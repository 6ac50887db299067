"""bus.no_all_off (critical): a run ended and the escort did not confirm "all students off".

The escort app's confirmation belongs to the latest run started before it; one that arrives
before its run's fixes is kept until that run ends. `all_off_grace_s` after a run's end without
a confirmation the alert fires; a later confirmation resolves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.run import Run
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.common import local_text

RULE = "bus.no_all_off"


class AllOffConfirmation:
    """Runs that ended without the escort's confirmation, and confirmations without a run yet."""

    def __init__(self, grace_s: int, alerts: TerminalAlerts) -> None:
        self.grace_s = grace_s
        self.grace = timedelta(seconds=grace_s)
        self.alerts = alerts
        self._waiting: list[Run] = []  # ended runs without the escort's "all off" yet
        self._loose: list[datetime] = []  # confirmations that arrived before their run's fixes

    def confirm(self, at: datetime, current: Run | None) -> list[Alert]:
        """The escort confirmed all students off at `at`; `current` is the run being driven, if any."""
        runs = [r for r in [*self._waiting, current] if r is not None and r.all_off_at is None and r.started_at <= at]
        if not runs:
            self._loose.append(at)
            return []
        run = max(runs, key=lambda r: r.started_at)
        run.all_off_at = at
        return [self._alert(run, "resolved", at)] if run.no_all_off_fired else []

    def run_ended(self, run: Run) -> None:
        """A run is over: a confirmation already received counts, else wait for one."""
        loose = [t for t in self._loose if t >= run.started_at]
        if run.all_off_at is None and loose:
            run.all_off_at = loose[0]
            self._loose.remove(loose[0])
        if run.all_off_at is None:
            self._waiting.append(run)

    def deadline(self) -> datetime | None:
        return min(
            (r.ended_at + self.grace for r in self._waiting if r.ended_at and self._pending(r)),
            default=None,
        )

    def due(self, now: datetime) -> list[Alert]:
        """Event time is `now`: runs past their grace without a confirmation alert."""
        alerts: list[Alert] = []
        for run in self._waiting:
            if run.ended_at and self._pending(run) and now >= run.ended_at + self.grace:
                run.no_all_off_fired = True
                alerts.append(self._alert(run, "firing", run.ended_at + self.grace))
        # Forget runs that were confirmed, or whose alert is a day old (nothing left to resolve).
        self._waiting = [
            r
            for r in self._waiting
            if r.all_off_at is None and (r.ended_at is None or now - r.ended_at < timedelta(days=1))
        ]
        return alerts

    @staticmethod
    def _pending(run: Run) -> bool:
        return run.all_off_at is None and not run.no_all_off_fired

    def _alert(self, run: Run, status: AlertStatus, at: datetime) -> Alert:
        ended = run.ended_at or at
        detail = (
            f"班次 {run.plan.trip_id} 于 {local_text(ended)} 结束,{self.grace_s // 60} 分钟内"
            "未收到照管员「学生已全部下车」确认,请立即联系司机和照管员检查车厢。"
            if status == "firing"
            else f"照管员于 {local_text(at)} 补确认学生已全部下车。"
        )
        return self.alerts(
            rule=RULE,
            window=run.key,
            severity="critical",
            occurred_at=ended,
            detected_at=at,
            title="校车未确认学生全部下车",
            detail=detail,
            evidence=run.visits[-1:],
            status=status,
        )
