"""bus.overspeed: a bus above the speed limit for a sustained time; one alert per episode.

The registry has no road class, so every fix is held to `overspeed_other_kmh` (60 km/h,
Order 617 Art. 35); a single fix above it is a GPS spike until it lasts `overspeed_sustained_s`.
"""

from __future__ import annotations

from safecampus.pipelines.alerts import EpisodeTracker
from safecampus.pipelines.bus.alerting import MAX_EVIDENCE, TerminalAlerts
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import local_text

RULE = "bus.overspeed"


class Overspeed:
    """Opens on the first fix above the limit, alerts once it has lasted, resolves when the speed drops."""

    def __init__(self, limit_kmh: float, sustained_s: float, alerts: TerminalAlerts) -> None:
        self.limit_kmh = limit_kmh
        self.sustained_s = sustained_s
        self.alerts = alerts
        self.episodes = EpisodeTracker[BusEvent](MAX_EVIDENCE)

    def observe(self, event: BusEvent) -> list[Alert]:
        """One fix, newer than every fix before it."""
        limit, speed, at = self.limit_kmh, event.speed_kmh or 0.0, event.occurred_at
        if speed <= limit:
            closed = self.episodes.clear()
            if closed is None:
                return []
            return [
                self.alerts(
                    rule=RULE,
                    window=closed.window,
                    severity="high",
                    occurred_at=closed.started_at,
                    detected_at=at,
                    title="校车超速",
                    detail=f"{local_text(at)} 车速降至 {speed:.0f} km/h。",
                    evidence=[event],
                    status="resolved",
                )
            ]
        episode = self.episodes.bad(at, event, speed)
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
                f"最高 {episode.worst:.0f} km/h。",
                evidence=episode.evidence,
            )
        ]
