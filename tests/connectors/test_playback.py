"""From an alarm to the picture: playback links of GB/T 28181 and Hikvision channels, and their expiry.

The golden URLs are written out by hand from the two protocols' documents (wvp-GB28181-pro's
PlaybackController, Hikvision's ISAPI playbackURI), not computed by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from safecampus.config import SecurityRules, Settings
from safecampus.connectors.registry import RegistryView
from safecampus.connectors.security.playback import playback_link
from safecampus.dashboards.alertmanager import postable
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.security import SecurityPipeline
from safecampus.schemas.common import Record
from safecampus.schemas.registry import District, School, SecurityDevice
from safecampus.schemas.security import SecurityEvent

ALARM = datetime(2026, 12, 2, 8, 15, 0, tzinfo=UTC)  # 16:15 in Beijing
GB_CAM, GB_NVR, HIK, BOX = "32040000001320000003", "32040000001180000001", "32040000001310000004", "CZ-0000-00"


def device(device_id: str, vendor: str, **fields: object) -> SecurityDevice:
    values: dict[str, object] = {
        "device_id": device_id,
        "school_id": "S1",
        "kind": "camera",
        "vendor": vendor,
        "location_role": "gate",
        "linked_to_police": True,
        "heartbeat_interval_s": 900,
        **fields,
    }
    return SecurityDevice.model_validate(values)


def test_gb28181_link_is_the_platforms_playback_of_the_channel_and_window() -> None:
    link = playback_link(device(GB_CAM, "gb28181", parent_id=GB_NVR), 1, ALARM, SecurityRules())
    assert link is not None and link.vendor == "gb28181"
    assert link.url == (
        "http://127.0.0.1:18080/api/playback/start/32040000001180000001/32040000001320000003"
        "?startTime=2026-12-02%2016%3A14%3A30&endTime=2026-12-02%2016%3A16%3A00"
    )
    assert (link.device_id, link.channel) == (GB_NVR, GB_CAM)
    assert (link.start, link.end) == (ALARM - timedelta(seconds=30), ALARM + timedelta(seconds=60))


def test_gb28181_camera_registered_on_its_own_is_its_own_device_and_pattern_is_configurable() -> None:
    rules = SecurityRules(
        playback_before_s=10,
        playback_after_s=20,
        gb28181_playback_url="https://video.cz.edu/play/{device_id}/{channel_id}?from={start}&to={end}",
    )
    link = playback_link(device(GB_CAM, "gb28181"), 1, ALARM, rules)
    assert link is not None
    assert link.url == (
        "https://video.cz.edu/play/32040000001320000003/32040000001320000003"
        "?from=2026-12-02%2016%3A14%3A50&to=2026-12-02%2016%3A15%3A20"
    )


def test_hikvision_link_is_the_isapi_track_of_the_channel_in_utc() -> None:
    link = playback_link(device(HIK, "hikvision", kind="nvr", address="10.0.4.13"), 3, ALARM, SecurityRules())
    assert link is not None and link.vendor == "hikvision"
    assert link.url == "rtsp://10.0.4.13/Streaming/tracks/301?starttime=20261202T081430Z&endtime=20261202T081600Z"
    assert link.search == "http://10.0.4.13/ISAPI/ContentMgmt/search"
    assert link.channel == "301"


def test_no_link_without_video_or_without_an_address() -> None:
    rules = SecurityRules()
    assert playback_link(device(BOX, "generic", kind="alarm_box"), 1, ALARM, rules) is None
    assert playback_link(device(HIK, "hikvision"), 1, ALARM, rules) is None  # no address in the registry
    assert playback_link(None, 1, ALARM, rules) is None  # a device the registry does not know


def test_expiry_follows_the_channels_own_retention_else_the_rules() -> None:
    rules = SecurityRules()
    kept_30 = playback_link(device(GB_CAM, "gb28181"), 1, ALARM, rules)
    kept_15 = playback_link(device(GB_CAM, "gb28181", video_retention_days=15), 1, ALARM, rules)
    assert kept_30 is not None and kept_15 is not None
    twenty_days_on = ALARM + timedelta(days=20)
    assert kept_15.expired(twenty_days_on) and not kept_30.expired(twenty_days_on)
    assert "已过期" in kept_15.text(twenty_days_on) and kept_15.url not in kept_15.text(twenty_days_on)
    assert kept_30.text(twenty_days_on) == f"回放 playback: {kept_30.url}"
    assert kept_30.expired(ALARM + timedelta(days=30))


def test_a_pattern_with_an_unknown_placeholder_is_refused_when_settings_load() -> None:
    with pytest.raises(ValidationError, match="may use only"):
        SecurityRules(isapi_playback_url="rtsp://{host}/Streaming/tracks/{track}")


def _pipeline() -> SecurityPipeline:
    rows: list[Record] = [
        District(district_id="tianning", name="天宁区"),
        School(
            school_id="S1",
            name="一",
            district_id="tianning",
            stage="primary",
            enrolment=800,
            boarding=False,
            lat=31.7,
            lon=119.9,
            guards=3,
        ),  # fmt: skip
        device(GB_CAM, "gb28181", parent_id=GB_NVR),
        device(HIK, "hikvision", address="10.0.4.13", video_retention_days=15),
    ]
    return SecurityPipeline(Settings(), RegistryView.of_rows(rows))


def _intrusion(device_id: str, source: str, channel: int) -> SecurityEvent:
    return SecurityEvent(
        event_id=f"{device_id}/intrusion",
        device_id=device_id,
        channel=channel,
        source_format=source,
        vendor_type=f"{source}:intrusion",
        event_type="intrusion",
        occurred_at=ALARM,
        severity="high",
        school_id="S1",
    )


def test_a_camera_alert_from_the_detector_carries_its_link_to_alertmanager_and_the_topic() -> None:
    pipeline = _pipeline()
    events = [(GB_CAM, _intrusion(GB_CAM, "gb28181", 1)), (HIK, _intrusion(HIK, "isapi", 2))]
    alerts = {a.subject: a for a in detect_shard(pipeline, events, None).alerts if a.rule == "security.intrusion"}
    gb, hik = alerts[GB_CAM].playback, alerts[HIK].playback
    assert gb is not None and f"/{GB_NVR}/{GB_CAM}?startTime=2026-12-02%2016%3A14%3A30" in gb.url
    assert hik is not None and hik.url.startswith("rtsp://10.0.4.13/Streaming/tracks/201?starttime=20261202T081430Z")
    assert '"playback"' in alerts[HIK].model_dump_json()  # what the alerts topic carries
    soon, later = ALARM + timedelta(hours=1), ALARM + timedelta(days=16)
    assert postable(alerts[HIK], soon, 30)["annotations"]["playback"] == f"回放 playback: {hik.url}"
    assert "已过期" in postable(alerts[HIK], later, 30)["annotations"]["playback"]  # kept 15 days only
    assert postable(alerts[GB_CAM], later, 30)["annotations"]["playback"].endswith(gb.url)  # kept 30
