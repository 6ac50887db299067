"""Deduplicated episodes: one alert per run of an event type on one channel of a device.

An *episode* is one run of an event type on one channel. Its fingerprint is
(security, `security.<event_type>`, device, "ch<channel>@<first event time>"). An `active`
event opens it; `active` repeats while it is open, or within `dedup_window_s` of its close,
update the same fingerprint (the count in the evidence summary grows). alerts.jsonl is an
update log and the store keeps the latest per fingerprint, so a repeat is re-emitted only
when it reopens the alert, raises its severity, or `dedup_window_s` has passed since the last
emitted update (a camera repeating every second costs one line a minute, not sixty); the
resolve always carries the final count. `inactive` resolves it.

GB/T 28181 alarms have no "inactive" message, so a GB alarm episode (`momentary`) resolves by
itself `dedup_window_s` after its last repeat; a GB Keepalive with Status ERROR is a device
fault that the next OK Keepalive resolves. `info` events (motion, "other", heartbeats) never
alert. Late records never duplicate or reopen: a late `active` older than the current episode
is counted into it, a late `inactive` closes only what it follows.

`Episodes` decides; the per-(type, channel) state it works on is an `EpisodeTrack` that the
detector keeps. Whether an update is muted (the type is flapping) is the caller's to say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from safecampus.config import SecurityRules
from safecampus.connectors.security.playback import playback_link
from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.security.context import (
    EVIDENCE_EVENTS,
    KEEPALIVE_ERROR,
    SEVERITY_RANK,
    TITLES,
    DeviceContext,
)
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.common import Severity, local_text
from safecampus.schemas.security import EventState, SecurityEvent, SecurityEventType


@dataclass
class Episode:
    """One run of an event type on one channel, from its first `active` to its close."""

    event_type: SecurityEventType
    channel: int
    first_at: datetime
    last_at: datetime
    severity: Severity
    momentary: bool  # GB/T 28181 alarm: closes itself dedup_window_s after the last repeat
    from_keepalive: bool = False
    count: int = 0
    closed_at: datetime | None = None
    revision: int = 0
    emitted_at: datetime | None = None  # event time of the last emitted update
    escalated: bool = False  # marked by the fault rule once `security.fault_unfixed` fired
    events: list[SecurityEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def episode_id(self) -> str:
        return f"ch{self.channel}@{self.first_at.isoformat()}"

    def take(self, event: SecurityEvent) -> None:
        """Count one more event into the episode (severity only rises)."""
        self.count += 1
        self.last_at = max(self.last_at, event.occurred_at)
        self.first_at = min(self.first_at, event.occurred_at) if self.revision == 0 else self.first_at
        if SEVERITY_RANK[event.severity] > SEVERITY_RANK[self.severity]:
            self.severity = event.severity
        self.events = [*self.events, event][-EVIDENCE_EVENTS:]


@dataclass
class EpisodeTrack:
    """What is known about one (event type, channel) of a device: its episode and last state."""

    episode: Episode | None = None
    active: bool = False  # last known state, for counting state changes
    last_inactive_at: datetime | None = None


def is_momentary(event: SecurityEvent) -> bool:
    """A GB/T 28181 alarm: a rising edge with no "inactive" to follow (an error Keepalive is not one)."""
    return event.source_format == "gb28181" and event.vendor_type != KEEPALIVE_ERROR


class Episodes:
    """The dedup rule: opens, updates and resolves one alert per episode (`dedup_window_s`)."""

    def __init__(self, device: DeviceContext, dedup_window_s: int, rules: SecurityRules | None = None) -> None:
        self.device = device
        self.dedup = timedelta(seconds=dedup_window_s)
        self.rules = rules or SecurityRules()  # the playback window, URL patterns and video retention

    @staticmethod
    def changes_state(track: EpisodeTrack, state: EventState, momentary: bool) -> bool:
        """Whether an event is a state change of its type (for flapping); a GB alarm always is."""
        if state == "inactive":
            return track.active
        return momentary or not track.active

    def auto_close_at(self, episode: Episode) -> datetime | None:
        """When an open GB alarm episode closes itself."""
        return episode.last_at + self.dedup if episode.momentary and episode.is_open else None

    def inactive(self, track: EpisodeTrack, at: datetime) -> Episode | None:
        """Take an `inactive`; the open episode it closes (the caller closes it), if any."""
        track.active = False
        track.last_inactive_at = at if track.last_inactive_at is None else max(track.last_inactive_at, at)
        ep = track.episode
        return ep if ep is not None and ep.is_open and at >= ep.first_at else None

    def active(self, track: EpisodeTrack, event: SecurityEvent, momentary: bool, muted: bool) -> list[Alert]:
        """Take an `active`: open an episode, or count it into the current one."""
        at = event.occurred_at
        track.active = not momentary
        ep = track.episode
        if ep is not None and self._joins(ep, at):
            reopened = not ep.is_open and ep.closed_at is not None and at > ep.closed_at
            was_open, severity = ep.is_open, ep.severity
            ep.take(event)
            if reopened:
                ep.closed_at = None
            quiet = was_open and ep.emitted_at is not None and at - ep.emitted_at < self.dedup
            if quiet and ep.severity == severity:  # a plain repeat shortly after an update: counted only
                return []
            return self.update(ep, at, muted)
        ep = Episode(
            event.event_type,
            event.channel,
            at,
            at,
            event.severity,
            momentary,
            from_keepalive=event.vendor_type == KEEPALIVE_ERROR,
        )
        ep.take(event)
        if not momentary and track.last_inactive_at is not None and track.last_inactive_at >= at:
            ep.closed_at = track.last_inactive_at  # its inactive arrived first (out of order)
            track.active = False
        track.episode = ep
        return self.update(ep, at, muted)

    def _joins(self, ep: Episode, at: datetime) -> bool:
        """Whether an `active` at `at` belongs to the current episode (dedup, or a late record)."""
        if at < ep.first_at:
            return True  # late: older than the current episode, counted into it rather than reopening the past
        if ep.is_open:
            return True
        if ep.momentary:  # a GB alarm closed itself dedup after its last repeat: later is a new episode
            return at <= ep.last_at + self.dedup
        assert ep.closed_at is not None
        return at <= ep.closed_at + self.dedup  # re-triggered soon after "inactive": the same alert

    def keepalive_closes(self, track: EpisodeTrack, at: datetime) -> Episode | None:
        """An OK GB Keepalive at `at`: the error-Keepalive fault it resolves (the caller closes it)."""
        ep = track.episode
        if ep is not None and ep.is_open and ep.from_keepalive and at >= ep.last_at:
            track.active = False
            return ep
        return None

    @staticmethod
    def close(ep: Episode, at: datetime, event: SecurityEvent | None = None) -> None:
        ep.closed_at = at
        if event is not None:
            ep.events = [*ep.events, event][-EVIDENCE_EVENTS:]

    def resolved(self, ep: Episode, at: datetime, muted: bool) -> list[Alert]:
        """The resolve of a closed episode, when it ever alerted and is not muted."""
        return [self.alert(ep, "resolved", at)] if not muted and ep.revision > 0 else []

    def update(self, ep: Episode, at: datetime, muted: bool) -> list[Alert]:
        if ep.severity == "info" or muted:
            return []  # background events, or flapping: the flapping alert speaks for them
        return [self.alert(ep, "firing" if ep.is_open else "resolved", at)]

    def alert(self, ep: Episode, status: AlertStatus, at: datetime) -> Alert:
        ep.revision += 1
        ep.emitted_at = at if ep.emitted_at is None else max(ep.emitted_at, at)
        summary = {
            "kind": "episode",
            "event_type": ep.event_type,
            "channel": ep.channel,
            "episode": ep.episode_id,
            "count": ep.count,
            "first_at": ep.first_at.isoformat(),
            "last_at": ep.last_at.isoformat(),
            "closed_at": ep.closed_at.isoformat() if ep.closed_at else None,
            "revision": ep.revision,
            "opened": ep.revision == 1,
        }
        device = self.device
        title = TITLES[ep.event_type]
        detail = (
            f"设备 {device.device_id} 通道 {ep.channel}：{title}，共 {ep.count} 次，"
            f"首次 {local_text(ep.first_at)}，最近 {local_text(ep.last_at)}"
        )
        if ep.closed_at is not None:
            detail += f"，{local_text(ep.closed_at)} 已恢复"
        return new_alert(
            domain="security",
            rule=f"security.{ep.event_type}",
            subject=device.device_id,
            window=ep.episode_id,
            severity=ep.severity,
            status=status,
            occurred_at=ep.first_at,
            detected_at=at,
            title=title,
            detail=detail,
            evidence=[summary, *(e.model_dump(mode="json") for e in ep.events)],
            school_id=device.school_id,
            district=device.district,
            playback=playback_link(device.device, ep.channel, ep.first_at, self.rules),
        )
