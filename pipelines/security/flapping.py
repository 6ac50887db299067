"""Flapping: a type whose state keeps changing becomes one `security.flapping` alert.

More than `flapping_changes` state changes of one (event type, channel) within
`flapping_window_s` → one `security.flapping` alert (warning), fingerprinted by the type,
channel and the first change in the window. While it flaps, the type's own alert is muted
(the detector re-emits it once as `suppressed`); flapping ends, and resolves, when no change
has happened for `flapping_window_s`. A GB alarm counts as one change (each notification is a
rising edge); `info` types count too, though they never alert themselves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.security.context import TITLES, DeviceContext
from safecampus.pipelines.security.episodes import Episode
from safecampus.schemas.alert import Alert, AlertStatus


@dataclass
class FlapState:
    """State changes of one (event type, channel) in the window, and the open flapping alert."""

    changes: deque[datetime] = field(default_factory=deque)
    since: datetime | None = None  # first change in the window when flapping began; None when calm
    revision: int = 0


class Flapping:
    """The flapping rule (`flapping_changes`, `flapping_window_s`)."""

    def __init__(self, device: DeviceContext, flapping_changes: int, flapping_window_s: int) -> None:
        self.device = device
        self.limit = flapping_changes
        self.window_s = flapping_window_s
        self.window = timedelta(seconds=flapping_window_s)

    def change(self, state: FlapState, at: datetime, episode: Episode | None) -> Alert | None:
        """Count one state change; the flapping alert when this change starts flapping."""
        state.changes.append(at)
        if len(state.changes) > 1 and state.changes[-2] > at:  # late change: keep the deque sorted
            state.changes = deque(sorted(state.changes))
        horizon = state.changes[-1] - self.window
        while state.changes and state.changes[0] < horizon:
            state.changes.popleft()
        if state.since is not None or len(state.changes) <= self.limit:
            return None
        state.since = state.changes[0]
        return self.alert(state, "firing", at, episode)

    def end_at(self, state: FlapState) -> datetime | None:
        """When a flapping type has been calm for the window (its deadline)."""
        return state.changes[-1] + self.window if state.since is not None and state.changes else None

    def end(self, state: FlapState, at: datetime, episode: Episode | None) -> Alert:
        """Calm for the window: the resolve; the state starts counting afresh."""
        resolved = self.alert(state, "resolved", at, episode)
        state.since, state.revision = None, 0
        state.changes.clear()
        return resolved

    def alert(self, state: FlapState, status: AlertStatus, at: datetime, episode: Episode | None) -> Alert:
        assert state.since is not None
        event_type = episode.event_type if episode else "other"
        channel = episode.channel if episode else 1
        state.revision += 1
        summary = {
            "kind": "flapping",
            "event_type": event_type,
            "channel": channel,
            "changes_in_window": len(state.changes),
            "window_s": self.window_s,
            "revision": state.revision,
            "opened": state.revision == 1,
        }
        device = self.device
        detail = (
            f"设备 {device.device_id} 通道 {channel} 的{TITLES[event_type]}"
            f"在 {self.window_s} 秒内状态变化超过 {self.limit} 次，"
            "已合并为一条告警；请检查设备或侦测参数"
        )
        return new_alert(
            domain="security",
            rule="security.flapping",
            subject=device.device_id,
            window=f"{event_type}/ch{channel}@{state.since.isoformat()}",
            severity="warning",
            status=status,
            occurred_at=state.since,
            detected_at=at,
            title="告警频繁抖动",
            detail=detail,
            evidence=[summary],
            school_id=device.school_id,
            district=device.district,
        )
