"""Fault escalation: a device fault left unfixed for `fault_unfixed_h` hours.

A fault episode (video loss, storage, tamper, device fault) open longer than `fault_unfixed_h`
→ `security.fault_unfixed` (high), fingerprinted by the fault's episode; it resolves with the
fault (GB/T 29315: faults are to be fixed within 24 hours).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.security.context import FAULT_TYPES, TITLES, DeviceContext
from safecampus.pipelines.security.episodes import Episode
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.common import local_text


class FaultEscalation:
    """The unfixed-fault rule (`fault_unfixed_h`) over the device's fault episodes."""

    def __init__(self, device: DeviceContext, fault_unfixed_h: float) -> None:
        self.device = device
        self.hours = fault_unfixed_h
        self.limit = timedelta(hours=fault_unfixed_h)

    def due_at(self, episode: Episode) -> datetime | None:
        """When an open fault episode becomes unfixed; None for other types or once escalated."""
        if episode.event_type in FAULT_TYPES and not episode.escalated and episode.is_open:
            return episode.first_at + self.limit
        return None

    def fire(self, episode: Episode, at: datetime) -> Alert:
        episode.escalated = True
        return self.alert(episode, "firing", at)

    def closed(self, episode: Episode, at: datetime) -> list[Alert]:
        """The fault was fixed: the resolve, when it had escalated."""
        return [self.alert(episode, "resolved", at)] if episode.escalated else []

    def alert(self, ep: Episode, status: AlertStatus, at: datetime) -> Alert:
        summary = {
            "kind": "fault_unfixed",
            "event_type": ep.event_type,
            "episode": ep.episode_id,
            "fault_since": ep.first_at.isoformat(),
            "limit_h": self.hours,
            "closed_at": ep.closed_at.isoformat() if ep.closed_at else None,
            "opened": status == "firing",
        }
        device = self.device
        detail = (
            f"设备 {device.device_id} 的{TITLES[ep.event_type]}自 {local_text(ep.first_at)} 起"
            f"超过 {self.hours:g} 小时未修复（GB/T 29315：故障应在 24 小时内修复），请安排维修"
        )
        return new_alert(
            domain="security",
            rule="security.fault_unfixed",
            subject=device.device_id,
            window=f"{ep.event_type}/{ep.episode_id}",
            severity="high",
            status=status,
            occurred_at=ep.first_at + self.limit,
            detected_at=at,
            title="故障超时未修复",
            detail=detail,
            evidence=[summary],
            school_id=device.school_id,
            district=device.district,
        )
