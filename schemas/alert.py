"""The one Alert schema for every domain, deduplicated by fingerprint (as in Alertmanager and Keep)."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import Domain, Record, Severity

AlertStatus = Literal["firing", "resolved", "acknowledged", "suppressed"]


def alert_fingerprint(domain: str, rule: str, subject: str, window: str = "") -> str:
    """Stable id of an alert: the same problem on the same subject in the same window."""
    text = "\x1f".join((domain, rule, subject, window))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class SourceOffset(Record):
    """Where an alert's evidence came from: a Kafka coordinate or a file line."""

    topic: str
    partition: int | None = None
    offset: int | None = None


class Alert(Record):
    """An alert a person should see. `title` and `detail` are in Chinese for the control room."""

    fingerprint: str
    domain: Domain
    rule: str = Field(description="rule id, e.g. bus.overspeed, security.device_offline")
    severity: Severity
    status: AlertStatus = "firing"
    subject: str = Field(description="device, bus, canteen or institution id")
    school_id: str | None = None
    district: str | None = None
    occurred_at: AwareDatetime
    detected_at: AwareDatetime
    title: str
    detail: str = ""
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    source_offsets: list[SourceOffset] = Field(default_factory=list)
