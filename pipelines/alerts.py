"""What every domain shares about alerts: the one builder, episodes, and operators' feedback.

`new_alert` is the only way a rule makes an Alert (keyword-only, the fingerprint derived from
domain, rule, subject and window). `Episode` is the pattern "open on the first bad observation,
count, alert once, resolve when it clears". `acknowledge`, `suppress` and `AlertTriage` apply
the control room's acknowledgements and suppression windows to alerts of any domain.

    >>> alert = new_alert(domain="bus", rule="bus.overspeed", subject="013800000001", window=t0.isoformat(),
    ...                   severity="high", occurred_at=t0, detected_at=t1, title="校车超速", detail="…")
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from safecampus.schemas.alert import Alert, AlertStatus, PlaybackLink, alert_fingerprint
from safecampus.schemas.common import Domain, Severity
from safecampus.schemas.operations import Acknowledgement, SuppressionWindow

Evidence = BaseModel | dict[str, Any]
ItemT = TypeVar("ItemT", bound=Evidence)


def new_alert(
    *,
    domain: Domain,
    rule: str,
    subject: str,
    window: str,
    severity: Severity,
    occurred_at: datetime,
    detected_at: datetime,
    title: str,
    detail: str = "",
    evidence: Iterable[Evidence] = (),
    status: AlertStatus = "firing",
    school_id: str | None = None,
    district: str | None = None,
    playback: PlaybackLink | None = None,
) -> Alert:
    """The one alert builder. `window` tells one incident of a rule on a subject from the next;
    `detected_at` is never before `occurred_at` (a late record is detected when it arrives);
    `playback` is the video of a camera or NVR channel around it (connectors/security/playback.py)."""
    return Alert(
        fingerprint=alert_fingerprint(domain, rule, subject, window),
        domain=domain,
        rule=rule,
        severity=severity,
        status=status,
        subject=subject,
        school_id=school_id,
        district=district,
        occurred_at=occurred_at,
        detected_at=max(detected_at, occurred_at),
        title=title,
        detail=detail,
        evidence=[_evidence(item) for item in evidence],
        playback=playback,
    )


def _evidence(item: Evidence) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True) if isinstance(item, BaseModel) else dict(item)


@dataclass
class Episode(Generic[ItemT]):
    """Consecutive bad observations of one rule on one subject; `window` keys its alert."""

    started_at: datetime
    evidence: list[ItemT] = field(default_factory=list)
    count: int = 0
    worst: float = 0.0
    alerted: bool = False

    @property
    def window(self) -> str:
        return self.started_at.isoformat()


class EpisodeTracker(Generic[ItemT]):
    """Open on the first bad observation, count, alert once, resolve when it clears.

    tracker = EpisodeTracker[BusEvent]()
    episode = tracker.bad(fix.occurred_at, fix, speed)     # opens or extends the episode
    if tracker.ready(lasted >= limit): alert(episode)       # True once per episode
    closed = tracker.clear()                                # the episode, if it had alerted
    """

    def __init__(self, max_evidence: int = 12) -> None:
        self.max_evidence = max_evidence  # evidence is for a person: the first observations tell the story
        self.open: Episode[ItemT] | None = None

    def bad(self, at: datetime, item: ItemT, value: float = 0.0) -> Episode[ItemT]:
        episode = self.open
        if episode is None:
            episode = self.open = Episode(at)
        episode.count += 1
        episode.worst = max(episode.worst, value)
        if len(episode.evidence) < self.max_evidence:
            episode.evidence.append(item)
        return episode

    def ready(self, condition: bool) -> bool:
        """Whether the open episode should alert now: `condition` holds and it has not alerted yet."""
        episode = self.open
        if episode is None or episode.alerted or not condition:
            return False
        episode.alerted = True
        return True

    def clear(self) -> Episode[ItemT] | None:
        """A good observation: the episode ends; returned when it had alerted (it needs a resolve)."""
        episode, self.open = self.open, None
        return episode if episode is not None and episode.alerted else None


class AlertOnce:
    """Each (fingerprint, status) once: replays and duplicate records add nothing."""

    def __init__(self) -> None:
        self._sent: set[tuple[str, str]] = set()

    def __call__(self, alerts: Sequence[Alert]) -> list[Alert]:
        fresh: list[Alert] = []
        for alert in alerts:
            key = (alert.fingerprint, alert.status)
            if key not in self._sent:
                self._sent.add(key)
                fresh.append(alert)
        return fresh


def _reopened_summary(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence of a re-emitted alert: its summary no longer counts as a newly opened alert, nor an
    acknowledgement it already carried as a new one (time to acknowledge is counted once)."""
    if evidence and evidence[0].get("opened"):
        evidence = [{**evidence[0], "opened": False}, *evidence[1:]]
    return [
        {**item, "new": False} if item.get("new") and item.get("kind") == "acknowledgement" else item
        for item in evidence
    ]


