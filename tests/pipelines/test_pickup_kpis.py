"""Pick-up centre KPIs: vehicles in and out, incidents per month, peak occupancy, bus arrivals and mean dwell."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import new_alert
from safecampus.pipelines.bus import BusPipeline
from safecampus.pipelines.bus.centres import CentreVisits
from safecampus.pipelines.security import SecurityPipeline
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, CentreVisit
from safecampus.schemas.registry import District, PickupCentre, School, SecurityDevice
from safecampus.schemas.security import PickupCentreDay, SecurityEvent
from safecampus.simulator.clock import local

DAY = date(2026, 9, 1)
CENTRE = PickupCentre(centre_id="PC01", name="一中接送中心", school_id="S1", lat=31.7, lon=119.9, capacity=40)
OTHER = PickupCentre(centre_id="PC02", name="二中接送中心", school_id="S1", lat=31.71, lon=119.9, capacity=40)
CAMERA, BARRIER, GATE_CAM = "CZ-PC01-CAM", "CZ-PC01-BAR", "CZ-0001-03"


def at(hour: float, day: date = DAY) -> datetime:
    return local(day, hour * 3600)


@pytest.fixture(scope="module")
def registry() -> RegistryView:
    school = School(school_id="S1", name="一", district_id="wujin", stage="primary", enrolment=900, boarding=False,
                    lat=31.7, lon=119.9, guards=2)  # fmt: skip
    devices = [
        SecurityDevice(
            device_id=device,
            school_id="S1",
            kind=kind,
            vendor="generic",
            location_role=role,
            linked_to_police=True,
            heartbeat_interval_s=600,
            site_id=site,
        )  # fmt: skip
        for device, kind, role, site in (
            (CAMERA, "camera", "pickup_centre", "PC01"),
            (BARRIER, "barrier", "pickup_centre", "PC01"),
            (GATE_CAM, "camera", "gate", None),
        )
    ]
    return RegistryView.of_rows([District(district_id="wujin", name="武进区"), school, CENTRE, OTHER, *devices])


def alert(rule: str, subject: str, moment: datetime, opened: bool = True) -> Alert:
    return new_alert(domain="security", rule=rule, subject=subject, window=moment.isoformat(), severity="high",
                     occurred_at=moment, detected_at=moment, title="t", evidence=[{"opened": opened}])  # fmt: skip


def passage(moment: datetime, direction: str) -> SecurityEvent:
    return SecurityEvent(event_id=f"{BARRIER}/{moment.timestamp()}/{direction}", device_id=BARRIER,
                         source_format="counter", vendor_type="counter:passage", event_type="vehicle_passage",
                         occurred_at=moment, severity="info", direction=direction, site_id="PC01")  # type: ignore[arg-type]  # fmt: skip


def test_security_kpis_of_a_centre(registry: RegistryView) -> None:
    pipeline = SecurityPipeline(Settings(), registry)
    events = [passage(at(7) + timedelta(seconds=k), "in") for k in range(5)]
    events += [passage(at(8) + timedelta(seconds=k), "out") for k in range(3)]
    counted = SecurityEvent(event_id="c", device_id="CZ-PC01-CNT", source_format="counter", vendor_type="counter:count",
                            event_type="vehicle_count", occurred_at=at(7.5), severity="info", occupancy=20, entered=4,
                            exited=2, site_id="PC01")  # fmt: skip
    alerts = [
        alert("security.intrusion", CAMERA, at(2)),
        alert("security.intrusion", CAMERA, at(2), opened=False),  # an update of the same alert: not counted again
        alert("security.tripwire", CAMERA, at(9, date(2026, 10, 8))),
        alert("security.device_offline", CAMERA, at(3)),  # the device's health: no incident
        alert("security.pickup_congestion", BARRIER, at(7.4)),
        alert("security.intrusion", GATE_CAM, at(2)),  # not at a centre
    ]
    days = [
        PickupCentreDay(subject=BARRIER, centre_id="PC01", day=DAY, peak_occupancy=p, peak_at=at(7.5)) for p in (30, 41)
    ]  # the same day told twice, its peak raised by a late passage; and another day
    days.append(PickupCentreDay(subject=BARRIER, centre_id="PC01", day=DAY + timedelta(days=1), peak_occupancy=12,
                                peak_at=at(7.5)))  # fmt: skip
    half = len(events) // 2  # partials of two chunks add up
    totals = {}
    for part in (
        pipeline.kpi_partials([*events[:half], counted], alerts[:3], days[:1]),
        pipeline.kpi_partials(events[half:], alerts[3:], days[1:]),
    ):
        for key, value in part.items():
            totals[key] = totals.get(key, 0.0) + value
    kpis = pipeline.finish_kpis(totals)
    centre = (("centre", "PC01"),)
    assert kpis[("pickup_vehicles_in_total", centre)] == 5 + 4
    assert kpis[("pickup_vehicles_out_total", centre)] == 3 + 2
    assert kpis[("pickup_incidents_total", (("centre", "PC01"), ("month", "2026-09")))] == 1
    assert kpis[("pickup_incidents_total", (("centre", "PC01"), ("month", "2026-10")))] == 1
    assert kpis[("pickup_incidents_total", centre)] == 2
    assert kpis[("pickup_congestion_alerts_total", centre)] == 1
    assert kpis[("pickup_peak_occupancy", centre)] == 41
    assert not [k for k in kpis if k[0].startswith("_")]
    assert not [k for k in kpis if k[0].startswith("pickup") and dict(k[1]).get("centre") != "PC01"]


def fix(moment: datetime, north_m: float) -> BusEvent:
    return BusEvent(event_id=f"T1/fix/{moment.isoformat()}", terminal_id="013800000001", occurred_at=moment,
                    lat_deg=31.7 + north_m / 111_320.0, lon_deg=119.9, positioned=True, bus_id="B001",
                    route_id="CZ01")  # fmt: skip


def test_a_bus_arrives_dwells_and_leaves(registry: RegistryView) -> None:
    visits = CentreVisits(list(registry.centres.values()))
    track = [(-500, 0), (-200, 15), (-60, 30), (0, 45), (0, 345), (70, 360), (150, 375), (300, 390)]
    found = [v for north, s in track for v in visits.observe(fix(at(7) + timedelta(seconds=s), north))]
    assert len(found) == 1
    (visit,) = found
    assert visit.centre_id == "PC01" and visit.arrived_at == at(7) + timedelta(seconds=30)
    assert visit.departed_at == at(7) + timedelta(seconds=375) and visit.dwell_s == 345
    assert visit.school_id == "S1" and visit.route_id == "CZ01"
    far = [v for s in range(10) for v in visits.observe(fix(at(9) + timedelta(seconds=15 * s), 5000 + s))]
    assert far == []  # nowhere near a centre
    stays = [v for s in range(10) for v in visits.observe(fix(at(10) + timedelta(seconds=15 * s), 10))]
    assert stays == [] and visits.inside is not None  # still inside: it has not left, no visit yet
    moved = visits.observe(fix(at(10, DAY) + timedelta(seconds=200), 1112))  # straight into PC02 (1.1 km north)
    assert [v.centre_id for v in moved] == ["PC01"] and visits.inside.centre.centre_id == "PC02"


def test_mean_dwell_per_centre(registry: RegistryView) -> None:
    pipeline = BusPipeline(Settings(), registry)
    visits = [
        CentreVisit(
            subject="013800000001",
            centre_id=centre,
            arrived_at=at(7),
            departed_at=at(7) + timedelta(seconds=s),
            dwell_s=s,
        )  # fmt: skip
        for centre, s in (("PC01", 300), ("PC01", 500), ("PC02", 120))
    ]
    kpis = pipeline.finish_kpis(pipeline.kpi_partials([], [], visits))
    assert kpis[("pickup_bus_visits_total", (("centre", "PC01"),))] == 2
    assert kpis[("pickup_bus_mean_dwell_seconds", (("centre", "PC01"),))] == 400
    assert kpis[("pickup_bus_mean_dwell_seconds", (("centre", "PC02"),))] == 120
