"""Registry loading: our CSV files, a standard GTFS feed on its own, readable errors, and upserts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from safecampus.connectors.registry import RegistryLoadError, load_dir, load_view, write_csv_dir
from safecampus.connectors.store import engine_for
from safecampus.schemas.registry import GtfsStopTime, School
from safecampus.simulator.city import build_city

GTFS = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Bus Co,https://example.org,Asia/Shanghai\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type,route_color\nR1,A,1,Main,3,FF0000\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,location_type\n"
    "S1,North,31.80,119.95,0\nS2,South,31.78,119.95,0\n",
    "trips.txt": "route_id,service_id,trip_id,shape_id,direction_id,block_id\nR1,WK,T1,SH1,0,B1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence,timepoint\n"
    "T1,07:00:00,07:00:00,S1,1,1\nT1,24:10:00,24:10:00,S2,2,\n",
    "shapes.txt": "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence,shape_dist_traveled\n"
    "SH1,31.80,119.95,1,0\nSH1,31.78,119.95,2,2200\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20260901,20270131\n",
}


def test_a_standard_gtfs_feed_loads_on_its_own(tmp_path: Path) -> None:
    for name, text in GTFS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    engine = engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    assert load_dir(tmp_path, engine) == 10  # agency, route, 2 stops, trip, 2 stop times, 2 shape points, calendar
    view = load_view(engine)
    assert view.shapes["SH1"] == [(31.80, 119.95), (31.78, 119.95)]
    assert [t.arrival_time for t in view.stop_times["T1"]] == ["07:00:00", "24:10:00"]
    assert view.trips["T1"].shape_id == "SH1"


def test_the_simulated_city_round_trips_through_csv_and_loading_twice_changes_nothing(tmp_path: Path) -> None:
    city = build_city()
    write_csv_dir(tmp_path / "registry", city.rows())
    engine = engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    first = load_dir(tmp_path / "registry", engine)
    load_dir(tmp_path / "registry", engine)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(School)).one() == len(city.schools)
        stop_times = session.exec(select(func.count()).select_from(GtfsStopTime)).one()
    assert first == len(city.rows())
    assert stop_times == sum(isinstance(r, GtfsStopTime) for r in city.gtfs)
    view = load_view(engine)
    assert len(view.devices) == len(city.devices) and len(view.buses_by_terminal) == 60


def test_a_bad_row_names_file_row_and_field(tmp_path: Path) -> None:
    (tmp_path / "schools.csv").write_text(
        "school_id,name,district_id,stage,enrolment,boarding,lat,lon\nS1,One,wujin,primary,many,false,31.7,119.9\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryLoadError, match=r"schools.csv row 2: field 'enrolment'"):
        load_dir(tmp_path, engine_for(f"sqlite:///{tmp_path / 'store.db'}"))


def test_an_empty_directory_says_what_it_expected(tmp_path: Path) -> None:
    with pytest.raises(RegistryLoadError, match="no registry CSV files and no GTFS feed"):
        load_dir(tmp_path, engine_for(f"sqlite:///{tmp_path / 'store.db'}"))


def test_a_feed_that_breaks_the_gtfs_rules_is_refused_and_nothing_is_loaded(tmp_path: Path) -> None:
    city = build_city()
    write_csv_dir(tmp_path / "registry", city.rows())
    (tmp_path / "registry" / "gtfs" / "stops.txt").unlink()  # off-route, lateness and all-off would go silent
    engine = engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(RegistryLoadError, match="missing_required_file: filename stops.txt") as info:
        load_dir(tmp_path / "registry", engine)
    assert "nothing was loaded" in str(info.value)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(School)).one() == 0  # not even the schools


def test_the_simulated_feed_passes_the_gtfs_rules(tmp_path: Path) -> None:
    write_csv_dir(tmp_path / "registry", build_city().rows())
    from safecampus.connectors.bus.gtfs_check import check_feed

    check = check_feed(tmp_path / "registry" / "gtfs")
    assert check.errors == [] and check.warnings == []  # agency.txt is there, as GTFS requires
    assert (tmp_path / "registry" / "gtfs" / "agency.txt").is_file()
