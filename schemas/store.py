"""Fact tables of the SQL store: events, alerts and KPI snapshots, each under a natural key.

Every write is an upsert on that key, so replaying a file or a Kafka range twice changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class EventRow(SQLModel, table=True):
    domain: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    subject: str = Field(index=True)
    occurred_at: datetime = Field(index=True)
    body: str  # the normalized record, JSON


class AlertRow(SQLModel, table=True):
    fingerprint: str = Field(primary_key=True)
    domain: str = Field(index=True)
    rule: str = Field(index=True)
    severity: str
    status: str
    subject: str
    school_id: str | None = None
    district: str | None = None
    occurred_at: datetime
    detected_at: datetime
    body: str  # the Alert, JSON


class KpiRow(SQLModel, table=True):
    key: str = Field(primary_key=True)  # metric{labels}
    window_start: datetime = Field(primary_key=True)
    domain: str = Field(index=True)
    metric: str = Field(index=True)
    value: float
    window_end: datetime


class DlqRow(SQLModel, table=True):
    source_topic: str = Field(primary_key=True)
    source_partition: int = Field(primary_key=True)  # -1 for files
    source_offset: int = Field(primary_key=True)
    domain: str
    step: str
    reason: str
    payload_b64: str


class AcknowledgementRow(SQLModel, table=True):
    """Every acknowledgement an operator gave, kept as history (a later one never overwrites an earlier one)."""

    fingerprint: str = Field(primary_key=True)
    acknowledged_at: datetime = Field(primary_key=True)
    operator_id: str = Field(primary_key=True)  # an id, never a name
    comment: str = ""
