"""The live path gives replay's alerts: ten simulated days of inspections, published in the order the app
synced them (afternoon forms of some institutions the next morning), streamed on real Kafka and Prism.

Replay's clock ends at the last inspection time; the live clock at the last receive time, a late form's next
morning, so live may already have judged a day replay has not: alerts due after replay's end are left out.

Prism hands a partition's next bundle to whichever DoFn instance is free; the detectors live per partition in
the worker process, so such a move keeps them. A detector rebuilt from the store (another process took the
partition) reads every stored form of its institution and its stored alerts (tests/pipelines/fire/
test_fire_rebuild.py moves the partition at chosen batches). Earlier, detectors lived per instance and a move
rebuilt them from 26 hours of forms: in about 3 runs of 8 they forgot September's inspections and raised
monthly-inspection and drill alerts replay did not."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from integration_services import prefixed_topics
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.kafka import Topics
from safecampus.connectors.registry import load_dir, save_rows
from safecampus.connectors.store import engine_for
from safecampus.pipelines.replay import run_replay
from safecampus.pipelines.streaming_job import run_streaming
from safecampus.publisher import publish
from safecampus.schemas.alert import Alert
from safecampus.schemas.store import AlertRow
from safecampus.simulator.city import build_city
from safecampus.simulator.run import simulate

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    yield from prefixed_topics(
        kafka_bootstrap, "f", ("raw.fire", "events.fire", "ledger.fire", "alerts", "dlq", "kpis")
    )


def _utc(moment: datetime) -> str:
    """A stored time as the simulator writes times (SQLite keeps them naive, in UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _store(path: Path, registry: Path) -> str:
    url = f"sqlite:///{path}"
    save_rows(engine_for(url), build_city().rows())
    load_dir(registry, engine_for(url))
    return url


def test_streaming_fire_gives_the_replays_open_alerts(
    kafka_bootstrap: str, prism_location: str, prefix: str, tmp_path: Path
) -> None:
    sim = simulate(tmp_path / "sim", days=10, domains=("fire",))
    raw = sim.raw_file("fire")
    lines = raw.read_bytes().splitlines()
    inspected = [json.loads(json.loads(line)["payload"])["inspected_at"] for line in lines]
    assert inspected != sorted(inspected)  # some afternoon forms arrive the next morning, after newer ones
    live = _store(tmp_path / "live.db", sim.out_dir / "registry")
    publish(kafka_bootstrap, [(Topics(prefix).raw("fire"), line) for line in lines])
    run_streaming(
        ["fire"],
        kafka_bootstrap,
        prism_location,
        live,
        live,
        group_id=f"{prefix}g",
        stop_at_end=True,
        topic_prefix=prefix,
    )
    replayed = _store(tmp_path / "replay.db", sim.out_dir / "registry")
    run_replay([("fire", raw, tmp_path / "replay")], Settings(), replayed, replayed)
    with Session(engine_for(live)) as session:
        rows = session.exec(select(AlertRow)).all()
    end = max(json.loads(json.loads(line)["payload"])["inspected_at"] for line in lines)
    streamed = {r.fingerprint: (r.rule, r.status, r.severity) for r in rows if _utc(r.occurred_at) <= end}
    last: dict[str, Alert] = {}
    for line in (tmp_path / "replay" / "alerts.jsonl").read_text(encoding="utf-8").splitlines():
        alert = Alert.model_validate_json(line)
        last[alert.fingerprint] = alert
    want = {fp: (a.rule, a.status, a.severity) for fp, a in last.items() if a.status == "firing"}
    assert all(a.occurred_at.isoformat() <= end for a in last.values() if a.status == "firing")
    got = {fp: s for fp, s in streamed.items() if s[1] == "firing"}
    assert len(want) > 20 and got == want
    shutil.rmtree(tmp_path / "sim")
