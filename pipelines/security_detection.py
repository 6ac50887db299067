"""Per-device security detection: deduplicated episodes, flapping, offline, unfixed faults, unknown devices.

`SecurityDetector` is the `Detector` of one device (the pipeline's subject). Time is event
time throughout; the batch runner feeds a device's events in event-time order and then calls
`expire(end of input)`, the streaming runner sets an event-time timer at `next_deadline()`.

Rules (every number comes from `SecurityRules`):
- An *episode* is one run of an event type on one channel. Its fingerprint is
  (security, `security.<event_type>`, device, "ch<channel>@<first event time>"). An `active`
  event opens it; `active` repeats while it is open, or within `dedup_window_s` of its close,
  update the same fingerprint (the count in the evidence summary grows). alerts.jsonl is an
  update log and the store keeps the latest per fingerprint, so a repeat is re-emitted only
  when it reopens the alert, raises its severity, or `dedup_window_s` has passed since the
  last emitted update (a camera repeating every second costs one line a minute, not sixty);
  the resolve always carries the final count. `inactive` resolves it.
  GB/T 28181 alarms have no "inactive" message, so a GB alarm episode resolves by itself
  `dedup_window_s` after its last repeat; a GB Keepalive with Status ERROR is a device fault
  that the next OK Keepalive resolves.
- `info` events (motion, "other", heartbeats) never open alerts; they still count for flapping.
- More than `flapping_changes` state changes of one type within `flapping_window_s` →
  one `security.flapping` alert; the type's own alert is re-emitted as `suppressed` and stays
  silent until no change has happened for `flapping_window_s`. A GB alarm counts as one change
  (each notification is a rising edge).
- Silent for `offline_interval_factor` × the registry's heartbeat interval →
  `security.device_offline` (firing at last seen + threshold, resolved when the device returns).
- A fault (video loss, storage, tamper, device fault) open longer than `fault_unfixed_h` →
  `security.fault_unfixed` (high), resolved with the fault.
- A device not in the registry → one `security.unknown_device` (warning) per device.

Late records never duplicate or reopen: a late `active` older than the current episode is
counted into it, a late `inactive` closes only what it follows, and any record ends an offline
alert. `detected_at` is the event time at which the detector knew (deterministic on replay).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from safecampus.config import SecurityRules
from safecampus.pipelines.domain import Detector
from safecampus.schemas.alert import Alert, AlertStatus, alert_fingerprint
from safecampus.schemas.common import Severity, local_text
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.security import SecurityEvent, SecurityEventType

FAULT_TYPES: frozenset[str] = frozenset({"video_loss", "storage_fault", "tamper", "device_fault"})
SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "high": 2, "critical": 3}
EVIDENCE_EVENTS = 5  # alerts stay small: the latest few events behind them, plus a summary
KEEPALIVE_ERROR = "gb28181:keepalive/error"

TITLES: dict[str, str] = {
    "intrusion": "區域入侵",
    "tripwire": "越界偵測",
    "loitering": "徘徊逗留",
    "motion": "移動偵測",
    "video_loss": "視頻丟失",
    "tamper": "鏡頭遮擋或破壞",
    "storage_fault": "存儲故障",
    "one_key_alarm": "一鍵報警",
    "fence": "周界圍欄報警",
    "forced_door": "門禁被強行打開",
    "device_offline": "設備離線",
    "device_fault": "設備故障",
    "heartbeat": "心跳",
    "other": "其他事件",
}

DeadlineKind = Literal["offline", "auto_close", "flap_end", "fault_unfixed"]
TypeKey = tuple[SecurityEventType, int]  # (event type, channel)


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
    escalated: bool = False  # fault_unfixed raised
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
class TypeState:
    """What the detector knows about one (event type, channel) of the device."""

    episode: Episode | None = None
    active: bool = False  # last known state, for counting state changes
    last_inactive_at: datetime | None = None
    changes: deque[datetime] = field(default_factory=deque)
    flap_since: datetime | None = None
    flap_revision: int = 0


class SecurityDetector(Detector[SecurityEvent]):
    """Detection state of one device. Example: `SecurityPipeline(settings, view).new_detector(device_id)`."""

    def __init__(
        self, device_id: str, device: SecurityDevice | None, rules: SecurityRules, district: str | None = None
    ) -> None:
        self.device_id, self.device, self.rules, self.district = device_id, device, rules, district
        self.school_id = device.school_id if device else None
        self.dedup = timedelta(seconds=rules.dedup_window_s)
        self.flap_window = timedelta(seconds=rules.flapping_window_s)
        self.fault_limit = timedelta(hours=rules.fault_unfixed_h)
        self.offline_after = (
            timedelta(seconds=device.heartbeat_interval_s * rules.offline_interval_factor)
            if device and device.heartbeat_interval_s > 0
            else None
        )
        self.types: dict[TypeKey, TypeState] = {}
        self.last_seen: datetime | None = None
        self.offline_at: datetime | None = None  # start of the open offline alert
        self.offline_revision = 0
        self.unknown_reported = False

    # -- the Detector interface -------------------------------------------------------------

    def observe(self, event: SecurityEvent) -> list[Alert]:
        at = event.occurred_at
        alerts = self._advance(at, inclusive=False)  # a gap before this event may have opened timers
        if self.device is None and not self.unknown_reported:
            self.unknown_reported = True
            alerts.append(self._unknown_alert(event))
        if self.offline_at is not None:
            alerts.append(self._offline_alert("resolved", at, returned_at=at))
            self.offline_at = None
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        if event.event_type == "heartbeat":
            alerts.extend(self._keepalive_ok(event))
            return alerts
        alerts.extend(self._track(event))
        return alerts

    def expire(self, now: datetime) -> list[Alert]:
        return self._advance(now, inclusive=True)

    def next_deadline(self) -> datetime | None:
        due = self._deadlines()
        return min(d[0] for d in due) if due else None

    # -- timers ---------------------------------------------------------------------------------

    def _deadlines(self) -> list[tuple[datetime, DeadlineKind, TypeKey | None]]:
        due: list[tuple[datetime, DeadlineKind, TypeKey | None]] = []
        if self.offline_after is not None and self.last_seen is not None and self.offline_at is None:
            due.append((self.last_seen + self.offline_after, "offline", None))
        for key, state in self.types.items():
            ep = state.episode
            if ep is not None and ep.is_open and ep.momentary:
                due.append((ep.last_at + self.dedup, "auto_close", key))
            if ep is not None and ep.is_open and ep.event_type in FAULT_TYPES and not ep.escalated:
                due.append((ep.first_at + self.fault_limit, "fault_unfixed", key))
            if state.flap_since is not None and state.changes:
                due.append((state.changes[-1] + self.flap_window, "flap_end", key))
        return due

    def _advance(self, now: datetime, inclusive: bool) -> list[Alert]:
        """Fire every deadline before `now` (or at it, for `expire`), earliest first."""
        alerts: list[Alert] = []
        while True:
            due = [d for d in self._deadlines() if d[0] < now or (inclusive and d[0] == now)]
            if not due:
                return alerts
            at, kind, key = min(due, key=lambda d: (d[0], d[1]))
            if kind == "offline":
                self.offline_at = at
                alerts.append(self._offline_alert("firing", at))
                continue
            assert key is not None
            state = self.types[key]
            ep = state.episode
            if kind == "auto_close" and ep is not None:
                alerts.extend(self._close(state, ep, at))
            elif kind == "fault_unfixed" and ep is not None:
                ep.escalated = True
                alerts.append(self._fault_alert(ep, "firing", at))
            elif kind == "flap_end":
                alerts.extend(self._end_flapping(state, at))

    # -- event types ------------------------------------------------------------------------------

    def _track(self, event: SecurityEvent) -> list[Alert]:
        at, key = event.occurred_at, (event.event_type, event.channel)
        state = self.types.setdefault(key, TypeState())
        momentary = event.source_format == "gb28181" and event.vendor_type != KEEPALIVE_ERROR
        alerts: list[Alert] = []
        if event.state == "inactive":
            if state.active:
                alerts.extend(self._change(state, at))
            state.active = False
            state.last_inactive_at = at if state.last_inactive_at is None else max(state.last_inactive_at, at)
            ep = state.episode
            if ep is not None and ep.is_open and at >= ep.first_at:
                alerts.extend(self._close(state, ep, at, event))
            return alerts
        if momentary or not state.active:  # a GB alarm is always a rising edge
            alerts.extend(self._change(state, at))
        state.active = not momentary
        ep = state.episode
        if ep is not None and self._joins(ep, at):
            reopened = not ep.is_open and ep.closed_at is not None and at > ep.closed_at
            was_open, severity = ep.is_open, ep.severity
            ep.take(event)
            if reopened:
                ep.closed_at = None
            quiet = was_open and ep.emitted_at is not None and at - ep.emitted_at < self.dedup
            if not (quiet and ep.severity == severity):  # a plain repeat shortly after an update: counted only
                alerts.extend(self._emit_episode(state, ep, at))
            return alerts
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
        if not momentary and state.last_inactive_at is not None and state.last_inactive_at >= at:
            ep.closed_at = state.last_inactive_at  # its inactive arrived first (out of order)
            state.active = False
        state.episode = ep
        alerts.extend(self._emit_episode(state, ep, at))
        return alerts

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

    def _close(self, state: TypeState, ep: Episode, at: datetime, event: SecurityEvent | None = None) -> list[Alert]:
        ep.closed_at = at
        if event is not None:
            ep.events = [*ep.events, event][-EVIDENCE_EVENTS:]
        alerts: list[Alert] = []
        if ep.escalated:
            alerts.append(self._fault_alert(ep, "resolved", at))
        if state.flap_since is None and ep.revision > 0:
            alerts.append(self._episode_alert(ep, "resolved", at))
        return alerts

    def _keepalive_ok(self, event: SecurityEvent) -> list[Alert]:
        """An OK GB Keepalive resolves a fault that error Keepalives reported."""
        alerts: list[Alert] = []
        for state in self.types.values():
            ep = state.episode
            if ep is not None and ep.is_open and ep.from_keepalive and event.occurred_at >= ep.last_at:
                state.active = False
                alerts.extend(self._close(state, ep, event.occurred_at, event))
        return alerts

    def _emit_episode(self, state: TypeState, ep: Episode, at: datetime) -> list[Alert]:
        if ep.severity == "info" or state.flap_since is not None:
            return []  # background events, or flapping: the flapping alert speaks for them
        return [self._episode_alert(ep, "firing" if ep.is_open else "resolved", at)]

    # -- flapping ---------------------------------------------------------------------------------

    def _change(self, state: TypeState, at: datetime) -> list[Alert]:
        state.changes.append(at)
        if len(state.changes) > 1 and state.changes[-2] > at:  # late change: keep the deque sorted
            state.changes = deque(sorted(state.changes))
        horizon = state.changes[-1] - self.flap_window
        while state.changes and state.changes[0] < horizon:
            state.changes.popleft()
        if state.flap_since is not None or len(state.changes) <= self.rules.flapping_changes:
            return []
        state.flap_since = state.changes[0]
        alerts = [self._flap_alert(state, "firing", at)]
        ep = state.episode
        if ep is not None and ep.revision > 0 and ep.severity != "info":
            alerts.append(self._episode_alert(ep, "suppressed", at))
        return alerts

    def _end_flapping(self, state: TypeState, at: datetime) -> list[Alert]:
        alerts = [self._flap_alert(state, "resolved", at)]
        state.flap_since, state.flap_revision = None, 0
        state.changes.clear()
        ep = state.episode
        if ep is not None and ep.severity != "info" and (ep.is_open or ep.revision > 0):
            alerts.append(self._episode_alert(ep, "firing" if ep.is_open else "resolved", at))
        return alerts

    # -- alerts -----------------------------------------------------------------------------------

    def _alert(
        self,
        rule: str,
        window: str,
        severity: Severity,
        status: AlertStatus,
        occurred_at: datetime,
        detected_at: datetime,
        title: str,
        detail: str,
        evidence: list[dict[str, Any]],
    ) -> Alert:
        return Alert(
            fingerprint=alert_fingerprint("security", rule, self.device_id, window),
            domain="security",
            rule=rule,
            severity=severity,
            status=status,
            subject=self.device_id,
            school_id=self.school_id,
            district=self.district,
            occurred_at=occurred_at,
            detected_at=max(detected_at, occurred_at),
            title=title,
            detail=detail,
            evidence=evidence,
        )

    def _episode_alert(self, ep: Episode, status: AlertStatus, at: datetime) -> Alert:
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
        title = TITLES[ep.event_type]
        detail = (
            f"設備 {self.device_id} 通道 {ep.channel}：{title}，共 {ep.count} 次，"
            f"首次 {local_text(ep.first_at)}，最近 {local_text(ep.last_at)}"
        )
        if ep.closed_at is not None:
            detail += f"，{local_text(ep.closed_at)} 已恢復"
        return self._alert(
            f"security.{ep.event_type}",
            ep.episode_id,
            ep.severity,
            status,
            ep.first_at,
            at,
            title,
            detail,
            [summary, *(e.model_dump(mode="json") for e in ep.events)],
        )

    def _fault_alert(self, ep: Episode, status: AlertStatus, at: datetime) -> Alert:
        hours = self.rules.fault_unfixed_h
        summary = {
            "kind": "fault_unfixed",
            "event_type": ep.event_type,
            "episode": ep.episode_id,
            "fault_since": ep.first_at.isoformat(),
            "limit_h": hours,
            "closed_at": ep.closed_at.isoformat() if ep.closed_at else None,
            "opened": status == "firing",
        }
        detail = (
            f"設備 {self.device_id} 的{TITLES[ep.event_type]}自 {local_text(ep.first_at)} 起"
            f"超過 {hours:g} 小時未修復（GB/T 29315：故障應在 24 小時內修復），請安排維修"
        )
        return self._alert(
            "security.fault_unfixed",
            f"{ep.event_type}/{ep.episode_id}",
            "high",
            status,
            ep.first_at + self.fault_limit,
            at,
            "故障超時未修復",
            detail,
            [summary],
        )

    def _flap_alert(self, state: TypeState, status: AlertStatus, at: datetime) -> Alert:
        assert state.flap_since is not None
        ep = state.episode
        event_type = ep.event_type if ep else "other"
        channel = ep.channel if ep else 1
        state.flap_revision += 1
        summary = {
            "kind": "flapping",
            "event_type": event_type,
            "channel": channel,
            "changes_in_window": len(state.changes),
            "window_s": self.rules.flapping_window_s,
            "revision": state.flap_revision,
            "opened": state.flap_revision == 1,
        }
        detail = (
            f"設備 {self.device_id} 通道 {channel} 的{TITLES[event_type]}"
            f"在 {self.rules.flapping_window_s} 秒內狀態變化超過 {self.rules.flapping_changes} 次，"
            "已合併為一條告警；請檢查設備或偵測參數"
        )
        window = f"{event_type}/ch{channel}@{state.flap_since.isoformat()}"
        return self._alert(
            "security.flapping",
            window,
            "warning",
            status,
            state.flap_since,
            at,
            "告警頻繁抖動",
            detail,
            [summary],
        )

    def _offline_alert(self, status: AlertStatus, at: datetime, returned_at: datetime | None = None) -> Alert:
        assert self.offline_at is not None and self.offline_after is not None and self.last_seen is not None
        self.offline_revision = self.offline_revision + 1 if status == "resolved" else 1
        last_seen = self.offline_at - self.offline_after
        summary = {
            "kind": "offline",
            "last_seen": last_seen.isoformat(),
            "threshold_s": self.offline_after.total_seconds(),
            "returned_at": returned_at.isoformat() if returned_at else None,
            "revision": self.offline_revision,
            "opened": status == "firing",
        }
        detail = f"設備 {self.device_id} 自 {local_text(last_seen)} 起無任何上報（心跳超時）"
        if returned_at is not None:
            detail += f"，{local_text(returned_at)} 恢復上報"
        severity: Severity = "high" if self.device is not None and self.device.kind == "alarm_box" else "warning"
        return self._alert(
            "security.device_offline",
            self.offline_at.isoformat(),
            severity,
            status,
            self.offline_at,
            at,
            TITLES["device_offline"],
            detail,
            [summary],
        )

    def _unknown_alert(self, event: SecurityEvent) -> Alert:
        summary = {"kind": "unknown_device", "first_seen": event.occurred_at.isoformat(), "opened": True}
        detail = (
            f"設備 {self.device_id} 不在設備登記冊中，但已上報「{TITLES[event.event_type]}」；"
            "請核實設備歸屬並登記（safecampus registry load）"
        )
        return self._alert(
            "security.unknown_device",
            "",
            "warning",
            "firing",
            event.occurred_at,
            event.occurred_at,
            "未登記設備",
            detail,
            [summary, event.model_dump(mode="json")],
        )
