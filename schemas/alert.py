"""The one Alert schema for every domain, deduplicated by fingerprint (as in Alertmanager and Keep)."""

from __future__ import annotations

import hashlib
from datetime import datetime
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


class PlaybackLink(Record):
    """Where the control room sees what a camera or NVR channel recorded around an alarm.

    `url` plays the window [start, end] (a GB/T 28181 platform's playback API, or a Hikvision RTSP
    playbackURI); `search` is the ISAPI record search for the track, when the device has one.
    After `expires_at` (the alarm time plus the days the channel keeps video) nothing is left to see.
    """

    vendor: Literal["gb28181", "hikvision"]
    device_id: str
    channel: str = Field(description="the GB/T 28181 channel id, or the ISAPI track (101 = channel 1 main stream)")
    start: AwareDatetime
    end: AwareDatetime
    url: str
    search: str | None = None
    retention_days: int
    expires_at: AwareDatetime

    def expired(self, now: datetime) -> bool:
        """Whether the channel has already overwritten this window's video at `now`."""
        return now >= self.expires_at

    def text(self, now: datetime) -> str:
        """One line for a person: the link, or that its video has expired (已过期)."""
        if self.expired(now):
            kept = f"video kept {self.retention_days} days, gone since {self.expires_at:%Y-%m-%d}"
            return f"回放已过期 playback expired: {kept}"
        return f"回放 playback: {self.url}"


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
    playback: PlaybackLink | None = Field(
        default=None, exclude_if=lambda link: link is None, description="a camera or NVR channel's video"
    )


# What a person calls each rule (Simplified Chinese). Families end in "." and take the last part's name.
RULE_NAMES: dict[str, str] = {
    "bus.overspeed": "校车超速",
    "bus.off_route": "校车偏离核定路线",
    "bus.late_arrival": "校车到站晚点",
    "bus.terminal_silent": "车载终端失联",
    "bus.no_all_off": "未确认学生全部下车",
    "bus.unregistered": "未登记校车终端",
    "bus.operator_licence_expired": "运营企业许可过期",
    "bus.driver_out_of_rules": "驾驶员不符合资格",
    "bus.inspection_overdue": "安全技术检验逾期",
    "bus.terminal_alarm.": "车载终端报警",
    "security.device_offline": "设备离线",
    "security.fault_unfixed": "故障超时未修复",
    "security.flapping": "告警频繁抖动",
    "security.unknown_device": "未登记设备",
    "security.guards_short": "专职保安不足",
    "security.not_linked_to_police": "未与公安联网",
    "security.one_key_alarm": "一键报警",
    "security.intrusion": "区域入侵",
    "security.tripwire": "越界侦测",
    "security.loitering": "徘徊逗留",
    "security.fence": "周界围栏报警",
    "security.forced_door": "门禁被强行打开",
    "security.video_loss": "视频丢失",
    "security.tamper": "镜头遮挡或破坏",
    "security.storage_fault": "存储故障",
    "security.device_fault": "设备故障",
    "security.": "安防事件",
    "canteen.single_person_acceptance": "验收人数不足",
    "canteen.red_flag.": "食堂经费违规列支",
    "fire.area_closed": "重大隐患区域停用",
    "fire.hazard_overdue": "隐患逾期未整改",
    "fire.rectification_unconfirmed": "整改未确认销号",
    "fire.patrol_missing": "防火巡查次数不足",
    "fire.monthly_inspection_missing": "月度防火检查缺失",
    "fire.drill_overdue": "消防演练逾期",
    "fire.location_noncompliant": "设置场所不符合要求",
    "fire.unknown_institution": "未登记托育机构",
    "fire.hazard.location": "设置场所隐患",
    "fire.hazard.ebike": "电动车或电池隐患",
    "fire.hazard.video": "视频监控隐患",
    "fire.hazard.": "消防隐患",
}


def rule_name(rule: str) -> str:
    """The Chinese name of a rule id (its family's name for e.g. `bus.terminal_alarm.emergency`), else the id."""
    if rule in RULE_NAMES:
        return RULE_NAMES[rule]
    family = rule.rpartition(".")[0] + "."
    return RULE_NAMES.get(family, rule)
