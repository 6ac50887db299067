"""Pick-up centres end to end: two simulated mornings of the centres' counters, barriers and cameras.

Replay (the in-process runner, files and the store) finds the injected congestion on its centre and day and
nothing else; the streaming path (real Kafka, Prism and the store), fed the same records in the order the
gateway received them (some readings minutes late), leaves the same congestion alerts as replay."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from integration_services import prefixed_topics
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.kafka import Topics
from safecampus.connectors.registry import save_rows
from safecampus.connectors.store import engine_for
from safecampus.pipelines.replay import run_replay
from safecampus.pipelines.security.congestion import RULE
from safecampus.pipelines.streaming_job import run_streaming
from safecampus.publisher import publish
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI
from safecampus.schemas.store import AlertRow, KpiRow
from safecampus.simulator.city import build_city
from safecampus.simulator.run import simulate

KEY = re.compile(rb'"key":"([^"]+)"')
DAYS = 2


@dataclass(frozen=True)
class Centres:
    raw: Path  # the centres' records of the simulated mornings, in the order the gateway received them
    truth: set[tuple[str, date]]  # (centre, local day) of each injected congestion
    site_of: dict[str, str]  # device → centre


def _store(path: Path) -> str:
    url = f"sqlite:///{path}"
    save_rows(engine_for(url), build_city().rows())
    return url


@pytest.fixture(scope="module")
def centres(tmp_path_factory: pytest.TempPathFactory) -> Centres:
    root = tmp_path_factory.mktemp("pickup")
    sim = simulate(root / "sim", days=DAYS, domains=("security",), hours=(6, 9))
    site_of = {d.device_id: d.site_id for d in build_city().devices if d.site_id}
    lines = [
        line
        for line in sim.raw_file("security").read_bytes().splitlines()
        if (m := KEY.search(line)) and m.group(1).decode() in site_of
    ]
    raw = root / "centres.jsonl"
    raw.write_bytes(b"\n".join(lines) + b"\n")
    truth = {
        (t["subject"], datetime.fromisoformat(t["time"]).astimezone(SHANGHAI).date())
        for t in map(json.loads, (sim.out_dir / "ground_truth.jsonl").read_text().splitlines())
        if t["kind"] == "pickup_congestion"
    }
    return Centres(raw, truth, site_of)  # type: ignore[arg-type]


def congested(alerts: list[Alert], site_of: dict[str, str]) -> dict[str, tuple[str, str, str, date]]:
    """The last update of each congestion alert: (status, centre, window, day)."""
    last = {a.fingerprint: a for a in alerts if a.rule == RULE}
    return {
        fp: (a.status, site_of[a.subject], a.evidence[0]["window"], date.fromisoformat(a.evidence[0]["day"]))
        for fp, a in last.items()
    }


def test_replay_finds_the_injected_congestion_on_its_centre_and_day(centres: Centres, tmp_path: Path) -> None:
    envelopes = [json.loads(line) for line in centres.raw.read_text().splitlines()]
    times = [json.loads(e["payload"])["time"] for e in envelopes if e["source"] == "counter"]
    assert times != sorted(times)  # received out of order: some readings came minutes late
    assert len(centres.truth) == DAYS
    store = _store(tmp_path / "replay.db")
    run_replay([("security", centres.raw, tmp_path / "out")], Settings(), store, store)
    lines = (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    found = congested([Alert.model_validate_json(line) for line in lines], centres.site_of)
    assert {(centre, day) for _, centre, window, day in found.values() if window == "dropoff"} == centres.truth
    assert len(found) == len(centres.truth) and {s for s, *_ in found.values()} == {"resolved"}
    with Session(engine_for(store)) as session:
        stored = session.exec(select(AlertRow).where(AlertRow.rule == RULE)).all()
        kpis = {k.metric for k in session.exec(select(KpiRow)).all()}
    assert {r.fingerprint for r in stored} == set(found)
    assert "pickup_peak_occupancy" in kpis


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    names = ("raw.security", "events.security", "centre_days.security", "alerts", "dlq", "kpis")
    yield from prefixed_topics(kafka_bootstrap, "p", names)


@pytest.mark.integration
def test_streaming_gives_replays_congestion_alerts(
    centres: Centres, kafka_bootstrap: str, prism_location: str, prefix: str, tmp_path: Path
) -> None:
    live = _store(tmp_path / "live.db")
    publish(kafka_bootstrap, [(Topics(prefix).raw("security"), line) for line in centres.raw.read_bytes().splitlines()])
    run_streaming(
        ["security"], kafka_bootstrap, prism_location, live, live, group_id=f"{prefix}g", stop_at_end=True,
        topic_prefix=prefix,
    )  # fmt: skip
    replayed = _store(tmp_path / "replay.db")
    run_replay([("security", centres.raw, tmp_path / "out")], Settings(), replayed, replayed)
    want = {}
    for line in (tmp_path / "out" / "alerts.jsonl").read_text(encoding="utf-8").splitlines():
        alert = Alert.model_validate_json(line)
        if alert.rule == RULE:
            want[alert.fingerprint] = (alert.status, alert.occurred_at, alert.evidence[0]["peak_occupancy"])
    with Session(engine_for(live)) as session:
        rows = session.exec(select(AlertRow).where(AlertRow.rule == RULE)).all()
    got = {}
    for row in rows:
        alert = Alert.model_validate_json(row.body)
        got[alert.fingerprint] = (alert.status, alert.occurred_at, alert.evidence[0]["peak_occupancy"])
    assert len(want) == DAYS and got == want


def test_replay_tells_each_bus_visit_to_a_centre_with_its_dwell(tmp_path: Path) -> None:
    sim = simulate(tmp_path / "sim", days=1, domains=("bus",))
    store = _store(tmp_path / "replay.db")
    run_replay([("bus", sim.raw_file("bus"), tmp_path / "out")], Settings(), store, store)
    visits = [json.loads(line) for line in (tmp_path / "out" / "centre_visits.jsonl").read_text().splitlines()]
    city = build_city()
    school_of = {c.centre_id: c.school_id for c in city.centres}
    route_school = {b.terminal_id: b.school_id for b in city.buses}
    registered = [v for v in visits if v["subject"] in route_school]
    assert len(registered) == 6 * len(city.centres)  # every bus of routes CZ01–CZ08 ends at its school's centre
    assert all(school_of[v["centre_id"]] == route_school[v["subject"]] for v in registered)
    assert all(240 <= v["dwell_s"] <= 600 for v in visits)  # the simulated buses wait 4–8 minutes
    kpis = [json.loads(line) for line in (tmp_path / "out" / "kpis.jsonl").read_text().splitlines()]
    mean = {k["labels"]["centre"]: k["value"] for k in kpis if k["metric"] == "pickup_bus_mean_dwell_seconds"}
    for centre in school_of:
        mine = [v["dwell_s"] for v in visits if v["centre_id"] == centre]
        assert mean[centre] == pytest.approx(sum(mine) / len(mine))
