"""Playback links: what a camera or NVR channel recorded around an alarm, in each vendor's own form.

A GB/T 28181 channel is played back by the video platform the devices register with; the URL
pattern is configuration, wvp-GB28181-pro's `GET /api/playback/start/{deviceId}/{channelId}?startTime=
…&endTime=…` (yyyy-MM-dd HH:mm:ss, Beijing time) by default. A Hikvision camera or NVR is asked
itself: `POST /ISAPI/ContentMgmt/search` finds the recordings of track {channel}01, and the RTSP
playbackURI `rtsp://…/Streaming/tracks/101?starttime=20260901T141500Z&endtime=…` plays them.

    >>> link = playback_link(device, channel=1, at=alarm_time, rules=Settings().security)
    >>> link.url, link.expires_at      # None for alarm boxes, sensors and devices without an address
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from safecampus.config import SecurityRules
from safecampus.schemas.alert import PlaybackLink
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.registry import SecurityDevice

VIDEO_KINDS = frozenset({"camera", "nvr"})


def playback_link(
    device: SecurityDevice | None, channel: int, at: datetime, rules: SecurityRules
) -> PlaybackLink | None:
    """The playback of `channel` of `device` from `playback_before_s` before `at` to `playback_after_s`
    after it; None when the device records no video or the registry lacks what the URL needs."""
    if device is None or device.kind not in VIDEO_KINDS:
        return None
    start = at - timedelta(seconds=rules.playback_before_s)
    end = at + timedelta(seconds=rules.playback_after_s)
    retention = device.video_retention_days or rules.video_retention_days
    common = {"start": start, "end": end, "retention_days": retention, "expires_at": at + timedelta(days=retention)}
    if device.vendor == "gb28181":
        # The alarm's DeviceID names the channel; the platform knows it under its parent device (an NVR),
        # or under itself when the camera registered on its own.
        parent = device.parent_id or device.device_id
        url = rules.gb28181_playback_url.format(
            device_id=quote(parent, safe=""),
            channel_id=quote(device.device_id, safe=""),
            start=quote(_beijing(start)),
            end=quote(_beijing(end)),
        )
        return PlaybackLink(vendor="gb28181", device_id=parent, channel=device.device_id, url=url, **common)
    if device.vendor == "hikvision" and device.address:
        track = f"{channel}01"  # ISAPI track ids: channel × 100 + 1 is the main stream's recordings
        fields = {"address": device.address, "track": track, "start": _isapi(start), "end": _isapi(end)}
        return PlaybackLink(
            vendor="hikvision",
            device_id=device.device_id,
            channel=track,
            url=rules.isapi_playback_url.format(**fields),
            search=rules.isapi_search_url.format(**fields),
            **common,
        )
    return None


def _beijing(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _isapi(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
