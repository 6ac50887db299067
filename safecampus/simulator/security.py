"""A day of campus security devices: heartbeats, everyday events, and injected incidents.

Hikvision cameras post ISAPI EventNotificationAlert XML; GB/T 28181 cameras send Notify Alarm
bodies; every camera keeps alive over GB/T 28181 Keepalive; alarm boxes, fence and door sensors
send the alarm-box JSON form. Injected: night intrusion, repeated tripwire (dedup), one-key
alarms, devices going silent (offline), an unrepaired video loss, flapping, unknown devices,
forced doors, and malformed XML including an entity bomb and an external entity. The pick-up centres'
counters, barriers and cameras, with an injected congestion, are pickup.py's.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.registry import SecurityDevice
from safecampus.simulator import pickup
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local
from safecampus.simulator.security_payloads import (
    alarmbox_json,
    gb28181_alarm_xml,
    gb28181_keepalive_xml,
    gb28181_sip_message,
    isapi_alert_xml,
    isapi_multipart,
)

DAY_S = 86_400
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<EventNotificationAlert><eventType>&lol3;</eventType></EventNotificationAlert>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<EventNotificationAlert><eventType>&xxe;</eventType></EventNotificationAlert>"""


class _Emitter:
    def __init__(self, day: date, rng: random.Random) -> None:
        self.day, self.rng, self.sn = day, rng, 0

    def envelope(self, device: SecurityDevice | str, payload: bytes, source: str, at: datetime) -> RawEnvelope:
        key = device if isinstance(device, str) else device.device_id
        ctype = "application/json" if source == "alarmbox" else "application/xml"
        return RawEnvelope.of_bytes(
            payload, domain="security", source=source, content_type=ctype, received_at=at, gateway="http-gw-1", key=key
        )

    def event(self, device: SecurityDevice, kind: Any, state: Any, at_s: float) -> list[RawEnvelope]:
        """The device's payload for an event; GB/T 28181 has no "inactive", so that sends nothing."""
        at = local(self.day, at_s)
        self.sn += 1
        if device.kind != "camera":
            return [self.envelope(device, alarmbox_json(device.device_id, kind, state, at), "alarmbox", at)]
        if device.vendor == "gb28181":
            if state == "inactive":
                return []
            method, alarm_type = {
                "motion": (5, 2),
                "intrusion": (5, 6),
                "tripwire": (5, 5),
                "videoloss": (2, 1),
                "tamper": (2, 2),
            }[kind]
            body = gb28181_alarm_xml(device.device_id, 2, method, alarm_type, at, self.sn)
            if self.sn % 3 == 0:  # some platforms forward the whole SIP MESSAGE, not just its body
                body = gb28181_sip_message(body, device.device_id, cseq=self.sn, at=at)
            return [self.envelope(device, body, "gb28181", at)]
        isapi = {
            "motion": "VMD",
            "intrusion": "fielddetection",
            "tripwire": "linedetection",
            "videoloss": "videoloss",
            "tamper": "shelteralarm",
        }[kind]
        mac = "44:19:b6:" + ":".join(f"{b:02x}" for b in zlib.crc32(device.device_id.encode()).to_bytes(4, "big")[:3])
        xml = isapi_alert_xml(device.device_id, mac, device.address or "10.12.0.1", device.channel, isapi, state, at)
        if state == "active" and self.sn % 4 == 0:  # NVRs post the alert with its snapshot as multipart
            body, content_type = isapi_multipart(xml, f"boundary{self.sn:08d}")
            return [
                RawEnvelope.of_bytes(
                    body,
                    domain="security",
                    source="isapi",
                    content_type=content_type,
                    received_at=at,
                    gateway="http-gw-1",
                    key=device.device_id,
                )
            ]
        return [self.envelope(device, xml, "isapi", at)]

    def heartbeat(self, device: SecurityDevice, at_s: float) -> RawEnvelope:
        at = local(self.day, at_s)
        self.sn += 1
        if device.kind == "camera":
            return self.envelope(device, gb28181_keepalive_xml(device.device_id, self.sn), "gb28181", at)
        return self.envelope(device, alarmbox_json(device.device_id, "heartbeat", "active", at), "alarmbox", at)


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    emit = _Emitter(day, rng)
    cameras = [d for d in city.devices if d.kind == "camera" and d.site_id is None]
    silent: dict[str, tuple[float, float]] = {}
    for n, cam in enumerate(cameras[7::263][:10]):  # back after three hours
        silent[cam.device_id] = (10 * 3600 + n * 60, 13 * 3600 + n * 60)
    for n, cam in enumerate(cameras[11::397][:5]):  # gone for the rest of the day
        silent[cam.device_id] = (15 * 3600 + n * 60, DAY_S + 1)
    for device_id, (gone, _) in silent.items():
        truth.add("security", "device_offline", device_id, local(day, gone))
    for device in city.devices:
        if device.site_id is not None:
            continue  # a pick-up centre's devices: pickup.py
        gap = silent.get(device.device_id)
        phase = rng.uniform(0, device.heartbeat_interval_s)
        t = phase
        while t < DAY_S:
            if not (gap and gap[0] <= t < gap[1]):
                yield emit.heartbeat(device, t)
            t += device.heartbeat_interval_s * rng.uniform(0.97, 1.03)
        if device.kind == "camera" and not gap and rng.random() < 0.5:  # ordinary daytime motion
            at = rng.uniform(7 * 3600, 18 * 3600)
            yield from emit.event(device, "motion", "active", at)
            yield from emit.event(device, "motion", "inactive", at + rng.uniform(10, 60))
    yield from _incidents(city, emit, rng, truth, cameras)
    yield from pickup.generate(city, day, rng, truth)


