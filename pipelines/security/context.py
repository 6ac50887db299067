"""What every security rule shares: the device it watches, the alert titles, the per-type key.

A rule raises alerts about one device (the pipeline's subject); `DeviceContext` carries what
each alert names besides the rule's own words: the device id, its school and district (None
for a device the registry does not know).
"""

from __future__ import annotations

from dataclasses import dataclass

from safecampus.schemas.common import Severity
from safecampus.schemas.registry import SecurityDevice
from safecampus.schemas.security import SecurityEventType

FAULT_TYPES: frozenset[str] = frozenset({"video_loss", "storage_fault", "tamper", "device_fault"})
SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "high": 2, "critical": 3}
EVIDENCE_EVENTS = 5  # alerts stay small: the latest few events behind them, plus a summary
KEEPALIVE_ERROR = "gb28181:keepalive/error"

TITLES: dict[str, str] = {
    "intrusion": "区域入侵",
    "tripwire": "越界侦测",
    "loitering": "徘徊逗留",
    "motion": "移动侦测",
    "video_loss": "视频丢失",
    "tamper": "镜头遮挡或破坏",
    "storage_fault": "存储故障",
    "one_key_alarm": "一键报警",
    "fence": "周界围栏报警",
    "forced_door": "门禁被强行打开",
    "device_offline": "设备离线",
    "device_fault": "设备故障",
    "heartbeat": "心跳",
    "vehicle_count": "车辆计数",
    "vehicle_passage": "车辆通行",
    "other": "其他事件",
}

TypeKey = tuple[SecurityEventType, int]  # (event type, channel)


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """The device a detector watches, as its alerts name it.

    Example: `DeviceContext.of("CZ-0000-00", view.devices.get("CZ-0000-00"), "tianning")`.
    """

    device_id: str
    device: SecurityDevice | None  # None: not in the registry
    school_id: str | None = None
    district: str | None = None

    @classmethod
    def of(cls, device_id: str, device: SecurityDevice | None, district: str | None = None) -> DeviceContext:
        return cls(device_id, device, device.school_id if device else None, district)
