"""bus.overspeed: a bus above the speed limit for a sustained time; one alert per episode.

The registry has no road class, so every fix is held to `overspeed_other_kmh` (60 km/h,
Order 617 Art. 35); a single fix above it is a GPS spike until it lasts `overspeed_sustained_s`.

The terminal's own overspeed flag (`alarm_overspeed`) is the same incident seen by the device:
while one of our episodes is open, or until the flag clears after it, the flag is evidence on our
alert (the firing alert when the flag came first, the resolve in any case) and raises no
`bus.terminal_alarm.overspeed` of its own (`holds_terminal_flag`). A flag outside our episodes
(the terminal may apply a lower limit we do not know) still alerts on its own, through
`TerminalAlarms`; so does a flag seen during an episode of ours that ended before it lasted
(`released`: the terminal applies its own duration, so its word stands).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from safecampus.pipelines.alerts import EpisodeTracker
from safecampus.pipelines.bus.alerting import MAX_EVIDENCE, TerminalAlerts
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import local_text

RULE = "bus.overspeed"
TERMINAL_RULE = "bus.terminal_alarm.overspeed"
TERMINAL_FLAG = "overspeed"  # the TerminalAlarms rule name this rule holds during its episodes


class Overspeed:
    """Opens on the first fix above the limit, alerts once it has lasted, resolves when the speed drops."""

    def __init__(self, limit_kmh: float, sustained_s: float, alerts: TerminalAlerts) -> None:
        self.limit_kmh = limit_kmh
        self.sustained_s = sustained_s
        self.alerts = alerts
        self.episodes = EpisodeTracker[BusEvent](MAX_EVIDENCE)
        self.flag_since: datetime | None = None  # the terminal's own flag, first seen in this episode
        self._tail = False  # an alerted episode ended while the terminal's flag was still on
        self.released: datetime | None = None  # set by `observe`: a flag our unalerted episode gives back

    @property
    def holds_terminal_flag(self) -> bool:
        """Whether the terminal's overspeed flag on the fix just observed belongs to our incident."""
        return self.episodes.open is not None or self._tail

    def observe(self, event: BusEvent) -> list[Alert]:
        """One fix, newer than every fix before it."""
        limit, speed, at = self.limit_kmh, event.speed_kmh or 0.0, event.occurred_at
        flag, self.released = event.alarm_overspeed, None
        if speed <= limit:
            had_episode = self.episodes.open is not None
            closed = self.episodes.clear()
            flagged = self.flag_since
            if closed is None:
                if had_episode and flagged is not None:
                    self.released = flagged  # a spike to us, an overspeed to the terminal: its alert
                    self.flag_since = None
                elif not had_episode and self._tail and not flag:
                    self._tail, self.flag_since = False, None  # the flag cleared: the incident is over
                return []
            self._tail = flag
            if not flag:
                self.flag_since = None
            return [
                self.alerts(
                    rule=RULE,
                    window=closed.window,
                    severity="high",
                    occurred_at=closed.started_at,
                    detected_at=at,
                    title="校车超速",
                    detail=f"{local_text(at)} 车速降至 {speed:.0f} km/h。" + self._flag_text(flagged),
                    evidence=[event, *self._flag_evidence(flagged)],
                    status="resolved",
                )
            ]
        self._tail = False
        episode = self.episodes.bad(at, event, speed)
        if flag and self.flag_since is None:
            self.flag_since = at
        lasted = (at - episode.started_at).total_seconds()
        if not self.episodes.ready(lasted >= self.sustained_s):
            return []
        return [
            self.alerts(
                rule=RULE,
                window=episode.window,
                severity="high",
                occurred_at=episode.started_at,
                detected_at=at,
                title=f"校车超速 {episode.worst:.0f} km/h(限速 {limit:.0f} km/h)",
                detail=f"自 {local_text(episode.started_at)} 起持续超速 {lasted:.0f} 秒,"
                f"最高 {episode.worst:.0f} km/h。" + self._flag_text(self.flag_since),
                evidence=[*episode.evidence, *self._flag_evidence(self.flag_since)],
            )
        ]

    @staticmethod
    def _flag_text(since: datetime | None) -> str:
        return "" if since is None else f"车载终端自 {local_text(since)} 起同时上报超速报警。"

    @staticmethod
    def _flag_evidence(since: datetime | None) -> list[dict[str, Any]]:
        """The terminal's own alarm as evidence of our alert: the rule it would have raised, and since when."""
        if since is None:
            return []
        return [{"kind": "terminal_alarm", "rule": TERMINAL_RULE, "title": "终端超速报警", "since": since.isoformat()}]
