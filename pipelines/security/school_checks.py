"""Registry rules of a school, once per service day: enough guards, alarms linked to the police.

`security.guards_short` (GB/T 29315-2022: full-time guards by enrolment, `required_guards`) and
`security.not_linked_to_police` (one-key alarm boxes and cameras not linked to the police's
platform) are facts of the registry, but the control room must see them as alerts, not only as
a "4个100%" ratio. Both are about the school (the subject is the school id, the window the
service day), so they are raised once per school per local day, on the first event of that day
of the school's *anchor* device: its first one-key alarm box by id (the guard room's device),
else its first device. Detection is per device and nothing is shared between devices, so one
device per school speaks for it; a school whose anchor sends nothing all day is not checked.

Police linkage is one alert per school listing its unlinked devices, not one per device: the
control room acts per school (one call to its security office gets the devices linked), and a
school with ten unlinked cameras is one incident, not ten. It is high when a one-key alarm box is
among them (its alarm does not reach 110), a warning for cameras alone. Short of guards is high.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from safecampus.pipelines.alerts import new_alert
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, Severity
from safecampus.schemas.registry import LOCATION_ROLE_NAMES, School, SecurityDevice
from safecampus.schemas.security import SecurityEvent

KIND_NAMES: dict[str, str] = {"alarm_box": "一键报警装置", "camera": "视频监控"}


@dataclass(frozen=True, slots=True)
class SchoolFacts:
    """What the registry says about one school, for its anchor device's detector."""

    school: School
    district: str | None
    guards_required: int
    unlinked: tuple[SecurityDevice, ...]  # alarm boxes and cameras not linked to the police


def anchor_device(devices: Sequence[SecurityDevice]) -> SecurityDevice | None:
    """The device that speaks for its school: its first one-key alarm box by id, else its first device."""
    return min(devices, key=lambda d: (d.kind != "alarm_box", d.device_id), default=None)


class SchoolChecks:
    """The registry rules of one school, run on the first event of each service day of its anchor."""

    def __init__(self, facts: SchoolFacts) -> None:
        self.facts = facts
        self._days: set[date] = set()

    def observe(self, event: SecurityEvent) -> list[Alert]:
        day = event.occurred_at.astimezone(SHANGHAI).date()
        if day in self._days:
            return []
        self._days.add(day)
        return self.checks(event, day)

    def checks(self, event: SecurityEvent, day: date) -> list[Alert]:
        facts, school = self.facts, self.facts.school
        who = f"{school.name}（{school.school_id}）"
        alerts: list[Alert] = []

        def alert(rule: str, severity: Severity, title: str, detail: str, evidence: list[dict[str, object]]) -> Alert:
            summary = {
                "kind": "registry_check",
                "service_day": day.isoformat(),
                "opened": True,
                "event_id": event.event_id,  # the anchor's record that the check ran on (its input line)
            }
            return new_alert(
                domain="security",
                rule=rule,
                subject=school.school_id,
                window=day.isoformat(),
                severity=severity,
                occurred_at=event.occurred_at,
                detected_at=event.occurred_at,
                title=title,
                detail=detail,
                evidence=[summary, *evidence],
                school_id=school.school_id,
                district=facts.district,
            )

        if school.guards < facts.guards_required:
            detail = (
                f"{who}在校学生 {school.enrolment} 人，按 GB/T 29315-2022 应配专职保安 {facts.guards_required} 名，"
                f"登记在岗 {school.guards} 名，缺 {facts.guards_required - school.guards} 名。"
            )
            numbers = {
                "kind": "guards",
                "enrolment": school.enrolment,
                "guards_required": facts.guards_required,
                "guards_present": school.guards,
            }
            alerts.append(alert("security.guards_short", "high", "专职保安人数不足", detail, [numbers]))
        if facts.unlinked:
            place = LOCATION_ROLE_NAMES.get
            listed = "；".join(
                f"{place(d.location_role, d.location_role)}{KIND_NAMES.get(d.kind, d.kind)} {d.device_id}"
                for d in facts.unlinked
            )
            boxes = any(d.kind == "alarm_box" for d in facts.unlinked)
            detail = f"{who}有 {len(facts.unlinked)} 台报警设备未与公安联网：{listed}。"
            if boxes:
                detail += "一键报警无法直达公安 110。"
            devices: list[dict[str, object]] = [
                {"kind": "unlinked_device", "device_id": d.device_id, "device_kind": d.kind, "role": d.location_role}
                for d in facts.unlinked
            ]
            alerts.append(
                alert(
                    "security.not_linked_to_police",
                    "high" if boxes else "warning",
                    "报警设备未与公安联网",
                    detail,
                    devices,
                )
            )
        return alerts
