"""bus.off_route: consecutive fixes farther than `offroute_distance_m` from the run's route line.

TheTransitClock's defaults: 60 m, and the third bad fix in a row alerts (two bad matches allowed).
"""

from __future__ import annotations

from safecampus.pipelines.alerts import EpisodeTracker
from safecampus.pipelines.bus.alerting import MAX_EVIDENCE, TerminalAlerts
from safecampus.pipelines.bus.geometry import TripPlan
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import local_text

RULE = "bus.off_route"
TITLE = "校车偏离核定路线"


class OffRoute:
    """One episode per stretch off the route: alerts on the n-th bad fix, resolves back on the line."""

    def __init__(self, distance_m: float, consecutive_fixes: int, alerts: TerminalAlerts) -> None:
        self.distance_m = distance_m
        self.consecutive_fixes = consecutive_fixes
        self.alerts = alerts
        self.episodes = EpisodeTracker[BusEvent](MAX_EVIDENCE)

    def observe(self, event: BusEvent, plan: TripPlan) -> list[Alert]:
        """One positioned fix of a run following `plan`."""
        distance = plan.distance_to_route_m(event.lat_deg or 0.0, event.lon_deg or 0.0)
        if distance is None:
            return []
        at = event.occurred_at
        if distance <= self.distance_m:
            closed = self.episodes.clear()
            if closed is None:
                return []
            return [
                self.alerts(
                    rule=RULE,
                    window=closed.window,
                    severity="warning",
                    occurred_at=closed.started_at,
                    detected_at=at,
                    title=TITLE,
                    detail=f"{local_text(at)} 回到路线上。",
                    evidence=[event],
                    status="resolved",
                )
            ]
        episode = self.episodes.bad(at, event, distance)
        if not self.episodes.ready(episode.count >= self.consecutive_fixes):
            return []
        return [
            self.alerts(
                rule=RULE,
                window=episode.window,
                severity="warning",
                occurred_at=episode.started_at,
                detected_at=at,
                title=TITLE,
                detail=f"线路 {plan.route_id}:连续 {episode.count} 个定位点距路线超过 "
                f"{self.distance_m:.0f} 米(最远 {episode.worst:.0f} 米)。",
                evidence=episode.evidence,
            )
        ]