def acknowledge(alert: Alert, ack: Acknowledgement, new: bool = True) -> Alert:
    """The alert as acknowledged by an operator; a resolved alert stays resolved (the ack is recorded).

    `new` is False when an earlier acknowledgement is carried onto a later update of the alert,
    so time to acknowledge is counted once.
    """
    if ack.fingerprint != alert.fingerprint:
        raise ValueError(f"acknowledgement is for alert {ack.fingerprint}, not {alert.fingerprint}")
    seconds = max(0.0, (ack.acknowledged_at - alert.occurred_at).total_seconds())
    record = {
        "kind": "acknowledgement",
        "operator_id": ack.operator_id,
        "acknowledged_at": ack.acknowledged_at.astimezone(UTC).isoformat(),
        "comment": ack.comment,
        "seconds_to_ack": seconds,
        "new": new,
    }
    status = "resolved" if alert.status == "resolved" else "acknowledged"
    return alert.model_copy(update={"status": status, "evidence": [*_reopened_summary(alert.evidence), record]})


def suppress(alert: Alert, windows: Iterable[SuppressionWindow]) -> Alert:
    """A firing alert inside a school's maintenance window or fire drill becomes suppressed, when
    the window covers its rule (`SuppressionWindow.covered_rules`: those the window names, else those
    its reason implies; a drill never hides a one-key alarm or a device going offline).

    Only `firing` changes: a resolve is never hidden, and an acknowledged alert stays acknowledged.
    """
    if alert.status != "firing":
        return alert
    for window in windows:
        if window.covers(alert.school_id, alert.occurred_at, alert.rule):
            record = {
                "kind": "suppression",
                "reason": window.reason,
                "note": window.note,
                "rules": list(window.covered_rules),
                "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(),
            }
            return alert.model_copy(update={"status": "suppressed", "evidence": [*alert.evidence, record]})
    return alert


class AlertTriage:
    """Applies operators' feedback to the alert update log, fingerprint by fingerprint.

    An acknowledgement sticks to its fingerprint across later updates (a repeat stays
    acknowledged), suppression windows turn firing updates into suppressed ones, and resolves
    always pass through as resolved.

        triage = AlertTriage([SuppressionWindow(school_id="S0042", start=..., end=..., reason="fire_drill")])
        shown = [triage.apply(a) for a in detector_alerts]
        acked = triage.acknowledge(Acknowledgement(fingerprint=fp, operator_id="op-017", acknowledged_at=t))
    """

    def __init__(self, windows: Iterable[SuppressionWindow] = ()) -> None:
        self.windows: list[SuppressionWindow] = list(windows)
        self.latest: dict[str, Alert] = {}
        self.acks: dict[str, Acknowledgement] = {}

    def add_window(self, window: SuppressionWindow) -> None:
        self.windows.append(window)

    def apply(self, alert: Alert) -> Alert:
        """One update from a detector, as the control room should see it."""
        ack = self.acks.get(alert.fingerprint)
        if alert.status == "resolved":
            shown = alert
        elif ack is not None:
            shown = acknowledge(alert, ack, new=False)
        else:
            shown = suppress(alert, self.windows)
        self.latest[alert.fingerprint] = shown
        return shown

    def acknowledge(self, ack: Acknowledgement) -> Alert | None:
        """Record an acknowledgement; the acknowledged alert, or None when it has not been seen yet."""
        first = ack.fingerprint not in self.acks
        self.acks.setdefault(ack.fingerprint, ack)  # the first operator's ack is the one that counts
        alert = self.latest.get(ack.fingerprint)
        if alert is None:
            return None
        shown = acknowledge(alert, ack, new=first)
        self.latest[ack.fingerprint] = shown
        return shown