def _incidents(
    city: City, emit: _Emitter, rng: random.Random, truth: GroundTruth, cameras: list[SecurityDevice]
) -> Iterator[RawEnvelope]:
    day = emit.day
    for n, cam in enumerate([c for c in cameras if c.location_role in ("perimeter", "gate", "dormitory")][3::97][:8]):
        at = (23 * 3600 + n * 300) if n % 2 else (2 * 3600 + n * 300)
        yield from emit.event(cam, "intrusion", "active", at)
        yield from emit.event(cam, "intrusion", "inactive", at + 90)
        truth.add("security", "intrusion_night", cam.device_id, local(day, at))
    for n, cam in enumerate(cameras[5::601][:5]):  # a tripwire firing five times in 40 s: one alert
        at = 9 * 3600 + n * 1000
        for k in range(5):
            yield from emit.event(cam, "tripwire", "active", at + k * 8)
        yield from emit.event(cam, "tripwire", "inactive", at + 45)
        truth.add("security", "tripwire_repeated", cam.device_id, local(day, at))
    boxes = [d for d in city.devices if d.kind == "alarm_box"]
    for n, box in enumerate(boxes[4::27][:6]):
        at = 8 * 3600 + n * 3600
        yield from emit.event(box, "one_key", "active", at)
        yield from emit.event(box, "one_key", "inactive", at + 600)
        truth.add("security", "one_key_alarm", box.device_id, local(day, at))
    for n, cam in enumerate(cameras[9::499][:3]):
        yield from emit.event(cam, "videoloss", "active", 3600 + n * 60)  # never repaired today
        truth.add("security", "video_loss_open", cam.device_id, local(day, 3600 + n * 60))
    hikvision = [c for c in cameras if c.vendor == "hikvision"]  # ISAPI reports both edges of a flap
    for n, cam in enumerate(hikvision[13::701][:3]):  # flapping motion sensor
        at = 14 * 3600 + n * 1800
        for k in range(10):
            yield from emit.event(cam, "motion", "active" if k % 2 == 0 else "inactive", at + k * 20)
        truth.add("security", "flapping", cam.device_id, local(day, at))
    fences = [d for d in city.devices if d.kind == "fence"]
    for n, fence in enumerate(fences[6::41][:4]):
        at = 1 * 3600 + n * 1200
        yield from emit.event(fence, "fence", "active", at)
        truth.add("security", "fence", fence.device_id, local(day, at))
    doors = [d for d in city.devices if d.kind == "access_control"]
    for n, door in enumerate(doors[8::39][:4]):
        at = 20 * 3600 + n * 600
        yield from emit.event(door, "door_forced", "active", at)
        truth.add("security", "forced_door", door.device_id, local(day, at))
    for n in range(3):
        ghost_at = local(day, 12 * 3600 + n * 77)
        ghost = f"CZ-9999-{n:02d}"
        yield emit.envelope(ghost, alarmbox_json(ghost, "one_key", "active", ghost_at), "alarmbox", ghost_at)
        truth.add("security", "unknown_device", ghost, ghost_at)
    for n in range(5):
        cut_at = local(day, 16 * 3600 + n * 311)
        cut = rng.randint(40, 120)
        payload = isapi_alert_xml(cameras[n].device_id, "44:19:b6:00:00:01", "10.12.0.1", 1, "VMD", "active", cut_at)
        yield emit.envelope(cameras[n], payload[:cut], "isapi", cut_at)
        truth.add("security", "malformed", cameras[n].device_id, cut_at)
    for n, hostile in enumerate((BOMB, BOMB, EXTERNAL)):
        hostile_at = local(day, 17 * 3600 + n * 97)
        yield emit.envelope(cameras[20 + n], hostile, "isapi", hostile_at)
        truth.add("security", "malformed", cameras[20 + n].device_id, hostile_at)
