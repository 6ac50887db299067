"""The synthetic city's registry: districts, schools, devices, buses, routes, canteens, institutions.

Deterministic for a seed. Some rows break the rules on purpose (an expired operator licence,
a driver over 60, a school short of guards, a nursery on the 4th floor); `registry_anomalies`
lists them as ground truth.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import SQLModel

from safecampus.schemas.registry import (
    CHANGZHOU_DISTRICTS,
    Bus,
    BusOperator,
    Canteen,
    ChildcareCalendarDate,
    ChildcareInstitution,
    District,
    Driver,
    GtfsAgency,
    GtfsCalendar,
    GtfsFeedInfo,
    GtfsRoute,
    GtfsShapePoint,
    GtfsStop,
    GtfsStopTime,
    GtfsTrip,
    PickupCentre,
    School,
    SecurityDevice,
)

CITY_CENTRE = (31.78, 119.95)  # Changzhou
STAGES = ("kindergarten", "primary", "primary", "junior", "senior", "vocational")
ROLES = ("gate", "gate", "perimeter", "classroom", "classroom", "dormitory", "canteen", "playground", "office")


@dataclass
class City:
    """The registry rows of the synthetic city, and which rows are anomalies by design."""

    districts: list[District] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    centres: list[PickupCentre] = field(default_factory=list)
    devices: list[SecurityDevice] = field(default_factory=list)
    operators: list[BusOperator] = field(default_factory=list)
    buses: list[Bus] = field(default_factory=list)
    drivers: list[Driver] = field(default_factory=list)
    canteens: list[Canteen] = field(default_factory=list)
    institutions: list[ChildcareInstitution] = field(default_factory=list)
    gtfs: list[SQLModel] = field(default_factory=list)
    registry_anomalies: list[dict[str, str]] = field(default_factory=list)
    childcare_dates: list[ChildcareCalendarDate] = field(default_factory=list)
    start: date = date(2026, 9, 1)  # the first simulated day (the registry is as of then)

    def rows(self) -> list[SQLModel]:
        return [
            *self.districts,
            *self.schools,
            *self.centres,
            *self.devices,
            *self.operators,
            *self.buses,
            *self.drivers,
            *self.canteens,
            *self.institutions,
            *self.childcare_dates,
            *self.gtfs,
        ]


KITCHENS = {"K001": range(140, 145), "K002": range(145, 150)}  # central kitchen → the canteens it cooks for


def _add_central_kitchens(city: City) -> None:
    """Two central kitchens, each cooking for five canteens (no random draws: the rest of the city is unchanged)."""
    for kitchen_id, served in KITCHENS.items():
        for n in served:
            city.canteens[n].kitchen_id = kitchen_id
        city.canteens.append(
            Canteen(
                canteen_id=kitchen_id,
                school_id=city.canteens[served[0]].school_id,
                granted_subsidy_cny=0.0,
                kind="central_kitchen",
            )
        )


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        round(lat + north_m / 111_320.0, 6),
        round(lon + east_m / (111_320.0 * math.cos(math.radians(lat))), 6),
    )


def build_city(seed: int = 2026, schools: int = 160, on: date = date(2026, 9, 1)) -> City:
    """The city for `seed`: ≥150 schools, ~3,200 devices, 60 buses on 10 routes, 80 institutions."""
    rng = random.Random(seed)
    city = City(districts=[District(district_id=d, name=n) for d, n in CHANGZHOU_DISTRICTS])
    district_ids = [d for d, _ in CHANGZHOU_DISTRICTS]
    for i in range(schools):
        lat, lon = _offset(*CITY_CENTRE, rng.uniform(-22_000, 22_000), rng.uniform(-25_000, 25_000))
        enrolment = rng.randint(60, 2600)
        required = 1 if enrolment < 100 else 2 if enrolment < 1000 else 3 + (enrolment - 1000) // 500
        short = i % 23 == 5
        school = School(
            school_id=f"S{i:04d}",
            name=f"常州市第{i + 1}学校",
            district_id=district_ids[i % 7],
            stage=STAGES[i % len(STAGES)],
            enrolment=enrolment,
            boarding=i % 5 == 0,
            lat=lat,
            lon=lon,
            guards=required - 1 if short else required + rng.randint(0, 1),
            closed_management=i % 41 != 7,
            guard_post_at_gate=i % 37 != 3,
        )
        city.schools.append(school)
        if short:
            city.registry_anomalies.append({"domain": "security", "kind": "guards_short", "subject": school.school_id})
        for d in range(20):
            kind = "alarm_box" if d == 0 else "fence" if d == 1 else "access_control" if d == 2 else "camera"
            vendor = "generic" if kind != "camera" else ("gb28181" if d % 4 == 3 else "hikvision")
            # Cameras carry national 20-digit GB/T 28181 ids (type 131 camera, 132 IPC), as city networks assign.
            device_id = (
                f"32040{i:03d}00{131 if vendor == 'hikvision' else 132}{d:07d}"
                if kind == "camera"
                else (f"CZ-{i:04d}-{d:02d}")
            )
            linked = not (kind in ("alarm_box", "camera") and d in (0, 4) and i % 17 == 2)
            city.devices.append(
                SecurityDevice(
                    device_id=device_id,
                    school_id=school.school_id,
                    kind=kind,
                    vendor=vendor,
                    channel=1,
                    location_role="gate" if d in (0, 3) else "perimeter" if d == 1 else ROLES[d % len(ROLES)],
                    linked_to_police=linked,
                    heartbeat_interval_s=1800 if kind != "camera" else 900,
                    # Hikvision cameras answer ISAPI/RTSP on the school's private network; every 9th
                    # school's NVR keeps 15 days of video, short of the 30 the rule asks.
                    address=f"10.{i // 250}.{i % 250}.{10 + d}" if vendor == "hikvision" else None,
                    video_retention_days=15 if kind == "camera" and i % 9 == 4 else None,
                )
            )
            if not linked:
                city.registry_anomalies.append(
                    {"domain": "security", "kind": "not_linked_to_police", "subject": device_id}
                )
    _build_transport(city, rng, on)
    for i, school in enumerate(city.schools[:150]):
        city.canteens.append(
            Canteen(
                canteen_id=f"C{i:04d}",
                school_id=school.school_id,
                granted_subsidy_cny=float(rng.choice((20000, 30000, 50000))),
            )
        )
    _add_central_kitchens(city)
    for i in range(80):
        floor = 4 if i % 19 == 4 else rng.randint(1, 3)
        building = "basement" if i % 29 == 9 else "ordinary"
        inst = ChildcareInstitution(
            institution_id=f"T{i:03d}",
            name=f"托育机构{i + 1}",
            district_id=district_ids[i % 7],
            floor=floor,
            building_type=building,
            capacity=rng.randint(20, 120),
            key_unit=i % 4 == 0,
        )
        city.institutions.append(inst)
        if floor >= 4 or building != "ordinary":
            city.registry_anomalies.append(
                {"domain": "fire", "kind": "location_noncompliant", "subject": inst.institution_id}
            )
    _childcare_calendar(city, on)
    _add_pickup_centres(city)
    return city


PICKUP_CENTRES = 8  # at the schools of the first eight custom routes: their buses end at the centre


def _add_pickup_centres(city: City) -> None:
    """Underground pick-up centres at the schools of routes CZ01–CZ08, each with a camera and a counting device:
    a vehicle counter at odd-numbered centres, a barrier controller (lane 1 in, lane 2 out) at even ones. No
    random draws, and their devices come last: the rest of the city and its traffic are unchanged."""
    for r in range(PICKUP_CENTRES):
        school = city.schools[r * 11]
        centre = PickupCentre(
            centre_id=f"PC{r + 1:02d}",
            name=f"{school.name}地下接送中心",
            school_id=school.school_id,
            lat=school.lat,
            lon=school.lon,
            geofence_m=80.0,
            capacity=40 + 10 * (r % 3),
        )
        city.centres.append(centre)
        counting = "counter" if r % 2 == 0 else "barrier"
        for kind, device_id, interval in (
            (counting, f"CZ-{centre.centre_id}-{'CNT' if counting == 'counter' else 'BAR'}", 600),
            ("camera", f"32040{900 + r:03d}00132{1:07d}", 900),
        ):
            city.devices.append(
                SecurityDevice(
                    device_id=device_id,
                    school_id=school.school_id,
                    kind=kind,
                    vendor="gb28181" if kind == "camera" else "generic",
                    location_role="pickup_centre",
                    linked_to_police=True,
                    heartbeat_interval_s=interval,
                    site_id=centre.centre_id,
                )
            )


def _childcare_calendar(city: City, on: date) -> None:
    """Opening days, the last full inspection and drill the bureau knew of, and the National Day holiday
    (no random draws: the rest of the city is unchanged). Key units drilled about 6 months ago."""
    city.start = on
    for n, inst in enumerate(city.institutions):
        inst.open_weekdays = "123456" if n % 10 == 3 else "12345"
        inst.last_full_inspection_on = on - timedelta(days=1 + n % 25)
        inst.last_drill_on = on - timedelta(days=(170 + n % 7) if inst.key_unit else 200)
    holiday = date(on.year, 10, 1)
    city.childcare_dates += [
        ChildcareCalendarDate(scope="*", on=holiday + timedelta(days=d), open=False, note="国庆节") for d in range(7)
    ]
    workday = ChildcareCalendarDate(scope="*", on=holiday + timedelta(days=9), open=True, note="调休上班")
    city.childcare_dates.append(workday)


def _build_transport(city: City, rng: random.Random, on: date) -> None:
    """10 custom campus routes as GTFS, 6 operators, 60 buses, their drivers."""
    for k in range(6):
        expired = k == 5
        city.operators.append(
            BusOperator(
                operator_id=f"OP{k}",
                name=f"常州校车运营公司{k + 1}",
                licence_expires_on=on - timedelta(days=30) if expired else on + timedelta(days=400 + 50 * k),
            )
        )
    city.gtfs.append(
        GtfsAgency(agency_id="CZEDU", agency_name="常州市教育局定制校车", agency_url="https://jyj.changzhou.gov.cn/")
    )
    city.gtfs.append(
        GtfsFeedInfo(
            feed_publisher_name="常州市教育局",
            feed_publisher_url="https://jyj.changzhou.gov.cn/",
            feed_start_date=f"{on.year}0901",
            feed_end_date=f"{on.year + 1}0131",
            feed_version=on.isoformat(),
            feed_contact_url="https://jyj.changzhou.gov.cn/",
        )
    )
    city.gtfs.append(
        GtfsCalendar(
            service_id="SCHOOLDAYS",
            monday=1,
            tuesday=1,
            wednesday=1,
            thursday=1,
            friday=1,
            saturday=0,
            sunday=0,
            start_date=f"{on.year}0901",
            end_date=f"{on.year + 1}0131",
        )
    )
    for r in range(10):
        school = city.schools[r * 11]
        route_id = f"CZ{r + 1:02d}"
        city.gtfs.append(
            GtfsRoute(
                route_id=route_id,
                agency_id="CZEDU",
                route_short_name=f"定制校车{r + 1}",
                route_long_name=f"{school.name}定制专线",
                route_type=3,
            )
        )
        heading = rng.uniform(0, 2 * math.pi)
        points = [_offset(school.lat, school.lon, 9000 * math.cos(heading), 9000 * math.sin(heading))]
        for _ in range(40):  # a wandering road from the housing estate to the school
            lat, lon = points[-1]
            to_n = (school.lat - lat) * 111_320.0
            to_e = (school.lon - lon) * 111_320.0 * math.cos(math.radians(lat))
            dist = math.hypot(to_n, to_e)
            step = min(dist, 260.0)
            jitter = rng.uniform(-0.35, 0.35)
            angle = math.atan2(to_e, to_n) + jitter
            points.append(_offset(lat, lon, step * math.cos(angle), step * math.sin(angle)))
        points.append((school.lat, school.lon))
        shape_id = f"SH{route_id}"
        city.gtfs.extend(
            GtfsShapePoint(shape_id=shape_id, shape_pt_sequence=s, shape_pt_lat=p[0], shape_pt_lon=p[1])
            for s, p in enumerate(points)
        )
        stop_points = [points[j] for j in (0, 6, 12, 18, 24, 30, 36, len(points) - 1)]
        for s, (lat, lon) in enumerate(stop_points):
            city.gtfs.append(
                GtfsStop(stop_id=f"{route_id}-{s}", stop_name=f"{route_id}第{s + 1}站", stop_lat=lat, stop_lon=lon)
            )
        for b in range(6):
            bus_no = r * 6 + b
            operator = city.operators[bus_no % 6]
            terminal = f"0138{bus_no:08d}"
            bus = Bus(
                bus_id=f"B{bus_no:03d}",
                plate=f"苏D{bus_no:05d}",
                terminal_id=terminal,
                operator_id=operator.operator_id,
                school_id=school.school_id,
                route_id=route_id,
                seats=rng.choice((35, 45, 56)),
                last_inspected_on=on - timedelta(days=250 if bus_no == 17 else rng.randint(10, 170)),
                report_interval_s=15,
            )
            city.buses.append(bus)
            trip_id = f"{route_id}-AM-{b}"
            city.gtfs.append(
                GtfsTrip(
                    trip_id=trip_id,
                    route_id=route_id,
                    service_id="SCHOOLDAYS",
                    shape_id=shape_id,
                    trip_headsign=school.name,
                    direction_id=0,
                )
            )
            start_s = 6 * 3600 + 40 * 60 + b * 300  # buses leave 5 min apart from 06:40
            for s in range(len(stop_points)):
                at = start_s + s * 300
                hhmmss = f"{at // 3600:02d}:{at % 3600 // 60:02d}:00"
                city.gtfs.append(
                    GtfsStopTime(
                        trip_id=trip_id,
                        stop_sequence=s,
                        stop_id=f"{route_id}-{s}",
                        arrival_time=hhmmss,
                        departure_time=hhmmss,
                        timepoint=1,
                    )
                )
            age = 62 if bus_no == 23 else rng.randint(30, 55)
            years = 2 if bus_no == 41 else rng.randint(5, 25)
            city.drivers.append(Driver(driver_id=f"D{bus_no:03d}", bus_id=bus.bus_id, age=age, years_licensed=years))
            if operator.licence_expires_on < on:
                city.registry_anomalies.append(
                    {"domain": "bus", "kind": "operator_licence_expired", "subject": terminal}
                )
            if age > 60 or years < 3:
                city.registry_anomalies.append({"domain": "bus", "kind": "driver_out_of_rules", "subject": terminal})
            if bus_no == 17:
                city.registry_anomalies.append({"domain": "bus", "kind": "inspection_overdue", "subject": terminal})
