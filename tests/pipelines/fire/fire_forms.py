"""Inspection forms for the fire tests: envelopes of the JSON form, a detector run, the last update per alert."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from safecampus.pipelines.fire import FirePipeline
from safecampus.pipelines.fire.detector import FireDetector
from safecampus.schemas.alert import Alert
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.fire import FireInspection

PATROL = ("C01", "E01", "V01")


def at(day: str, clock: str = "08:30") -> datetime:
    """A local (Beijing) time on a day of 2026, e.g. at("09-10", "16:30")."""
    return datetime.fromisoformat(f"2026-{day}T{clock}:00+08:00")


def envelope(fields: dict[str, Any]) -> RawEnvelope:
    return RawEnvelope(
        domain="fire",
        source="inspection-json",
        payload=json.dumps(fields, ensure_ascii=False),
        received_at=datetime(2026, 9, 1, tzinfo=UTC),
    )


def form(
    pipeline: FirePipeline,
    inspection_id: str,
    when: datetime,
    fail: dict[str, dict[str, Any]] | None = None,
    passed: Iterable[str] = PATROL,
    kind: str = "patrol",
    role: str = "patrol_staff",
    institution: str = "T001",
) -> FireInspection:
    """One decoded form: the items in `passed` pass unless `fail` names them (item → finding fields)."""
    fail = fail or {}
    codes = list(dict.fromkeys([*passed, *fail]))
    fields = {
        "inspection_id": inspection_id,
        "institution_id": institution,
        "inspector_role": role,
        "kind": kind,
        "inspected_at": when.isoformat(),
        "checklist": [{"item_code": c, "result": "fail" if c in fail else "pass"} for c in codes],
        "findings": [{"item_code": c, **f} for c, f in fail.items()],
    }
    (inspection,) = pipeline.decode(envelope(fields))
    return inspection


def run(detector: FireDetector, forms: Iterable[FireInspection], until: datetime | None = None) -> list[Alert]:
    alerts: list[Alert] = []
    for inspection in forms:
        alerts += detector.observe(inspection)
    if until is not None:
        alerts += detector.expire(until)
    return alerts


def last_updates(alerts: Iterable[Alert]) -> dict[str, Alert]:
    out: dict[str, Alert] = {}
    for alert in alerts:
        out[alert.fingerprint] = alert
    return out


def of_rule(alerts: Iterable[Alert], rule: str) -> list[Alert]:
    return [a for a in alerts if a.rule == rule]
