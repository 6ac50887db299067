"""Registry tables (sqlmodel): the city's schools, pick-up centres, devices, buses, routes, canteens, institutions.

Loaded by `safecampus registry load DIR` from CSV files and a GTFS feed. No personal names:
drivers are kept by id, age and years licensed.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel

# Changzhou's districts as the bureau names them (天宁区 … 常州经开区).
# What a person calls a device's place on campus (SecurityDevice.location_role).
LOCATION_ROLE_NAMES: dict[str, str] = {
    "gate": "校门",
    "dormitory": "宿舍",
    "canteen": "食堂",
    "classroom": "教学楼",
    "perimeter": "周界",
    "playground": "操场",
    "office": "办公区",
    "pickup_centre": "接送中心",
}

CHANGZHOU_DISTRICTS: tuple[tuple[str, str], ...] = (
    ("tianning", "天宁区"),
    ("zhonglou", "钟楼区"),
    ("xinbei", "新北区"),
    ("wujin", "武进区"),
    ("jintan", "金坛区"),
    ("liyang", "溧阳市"),
    ("jingkai", "常州经开区"),
)


class District(SQLModel, table=True):
    district_id: str = Field(primary_key=True)
    name: str


class School(SQLModel, table=True):
    school_id: str = Field(primary_key=True)
    name: str
    district_id: str = Field(index=True, foreign_key="district.district_id")
    stage: str  # kindergarten, primary, junior, senior, vocational
    enrolment: int
    boarding: bool
    lat: float
    lon: float
    guards: int = 0
    closed_management: bool = True
    guard_post_at_gate: bool = True  # 护学岗


class PickupCentre(SQLModel, table=True):
    """A school's (underground) pick-up centre, a monitored site: where it is, its geofence and its size.

    Its devices (cameras, barriers, counters) name it in `SecurityDevice.site_id`, with the location role
    `pickup_centre`; buses inside `geofence_m` of (lat, lon) are at the centre (arrivals and dwell)."""

    centre_id: str = Field(primary_key=True)
    name: str
    school_id: str = Field(index=True, foreign_key="school.school_id")
    lat: float
    lon: float
    geofence_m: float = 80.0  # radius of the site around (lat, lon), metres
    capacity: int  # vehicle bays: occupancy is judged against it ([pickup] occupancy_ratio)


class SecurityDevice(SQLModel, table=True):
    device_id: str = Field(primary_key=True)
    school_id: str = Field(index=True, foreign_key="school.school_id")
    kind: str  # camera, nvr, alarm_box, fence, access_control, barrier, counter
    vendor: str  # hikvision, gb28181, generic
    channel: int = 1
    location_role: str  # gate, dormitory, canteen, classroom, perimeter, playground, office, pickup_centre
    linked_to_police: bool
    heartbeat_interval_s: int
    address: str | None = None  # host[:port] a Hikvision device answers ISAPI and RTSP on
    parent_id: str | None = None  # GB/T 28181: the NVR a channel belongs to on the video platform
    video_retention_days: int | None = None  # days this channel keeps video, when not the rule's 30
    site_id: str | None = None  # the pick-up centre (PickupCentre.centre_id) the device watches, if any


class BusOperator(SQLModel, table=True):
    operator_id: str = Field(primary_key=True)
    name: str
    licence_expires_on: date


class Bus(SQLModel, table=True):
    bus_id: str = Field(primary_key=True)
    plate: str = Field(index=True)
    terminal_id: str = Field(index=True, unique=True)
    operator_id: str = Field(foreign_key="busoperator.operator_id")
    school_id: str | None = Field(default=None, foreign_key="school.school_id")
    route_id: str | None = None
    seats: int
    last_inspected_on: date
    report_interval_s: int = 15


class Driver(SQLModel, table=True):
    driver_id: str = Field(primary_key=True)
    bus_id: str | None = Field(default=None, foreign_key="bus.bus_id")
    age: int
    years_licensed: int
    clean_record: bool = True


class Canteen(SQLModel, table=True):
    """A school canteen, or a central kitchen (`kind`) that cooks for the canteens naming it in `kitchen_id`;
    its costs are allocated to them by meals served. `granted_subsidy_cny` is the fiscal subsidy per month."""

    canteen_id: str = Field(primary_key=True)
    school_id: str = Field(index=True, foreign_key="school.school_id")
    granted_subsidy_cny: float
    kind: str = "canteen"  # canteen, central_kitchen
    kitchen_id: str | None = None  # the central kitchen that cooks for this canteen


class ChildcareInstitution(SQLModel, table=True):
    institution_id: str = Field(primary_key=True)
    name: str
    district_id: str = Field(index=True, foreign_key="district.district_id")
    floor: int
    building_type: str  # ordinary, basement, three_in_one, steel_panel, hazardous_storage
    capacity: int
    key_unit: bool = False  # a fire-safety key unit (消防安全重点单位): drills every 6 months
    open_weekdays: str = "12345"  # ISO weekdays it is open (1 Monday … 7 Sunday)
    last_full_inspection_on: date | None = None  # as the bureau knew it when the registry was loaded
    last_drill_on: date | None = None


class ChildcareCalendarDate(SQLModel, table=True):
    """An exception to institutions' weekly opening days, as GTFS calendar_dates: a holiday, a make-up day."""

    scope: str = Field(primary_key=True)  # an institution id, or "*" for every institution
    on: date = Field(primary_key=True)
    open: bool = False
    note: str | None = None


