import json
from collections import Counter
from datetime import datetime

from safecampus.simulator.city import build_city
from safecampus.simulator.run import Simulation


def test_city_has_the_required_size() -> None:
    city = build_city()
    assert len(city.schools) >= 150
    assert len(city.devices) >= 3000
    assert len(city.buses) == 60
    assert len({b.route_id for b in city.buses}) == 10
    assert len([c for c in city.canteens if c.kind == "canteen"]) == 150
    assert {c.kitchen_id for c in city.canteens if c.kitchen_id} == {"K001", "K002"}
    assert len(city.institutions) == 80
    assert {d.district_id for d in city.districts} == {s.district_id for s in city.schools}


def test_city_is_deterministic_for_a_seed() -> None:
    a, b, c = build_city(7), build_city(7), build_city(8)
    assert [s.model_dump() for s in a.schools] == [s.model_dump() for s in b.schools]
    assert [s.enrolment for s in a.schools] != [s.enrolment for s in c.schools]


def test_simulation_writes_four_sorted_streams_and_ground_truth(simulated_day: Simulation) -> None:
    for domain in ("security", "bus", "canteen", "fire"):
        assert simulated_day.counts[domain] > 0
        times = [
            datetime.fromisoformat(json.loads(line)["received_at"]) for line in simulated_day.raw_file(domain).open()
        ]
        assert times == sorted(times)
    truth = [json.loads(line) for line in (simulated_day.out_dir / "ground_truth.jsonl").open()]
    kinds = Counter((t["domain"], t["kind"]) for t in truth)
    for expected in [
        ("security", "device_offline"),
        ("security", "intrusion_night"),
        ("security", "malformed"),
        ("bus", "overspeed"),
        ("bus", "off_route"),
        ("bus", "unregistered"),
        ("bus", "no_all_off"),
        ("canteen", "duplicate_invoice"),
        ("canteen", "red_flag_staff_meals"),
        ("fire", "hazard_overdue"),
        ("fire", "missing_patrol"),
        ("fire", "location_noncompliant"),
    ]:
        assert kinds[expected] > 0, expected


def test_simulated_buses_meet_traffic_and_record_when_they_reached_each_stop(simulated_day: Simulation) -> None:
    from collections import defaultdict
    from statistics import mean, pstdev

    from safecampus.schemas.common import SHANGHAI

    runs: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for line in (simulated_day.out_dir / "bus_arrivals.jsonl").open():
        item = json.loads(line)
        runs[(item["terminal_id"], item["trip_id"])].append(item)
    assert len(runs) == 60 and all(len(stops) == 8 for stops in runs.values())
    early, peak, segments = [], [], []
    for stops in runs.values():
        times = [datetime.fromisoformat(s["time"]) for s in sorted(stops, key=lambda s: int(s["stop_sequence"]))]
        assert times == sorted(times)
        for a, b in zip(times[:6], times[1:7], strict=True):  # the last stop is a hop to the school gate
            seconds = (b - a).total_seconds()
            segments.append(seconds)
            local = a.astimezone(SHANGHAI)
            (
                early
                if local.hour == 6 and local.minute < 50
                else peak
                if local.hour == 7 and local.minute >= 15
                else []
            ).append(seconds)
    assert pstdev(segments) > 15  # not the timetable's 5 minutes every time
    assert mean(peak) > mean(early) + 10  # school-time traffic is slower than the early morning's
