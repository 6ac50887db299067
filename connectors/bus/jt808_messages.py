"""The bodies of JT/T 808 messages as dataclasses, and the bits of a location report's flag words.

Layouts follow JT/T 808-2013 and JT/T 808-2019; the flag bits are the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from safecampus.connectors.bus.jt808_frame import Jt808Header, Jt808Version

ExtraValue: TypeAlias = int | float | str

# Alarm flag bits of 0x0200 (JT/T 808 table "报警标志位定义"; same bits in 2013 and 2019).
ALARM_EMERGENCY = 1 << 0
ALARM_OVERSPEED = 1 << 1
ALARM_FATIGUE = 1 << 2
ALARM_DANGER_WARNING = 1 << 3
ALARM_GNSS_FAULT = 1 << 4
ALARM_POWER_UNDERVOLTAGE = 1 << 7
ALARM_POWER_LOSS = 1 << 8
ALARM_OVERSPEED_WARNING = 1 << 13
ALARM_FATIGUE_WARNING = 1 << 14
ALARM_DRIVING_TIME_EXCEEDED = 1 << 18
ALARM_PARKING_TIMEOUT = 1 << 19
ALARM_AREA_IN_OUT = 1 << 20
ALARM_ROUTE_IN_OUT = 1 << 21
ALARM_SECTION_TIME = 1 << 22
ALARM_ROUTE_DEVIATION = 1 << 23
ALARM_VSS_FAULT = 1 << 24
ALARM_FUEL_ABNORMAL = 1 << 25
ALARM_STOLEN = 1 << 26
ALARM_ILLEGAL_IGNITION = 1 << 27
ALARM_ILLEGAL_DISPLACEMENT = 1 << 28
ALARM_COLLISION_WARNING = 1 << 29
ALARM_ROLLOVER_WARNING = 1 << 30
ALARM_ILLEGAL_DOOR_OPENING = 1 << 31

# Status flag bits of 0x0200 (JT/T 808 table "状态位定义").
STATUS_ACC_ON = 1 << 0
STATUS_POSITIONED = 1 << 1
STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3
STATUS_OUT_OF_SERVICE = 1 << 4
STATUS_DOOR_LOCKED = 1 << 12
STATUS_DOOR1_OPEN = 1 << 13  # door 1 is the front door
STATUS_DOOR2_OPEN = 1 << 14

# Additional items of 0x0200 decoded to numbers: id → (byte length, divisor or None for raw int).
KNOWN_EXTRA: dict[int, tuple[int, int | None]] = {
    0x01: (4, 10),  # mileage, 0.1 km
    0x02: (2, 10),  # fuel, 0.1 L
    0x03: (2, 10),  # speed from the tachograph, 0.1 km/h
    0x25: (4, None),  # extended vehicle signal status bits
    0x30: (1, None),  # wireless signal strength
    0x31: (1, None),  # GNSS satellites in use
}

# Registration field widths (maker id, model, terminal id) differ between the versions.
REGISTRATION_WIDTHS: dict[Jt808Version, tuple[int, int, int]] = {"2013": (5, 20, 7), "2019": (11, 30, 30)}


@dataclass(frozen=True)
class LocationReport:
    """One position fix (0x0200 body, or one item of 0x0704). South/west are negative degrees."""

    lat_deg: float
    lon_deg: float
    time: datetime
    altitude_m: int = 0
    speed_kmh: float = 0.0
    direction_deg: int = 0
    alarm_flags: int = 0
    status_flags: int = 0
    extra: dict[int, ExtraValue] = field(default_factory=dict)
    lenient: tuple[str, ...] = ()  # what the terminal bent and we accepted, e.g. "extra_item_overrun"


@dataclass(frozen=True)
class LocationBatch:
    """0x0704: several fixes; batch_type 0 is a normal batch, 1 a blind-area (stored) upload."""

    locations: tuple[LocationReport, ...]
    batch_type: int = 0


@dataclass(frozen=True)
class Registration:
    """0x0100 terminal registration."""

    province_id: int
    city_id: int
    maker_id: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str


@dataclass(frozen=True)
class Authentication:
    """0x0102 terminal authentication; imei and software_version exist only in 2019."""

    token: str
    imei: str = ""
    software_version: str = ""


@dataclass(frozen=True)
class GeneralReply:
    """0x8001 platform general reply (also 0x0001, the terminal's general reply)."""

    reply_serial: int
    reply_id: int
    result: int


@dataclass(frozen=True)
class ResendRequest:
    """0x8003: the serial of a split message's first piece and the indices (1-based) to send again."""

    first_serial: int
    indices: tuple[int, ...]


@dataclass(frozen=True)
class RegistrationReply:
    """0x8100 registration reply; auth_code is present only when result is 0."""

    reply_serial: int
    result: int
    auth_code: str = ""


Payload: TypeAlias = (
    LocationReport
    | LocationBatch
    | Registration
    | Authentication
    | GeneralReply
    | RegistrationReply
    | ResendRequest
    | None
)


@dataclass(frozen=True)
class Jt808Message:
    """A decoded frame, or a split message joined from its pieces (then `header.package` is None and
    `body` the pieces' bodies in order). `payload` is None for empty bodies and for a piece on its own."""

    header: Jt808Header
    body: bytes
    payload: Payload

    @property
    def message_id(self) -> int:
        return self.header.message_id

    @property
    def version(self) -> Jt808Version:
        return self.header.version

    @property
    def phone(self) -> str:
        return self.header.phone

    @property
    def serial(self) -> int:
        return self.header.serial
