"""The raw envelope: a device's original bytes plus where and when we received them.

Raw topics and replay files carry exactly this; nothing is rewritten before it is stored once.
Binary frames (JT/T 808) travel as hex, text payloads (XML, JSON, CSV) as text.

Example (one JSONL line of a replay file):
    {"domain": "bus", "source": "jt808", "encoding": "hex", "payload": "7e0200...7e",
     "received_at": "2026-09-01T07:00:00+00:00", "gateway": "jt808-gw-1", "key": "013800138000"}
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import Field

from safecampus.schemas.common import Domain, PlausibleTime, Record

PayloadEncoding = Literal["text", "hex", "base64"]

# Source formats the connectors understand; a domain issue adds its wire formats here.
SourceFormat = Literal[
    "isapi",  # Hikvision ISAPI EventNotificationAlert XML
    "gb28181",  # GB/T 28181 MANSCDP Notify XML (Alarm, Keepalive)
    "alarmbox",  # one-key alarm boxes, fence and access-control sensors (JSON)
    "counter",  # pick-up centres' vehicle counters and barrier controllers (JSON)
    "jt808",  # JT/T 808 frame, hex
    "bus-json",  # the simulator's documented JSON bus fix
    "ledger-json",  # a canteen ledger entry as JSON
    "ledger-csv",  # one CSV row of a canteen ledger export (with header line)
    "canteen-survey-json",  # a semester's satisfaction survey of a canteen (connectors/canteen)
    "supplier-rating-json",  # a canteen's rating of a supplier for a semester
    "canteen-disclosure-json",  # a month's accounts published by the school
    "inspection-json",  # a fire-safety inspection form as JSON
    "inspection-csv",  # the rows of one inspection from an inspection app's CSV or XLSX export (with header)
]


class RawEnvelope(Record):
    """One record as received: original payload, source format, receive time, gateway."""

    domain: Domain
    source: SourceFormat
    payload: str
    encoding: PayloadEncoding = "text"
    content_type: str = "application/json"
    received_at: PlausibleTime
    gateway: str = Field(default="file", max_length=64)
    key: str | None = Field(default=None, max_length=64, description="device / terminal / canteen id")

    def payload_bytes(self) -> bytes:
        """The original bytes the device sent."""
        if self.encoding == "hex":
            return bytes.fromhex(self.payload)
        if self.encoding == "base64":
            return base64.b64decode(self.payload, validate=True)
        return self.payload.encode("utf-8")

    @classmethod
    def of_bytes(cls, data: bytes, **fields: object) -> RawEnvelope:
        """Wrap original bytes, choosing text when they are UTF-8 and hex otherwise."""
        try:
            return cls(payload=data.decode("utf-8"), encoding="text", **fields)  # type: ignore[arg-type]
        except UnicodeDecodeError:
            return cls(payload=data.hex(), encoding="hex", **fields)  # type: ignore[arg-type]
