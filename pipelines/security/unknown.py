"""Unknown device: a device that reports but is not in the registry → one `security.unknown_device`.

One warning per device, on its first record of any type, so a person can find out whose it is
and register it; its events still flow, without school or district.
"""

from __future__ import annotations

from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.security.context import TITLES, DeviceContext
from safecampus.schemas.alert import Alert
from safecampus.schemas.security import SecurityEvent


class UnknownDevice:
    """The unknown-device rule: fires once for a device the registry does not know."""

    def __init__(self, device: DeviceContext) -> None:
        self.device = device
        self.reported = device.device is not None  # a registered device has nothing to report

    def observe(self, event: SecurityEvent) -> list[Alert]:
        if self.reported:
            return []
        self.reported = True
        summary = {"kind": "unknown_device", "first_seen": event.occurred_at.isoformat(), "opened": True}
        device_id = self.device.device_id
        detail = (
            f"设备 {device_id} 不在设备登记册中，但已上报「{TITLES[event.event_type]}」；"
            "请核实设备归属并登记（safecampus registry load）"
        )
        return [
            new_alert(
                domain="security",
                rule="security.unknown_device",
                subject=device_id,
                window="",
                severity="warning",
                status="firing",
                occurred_at=event.occurred_at,
                detected_at=event.occurred_at,
                title="未登记设备",
                detail=detail,
                evidence=[summary, event.model_dump(mode="json")],
                school_id=self.device.school_id,
                district=self.device.district,
            )
        ]