OperatorAction = Acknowledgement | SuppressionWindow
_ACK_KEYS = frozenset({"fingerprint", "operator_id", "acknowledged_at", "comment"})
_WINDOW_KEYS = frozenset({"school_id", "start", "end", "reason", "note", "rules"})
_WHAT: dict[type[OperatorAction], str] = {
    Acknowledgement: "an acknowledgement needs fingerprint, operator_id, acknowledged_at (comment is optional)",
    SuppressionWindow: "a suppression window needs school_id, start, end (reason, note and rules are optional)",
}


def read_operator_actions(path: Path) -> list[OperatorAction]:
    """Acknowledgements and suppression windows, one JSON object per line (the operations log).

    A line that is neither raises ValueError with one plain line: the file and line, what that kind
    of line needs (told by the keys it has), and the first field that is wrong, e.g.
    "ops.jsonl line 3: an acknowledgement needs …; field 'acknowledged_at' is missing".
    """
    actions: list[OperatorAction] = []
    for n, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                actions.append(operator_action(line))
            except ValueError as exc:
                raise ValueError(f"{path.name} line {n}: {exc}") from None
    return actions


def operator_action(line: bytes) -> OperatorAction:
    """One line of the operations log (a file or the topic), or ValueError saying in plain words why not."""
    try:
        fields = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(fields, dict):
        raise ValueError("not a JSON object; a line is an acknowledgement or a suppression window")
    keys = set(fields)
    kind: type[OperatorAction]
    if keys & {"fingerprint", "operator_id", "acknowledged_at"}:
        kind = Acknowledgement
    elif keys & {"school_id", "start", "end", "reason", "rules"}:
        kind = SuppressionWindow
    else:
        raise ValueError(
            "neither an acknowledgement (fingerprint, operator_id, acknowledged_at) nor a suppression window "
            f"(school_id, start, end); it has {', '.join(sorted(keys)) or 'no fields'}"
        )
    try:
        return kind.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        if not err.get("loc"):  # the model's own checks (end after start): their message is already plain
            raise ValueError(str(err["msg"]).removeprefix("Value error, ")) from None
        raise ValueError(f"{_WHAT[kind]}; {_plain_problem(err, kind)}") from None


def _plain_problem(err: ErrorDetails, kind: type[OperatorAction]) -> str:
    """One field's problem in plain words (pydantic's own messages are for programmers)."""
    where = ".".join(str(p) for p in err["loc"])
    kind_of, got = err["type"], err.get("input")
    shown = repr(got) if len(repr(got)) <= 40 else repr(got)[:37] + "..."
    field = f"field {where!r}"
    if kind_of == "missing":
        return f"{field} is missing"
    if kind_of == "extra_forbidden":
        allowed = _ACK_KEYS if kind is Acknowledgement else _WINDOW_KEYS
        return f"{field} is not one of its fields ({', '.join(sorted(allowed))})"
    if kind_of == "timezone_aware":
        return f"{field} needs a UTC offset, e.g. 2026-09-01T08:02:00+08:00 (got {shown})"
    if kind_of.startswith(("datetime", "date")):
        return f"{field} is not a date and time such as 2026-09-01T08:02:00+08:00 (got {shown})"
    if kind_of == "literal_error":
        return f"{field} must be one of {err.get('ctx', {}).get('expected', '')} (got {shown})"
    if kind_of.startswith("string_too"):
        return f"{field} {err['msg'].removeprefix('String ').lower()} (got {shown})"
    return f"{field}: {err['msg']} (got {shown})"


def triage_log(alerts: Iterable[Alert], actions: Iterable[OperatorAction]) -> list[Alert]:
    """The alert update log as the control room sees it: acknowledgements merged in time order,
    firing updates inside suppression windows shown as suppressed, resolves always kept."""
    actions = list(actions)
    triage = AlertTriage(a for a in actions if isinstance(a, SuppressionWindow))
    acks = sorted((a for a in actions if isinstance(a, Acknowledgement)), key=lambda a: a.acknowledged_at)
    shown: list[Alert] = []
    pending = list(acks)
    for alert in sorted(alerts, key=lambda a: a.detected_at):
        while pending and pending[0].acknowledged_at < alert.detected_at:
            acked = triage.acknowledge(pending.pop(0))
            if acked is not None:
                shown.append(acked)
        shown.append(triage.apply(alert))
    for ack in pending:
        acked = triage.acknowledge(ack)
        if acked is not None:
            shown.append(acked)
    return shown
