"""Per-device security detection: the rules of one device, driven in event-time order.

`SecurityDetector` is the `Detector` of one device (the pipeline's subject). Time is event time
throughout; the batch runner feeds a device's events in event-time order and then calls
`expire(end of input)`, the streaming runner sets an event-time timer at `next_deadline()`.
`detected_at` is the event time at which the detector knew (deterministic on replay).

The detector only coordinates; each rule is its own module, with its slice of `SecurityRules`:
    episodes.py  one deduplicated alert per episode of a type on a channel (`dedup_window_s`)
    flapping.py  too many state changes → one flapping alert, the type muted (`flapping_*`)
    offline.py   silent past the heartbeat interval × `offline_interval_factor`
    faults.py    a fault open longer than `fault_unfixed_h`
    unknown.py   a device not in the registry, once
    school_checks.py  the school's guards and police linkage, once per service day (its anchor device only)
    congestion.py  a pick-up centre's occupancy and queue at drop-off and pick-up (its counting devices only)
Deadlines (offline, a GB alarm's self-close, unfixed fault, calm after flapping) fire earliest
first, before the event that passes them; at one instant in the order auto-close, unfixed fault,
end of flapping, offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from safecampus.config import SecurityRules
from safecampus.pipelines.domain import Detector
from safecampus.pipelines.security.congestion import CentreCongestion
from safecampus.pipelines.security.context import DeviceContext, TypeKey
from safecampus.pipelines.security.episodes import Episode, Episodes, EpisodeTrack, is_momentary
from safecampus.pipelines.security.faults import FaultEscalation
from safecampus.pipelines.security.flapping import Flapping, FlapState
from safecampus.pipelines.security.offline import Offline
from safecampus.pipelines.security.school_checks import SchoolChecks, SchoolFacts
from safecampus.pipelines.security.unknown import UnknownDevice
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.security import SecurityEvent

DeadlineKind = Literal["offline", "auto_close", "flap_end", "fault_unfixed", "congestion"]
COUNTS: frozenset[str] = frozenset({"vehicle_count", "vehicle_passage"})  # a centre's counts: no alarm of their own
Deadline = tuple[datetime, DeadlineKind, TypeKey | None]


@dataclass
class TypeSlot:
    """The state the rules keep about one (event type, channel) of the device."""

    track: EpisodeTrack = field(default_factory=EpisodeTrack)
    flap: FlapState = field(default_factory=FlapState)


class SecurityDetector(Detector[SecurityEvent]):
    """Detection state of one device. Example: `SecurityPipeline(settings, view).new_detector(device_id)`."""

    def __init__(
        self,
        device_id: str,
        device: SecurityDevice | None,
        rules: SecurityRules,
        district: str | None = None,
        school: SchoolFacts | None = None,
        congestion: CentreCongestion | None = None,
    ) -> None:
        """`school` is given to the detector of the device that speaks for its school (school_checks.py),
        `congestion` to that of a device counting a pick-up centre's vehicles (congestion.py)."""
        context = DeviceContext.of(device_id, device, district)
        self.device_id, self.device = device_id, device
        self.episodes = Episodes(context, rules.dedup_window_s, rules)
        self.flapping = Flapping(context, rules.flapping_changes, rules.flapping_window_s)
        self.faults = FaultEscalation(context, rules.fault_unfixed_h)
        self.offline = Offline(context, rules.offline_interval_factor)
        self.unknown = UnknownDevice(context)
        self.school = SchoolChecks(school) if school is not None else None
        self.congestion = congestion
        self.types: dict[TypeKey, TypeSlot] = {}

    # -- the Detector interface -------------------------------------------------------------

    def observe(self, event: SecurityEvent) -> list[Alert]:
        at = event.occurred_at
        alerts = self._advance(at, inclusive=False)  # a gap before this event may have opened timers
        alerts.extend(self.unknown.observe(event))
        if self.school is not None:
            alerts.extend(self.school.observe(event))
        alerts.extend(self.offline.seen(at))
        if event.event_type in COUNTS:
            if self.congestion is not None:
                alerts.extend(self.congestion.observe(event))
            return alerts
        if event.event_type == "heartbeat":
            for slot in self.types.values():  # an OK GB Keepalive resolves faults error Keepalives reported
                fixed = self.episodes.keepalive_closes(slot.track, at)
                if fixed is not None:
                    alerts.extend(self._close(slot, fixed, at, event))
            return alerts
        alerts.extend(self._track(event))
        return alerts

    def expire(self, now: datetime) -> list[Alert]:
        return self._advance(now, inclusive=True)

    def take_records(self) -> list[Record]:
        return list(self.congestion.take_days()) if self.congestion is not None else []

    def next_deadline(self) -> datetime | None:
        due = self._deadlines()
        return min(d[0] for d in due) if due else None

    # -- timers ---------------------------------------------------------------------------------

    def _deadlines(self) -> list[Deadline]:
        due: list[Deadline] = []
        offline = self.offline.due_at()
        if offline is not None:
            due.append((offline, "offline", None))
        crowded = self.congestion.next_deadline() if self.congestion is not None else None
        if crowded is not None:
            due.append((crowded, "congestion", None))
        for key, slot in self.types.items():  # the guards only spare calls on the hot path
            ep = slot.track.episode
            if ep is not None and ep.closed_at is None:
                closes = self.episodes.auto_close_at(ep) if ep.momentary else None
                if closes is not None:
                    due.append((closes, "auto_close", key))
                unfixed = None if ep.escalated else self.faults.due_at(ep)
                if unfixed is not None:
                    due.append((unfixed, "fault_unfixed", key))
            calm = self.flapping.end_at(slot.flap) if slot.flap.since is not None else None
            if calm is not None:
                due.append((calm, "flap_end", key))
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
                alerts.append(self.offline.fire(at))
                continue
            if kind == "congestion" and self.congestion is not None:
                alerts.extend(self.congestion.expire(at))
                continue
            assert key is not None
            slot = self.types[key]
            ep = slot.track.episode
            if kind == "auto_close" and ep is not None:
                alerts.extend(self._close(slot, ep, at))
            elif kind == "fault_unfixed" and ep is not None:
                alerts.append(self.faults.fire(ep, at))
            elif kind == "flap_end":
                alerts.extend(self._end_flapping(slot, at))

    # -- one event type on one channel ----------------------------------------------------------

    def _track(self, event: SecurityEvent) -> list[Alert]:
        at, key = event.occurred_at, (event.event_type, event.channel)
        slot = self.types.get(key)
        if slot is None:
            slot = self.types[key] = TypeSlot()
        momentary = is_momentary(event)
        alerts: list[Alert] = []
        if self.episodes.changes_state(slot.track, event.state, momentary):
            alerts.extend(self._change(slot, at))
        if event.state == "inactive":
            closing = self.episodes.inactive(slot.track, at)
            if closing is not None:
                alerts.extend(self._close(slot, closing, at, event))
            return alerts
        alerts.extend(self.episodes.active(slot.track, event, momentary, muted=slot.flap.since is not None))
        return alerts

    def _change(self, slot: TypeSlot, at: datetime) -> list[Alert]:
        """A state change counts towards flapping; when flapping begins, the type's alert is muted."""
        ep = slot.track.episode
        flapping = self.flapping.change(slot.flap, at, ep)
        if flapping is None:
            return []
        alerts = [flapping]
        if ep is not None and ep.revision > 0 and ep.severity != "info":
            alerts.append(self.episodes.alert(ep, "suppressed", at))
        return alerts

    def _end_flapping(self, slot: TypeSlot, at: datetime) -> list[Alert]:
        """Calm again: the flapping alert resolves and the type's own alert tells its real state."""
        ep = slot.track.episode
        alerts = [self.flapping.end(slot.flap, at, ep)]
        if ep is not None and ep.severity != "info" and (ep.is_open or ep.revision > 0):
            alerts.append(self.episodes.alert(ep, "firing" if ep.is_open else "resolved", at))
        return alerts

    def _close(self, slot: TypeSlot, ep: Episode, at: datetime, event: SecurityEvent | None = None) -> list[Alert]:
        self.episodes.close(ep, at, event)
        alerts = self.faults.closed(ep, at)
        alerts.extend(self.episodes.resolved(ep, at, muted=slot.flap.since is not None))
        return alerts