# GTFS tables keep the standard's field names so any feed loads, not only ours.
class GtfsAgency(SQLModel, table=True):
    """GTFS agency.txt: who runs the routes (required by GTFS; the bureau for the custom campus routes)."""

    agency_id: str = Field(primary_key=True)
    agency_name: str
    agency_url: str
    agency_timezone: str = "Asia/Shanghai"
    agency_lang: str | None = "zh"
    agency_phone: str | None = None


class GtfsFeedInfo(SQLModel, table=True):
    """GTFS feed_info.txt: who publishes the feed, in which language, for which dates (recommended by GTFS)."""

    feed_publisher_name: str = Field(primary_key=True)
    feed_publisher_url: str
    feed_lang: str = "zh"
    feed_start_date: str | None = None  # YYYYMMDD
    feed_end_date: str | None = None
    feed_version: str | None = None
    feed_contact_url: str | None = None


class GtfsRoute(SQLModel, table=True):
    route_id: str = Field(primary_key=True)
    agency_id: str | None = None
    route_short_name: str | None = None
    route_long_name: str | None = None
    route_type: int = 3


class GtfsStop(SQLModel, table=True):
    stop_id: str = Field(primary_key=True)
    stop_name: str | None = None
    stop_lat: float | None = None
    stop_lon: float | None = None


class GtfsTrip(SQLModel, table=True):
    trip_id: str = Field(primary_key=True)
    route_id: str = Field(index=True)
    service_id: str
    shape_id: str | None = None
    trip_headsign: str | None = None
    direction_id: int | None = None


class GtfsStopTime(SQLModel, table=True):
    trip_id: str = Field(primary_key=True)
    stop_sequence: int = Field(primary_key=True)
    stop_id: str
    arrival_time: str | None = None  # HH:MM:SS, may pass 24:00
    departure_time: str | None = None
    timepoint: int | None = None


class GtfsShapePoint(SQLModel, table=True):
    shape_id: str = Field(primary_key=True)
    shape_pt_sequence: int = Field(primary_key=True)
    shape_pt_lat: float
    shape_pt_lon: float


class GtfsCalendar(SQLModel, table=True):
    service_id: str = Field(primary_key=True)
    monday: int
    tuesday: int
    wednesday: int
    thursday: int
    friday: int
    saturday: int
    sunday: int
    start_date: str  # YYYYMMDD
    end_date: str
