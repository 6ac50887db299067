"""Offline: a device silent for `offline_interval_factor` × its registered heartbeat interval.

`security.device_offline` fires at last seen + threshold (event time, so a replay is
deterministic) and resolves when the device reports again; any record counts, late ones too.
An alarm box offline is high (a one-key alarm could not get through), any other device warning.
A device with no known heartbeat interval (not in the registry, or 0) has no offline rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.security.context import TITLES, DeviceContext
from safecampus.schemas.alert import Alert, AlertStatus
from safecampus.schemas.common import Severity, local_text


class Offline:
    """The offline rule of one device (`offline_interval_factor`, the registry's heartbeat interval)."""

    def __init__(self, device: DeviceContext, offline_interval_factor: float) -> None:
        self.device = device
        known = device.device
        self.after = (
            timedelta(seconds=known.heartbeat_interval_s * offline_interval_factor)
            if known and known.heartbeat_interval_s > 0
            else None
        )
        self.severity: Severity = "high" if known is not None and known.kind == "alarm_box" else "warning"
        self.last_seen: datetime | None = None
        self.offline_at: datetime | None = None  # start of the open offline alert
        self.revision = 0

    def due_at(self) -> datetime | None:
        """When the device counts as offline, unless it reports before."""
        if self.after is not None and self.last_seen is not None and self.offline_at is None:
            return self.last_seen + self.after
        return None

    def fire(self, at: datetime) -> Alert:
        self.offline_at = at
        return self.alert("firing", at)

    def seen(self, at: datetime) -> list[Alert]:
        """The device reported at `at`: the resolve of an open offline alert, if any."""
        alerts = []
        if self.offline_at is not None:
            alerts.append(self.alert("resolved", at, returned_at=at))
            self.offline_at = None
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        return alerts

    def alert(self, status: AlertStatus, at: datetime, returned_at: datetime | None = None) -> Alert:
        assert self.offline_at is not None and self.after is not None and self.last_seen is not None
        self.revision = self.revision + 1 if status == "resolved" else 1
        last_seen = self.offline_at - self.after
        summary = {
            "kind": "offline",
            "last_seen": last_seen.isoformat(),
            "threshold_s": self.after.total_seconds(),
            "returned_at": returned_at.isoformat() if returned_at else None,
            "revision": self.revision,
            "opened": status == "firing",
        }
        device = self.device
        detail = f"设备 {device.device_id} 自 {local_text(last_seen)} 起无任何上报（心跳超时）"
        if returned_at is not None:
            detail += f"，{local_text(returned_at)} 恢复上报"
        return new_alert(
            domain="security",
            rule="security.device_offline",
            subject=device.device_id,
            window=self.offline_at.isoformat(),
            severity=self.severity,
            status=status,
            occurred_at=self.offline_at,
            detected_at=at,
            title=TITLES["device_offline"],
            detail=detail,
            evidence=[summary],
            school_id=device.school_id,
            district=device.district,
        )
