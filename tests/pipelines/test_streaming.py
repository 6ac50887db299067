"""The streaming pipelines against a real broker, real Prism and real PostgreSQL.

Each test publishes to its own prefixed topics (`--topic-prefix`) and group, and counts only the
natural keys it expects, so tests never see each other's records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from integration_services import prefixed_topics
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from sqlalchemy import delete, func, select
from sqlmodel import Session

from safecampus.config import Settings
from safecampus.connectors.kafka import Topics
from safecampus.connectors.registry import RegistryView, save_rows
from safecampus.connectors.store import engine_for
from safecampus.pipelines.catalog import pipeline_for
from safecampus.pipelines.detection import detect_shard
from safecampus.pipelines.normalize import normalize_lines
from safecampus.pipelines.streaming_job import run_streaming
from safecampus.publisher import publish
from safecampus.schemas.common import Domain
from safecampus.schemas.store import AlertRow, DlqRow, EventRow
from safecampus.simulator.city import build_city
from safecampus.simulator.run import Simulation

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "local"
SAFECAMPUS = Path(sys.executable).with_name("safecampus")
GARBAGE = [b"not json at all", b'{"domain": "bus"}', b"\xff\xfe binary", b'{"domain": "canteen", "source": "x"}']


class Expected:
    """What the plain-Python pipeline makes of the lines: event ids, DLQ count, alert fingerprints."""

    def __init__(self, domain: Domain, lines: list[bytes], registry: RegistryView) -> None:
        pipeline = pipeline_for(domain, Settings(), registry)
        out = normalize_lines(pipeline, list(enumerate(lines)), "expected")
        self.event_ids = {pipeline.event_id(e) for _, e in out.events}
        self.subjects = {s for s, _ in out.events}
        self.events = len(out.events)
        self.dlq = len(out.dlq)
        # Alerts the events raise by themselves (no deadline needed): a crash must not lose any.
        self.fingerprints = {a.fingerprint for a in detect_shard(pipeline, out.events, None).alerts} | {
            a.fingerprint for a in out.alerts
        }


@pytest.fixture(scope="module")
def store(postgres_url: str) -> str:
    """The PostgreSQL store with the synthetic city's registry loaded (as `registry load` leaves it)."""
    save_rows(engine_for(postgres_url), build_city().rows())
    return postgres_url


@pytest.fixture
def prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A fresh topic prefix: raw/events of bus and canteen, alerts and dlq, 2 partitions each."""
    names = ("raw.bus", "raw.canteen", "events.bus", "events.canteen", "runs.bus", "alerts", "dlq", "kpis")
    yield from prefixed_topics(kafka_bootstrap, "t", names)


def _lines(sim: Simulation, domain: Domain, n: int) -> list[bytes]:
    with sim.raw_file(domain).open("rb") as handle:
        return [line.rstrip(b"\n") for _, line in zip(range(n), handle, strict=False)]


def _forget(store: str, domain: Domain, want: Expected) -> None:
    """Delete rows an earlier test wrote for the same simulated records, so counts prove this run."""
    with Session(engine_for(store)) as session:
        session.execute(delete(EventRow).where(EventRow.domain == domain, EventRow.event_id.in_(want.event_ids)))  # type: ignore[attr-defined]
        session.execute(delete(AlertRow).where(AlertRow.domain == domain, AlertRow.subject.in_(want.subjects)))  # type: ignore[attr-defined]
        session.execute(delete(AlertRow).where(AlertRow.fingerprint.in_(want.fingerprints)))  # type: ignore[attr-defined]
        session.commit()


def _stored_fingerprints(store: str, fingerprints: set[str]) -> set[str]:
    """Which of these alerts the store holds (by fingerprint: an operator's alert has no terminal subject)."""
    with Session(engine_for(store)) as session:
        rows = session.execute(select(AlertRow.fingerprint).where(AlertRow.fingerprint.in_(fingerprints)))  # type: ignore[attr-defined]
        return {r[0] for r in rows}


def _stored_ids(store: str, domain: Domain, event_ids: set[str]) -> set[str]:
    with Session(engine_for(store)) as session:
        rows = session.execute(
            select(EventRow.event_id).where(EventRow.domain == domain, EventRow.event_id.in_(event_ids))  # type: ignore[attr-defined]
        )
        return {r[0] for r in rows}


def _stored_dlq(store: str, topic: str) -> int:
    with Session(engine_for(store)) as session:
        return int(session.execute(select(func.count()).where(DlqRow.source_topic == topic)).scalar_one())


def _topic_count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(consumer.end_offsets(tps).values())
    finally:
        consumer.close()


def _read_values(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        values: list[dict[str, Any]] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                values += [json.loads(r.value) for r in records]
        return values
    finally:
        consumer.close()


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.5)


def _start_run(
    prefix: str, domain: Domain, store: str, prism: str, bootstrap: str, *extra: str
) -> subprocess.Popen[str]:
    # Its own session: a SIGKILL of the group also kills the Prism child it started.
    return subprocess.Popen(
        [
            str(SAFECAMPUS),
            "run",
            domain,
            "--kafka",
            bootstrap,
            "--prism-location",
            prism,
            "--store",
            store,
            "--group",
            f"{prefix}group",
            "--topic-prefix",
            prefix,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _publish_slowly(bootstrap: str, topic: str, lines: list[bytes], per_step: int = 400) -> threading.Thread:
    def run() -> None:
        for start in range(0, len(lines), per_step):
            publish(bootstrap, [(topic, line) for line in lines[start : start + per_step]])
            time.sleep(0.4)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_events_and_dlq_account_for_every_record(
    kafka_bootstrap: str,
    prism_location: str,
    store: str,
    simulated_day: Simulation,
    prefix: str,
    city_registry: RegistryView,
) -> None:
    inputs: dict[Domain, list[bytes]] = {
        "bus": _lines(simulated_day, "bus", 1500) + GARBAGE,
        "canteen": _lines(simulated_day, "canteen", 300) + GARBAGE[:2],
    }
    inputs["canteen"][0] = b"\xef\xbb\xbf" + inputs["canteen"][0]  # a UTF-8 BOM: read, and counted as in replay
    expected = {domain: Expected(domain, lines, city_registry) for domain, lines in inputs.items()}
    for domain, lines in inputs.items():
        _forget(store, domain, expected[domain])
        publish(kafka_bootstrap, [(Topics(prefix).raw(domain), line) for line in lines])

    run_streaming(
        list(inputs),
        kafka_bootstrap,
        prism_location,
        store,
        store,
        group_id=f"{prefix}group",
        stop_at_end=True,
        topic_prefix=prefix,
    )

    dlq_topic = Topics(prefix).dlq
    assert _topic_count(kafka_bootstrap, dlq_topic) == sum(e.dlq for e in expected.values())
    for domain, want in expected.items():
        topics = Topics(prefix)
        assert want.dlq >= len(GARBAGE[:2])
        assert _topic_count(kafka_bootstrap, topics.events(domain)) == want.events
        assert _stored_ids(store, domain, want.event_ids) == want.event_ids
        assert _stored_dlq(store, topics.raw(domain)) == want.dlq
    assert _topic_count(kafka_bootstrap, Topics(prefix).alerts) > 0  # bus detection ran
    kpis = _read_values(kafka_bootstrap, Topics(prefix).kpis)
    totals: dict[tuple[str, str], float] = {}
    for kpi in kpis:
        if kpi["metric"].endswith("_events_total") and not kpi["labels"]:
            totals[(kpi["domain"], kpi["metric"])] = totals.get((kpi["domain"], kpi["metric"]), 0) + kpi["value"]
    assert totals == {(d, f"{d}_events_total"): float(e.events) for d, e in expected.items()}  # counts add up
    boms = [k for k in kpis if k["metric"] == "decode_leniencies_total" and k["labels"].get("kind") == "utf8_bom"]
    assert sum(k["value"] for k in boms) == 1 and {k["domain"] for k in boms} == {"canteen"}


def test_sigkill_mid_stream_then_restart_stores_each_record_once(
    kafka_bootstrap: str,
    prism_location: str,
    store: str,
    simulated_day: Simulation,
    prefix: str,
    city_registry: RegistryView,
) -> None:
    lines = _lines(simulated_day, "bus", 6000) + GARBAGE
    want = Expected("bus", lines, city_registry)
    _forget(store, "bus", want)
    topics = Topics(prefix)

    proc = _start_run(prefix, "bus", store, prism_location, kafka_bootstrap)
    producer = _publish_slowly(kafka_bootstrap, topics.raw("bus"), lines)
    try:
        _wait(lambda: len(_stored_ids(store, "bus", want.event_ids)) >= 400, 120, "the first stored events")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no drain, no cleanup: a crash
        proc.wait(timeout=30)
    producer.join(timeout=60)
    stored_at_kill = len(_stored_ids(store, "bus", want.event_ids))
    assert stored_at_kill < len(want.event_ids), "the kill came too late to be mid-stream"

    proc = _start_run(prefix, "bus", store, prism_location, kafka_bootstrap, "--until-idle")
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, output

    assert _stored_ids(store, "bus", want.event_ids) == want.event_ids  # nothing lost
    with Session(engine_for(store)) as session:  # and each exactly once (natural key = primary key)
        count = session.execute(
            select(func.count()).where(EventRow.domain == "bus", EventRow.event_id.in_(want.event_ids))  # type: ignore[attr-defined]
        ).scalar_one()
    assert count == len(want.event_ids)
    assert _stored_dlq(store, topics.raw("bus")) == want.dlq
    assert want.fingerprints, "the slice should raise alerts"
    assert _stored_fingerprints(store, want.fingerprints) == want.fingerprints  # no alert lost
    # Kafka outputs are at-least-once: the records after the last commit were written again.
    assert _topic_count(kafka_bootstrap, topics.events("bus")) >= want.events


@pytest.fixture
def private_broker() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A broker of this test's own (127.0.0.1:29092), so restarting it disturbs no other test or checkout."""
    env = dict(os.environ, SAFECAMPUS_KAFKA_PORT="29092")
    env["SAFECAMPUS_DATA"] = str(Path.home() / ".local" / "share" / "safecampus-restart-test")

    def kafka(action: str) -> None:
        done = subprocess.run(
            ["bash", str(DEPLOY / "kafka.sh"), action], env=env, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stdout + done.stderr

    kafka("start")
    try:
        yield "127.0.0.1:29092", kafka
    finally:
        kafka("stop")


def test_broker_restart_while_running_loses_nothing(
    private_broker: tuple[str, Callable[[str], None]],
    prism_location: str,
    store: str,
    simulated_day: Simulation,
    city_registry: RegistryView,
) -> None:
    bootstrap, kafka = private_broker
    prefix = f"r{uuid.uuid4().hex[:8]}."
    names = Topics(prefix)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    topics = [names.raw("canteen"), names.events("canteen"), names.alerts, names.dlq, names.kpis]
    admin.create_topics([NewTopic(t, 2, 1) for t in topics])
    admin.close()
    lines = _lines(simulated_day, "canteen", 600) + GARBAGE
    first, second = lines[:300], lines[300:]
    want = Expected("canteen", lines, city_registry)
    _forget(store, "canteen", want)
    topic = names.raw("canteen")

    proc = _start_run(prefix, "canteen", store, prism_location, bootstrap)
    try:
        publish(bootstrap, [(topic, line) for line in first])
        _wait(lambda: len(_stored_ids(store, "canteen", want.event_ids)) > 0, 120, "the first stored events")
        kafka("stop")
        time.sleep(3)
        kafka("start")
        publish(bootstrap, [(topic, line) for line in second])
        _wait(
            lambda: _stored_ids(store, "canteen", want.event_ids) == want.event_ids,
            180,
            "every event after the broker restart",
        )
        _wait(lambda: _stored_dlq(store, topic) == want.dlq, 60, "every DLQ record")
        assert proc.poll() is None, "the pipeline should still be running"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: cancel and exit cleanly
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        print(output[-6000:])  # pytest shows it when the test fails
    assert "Traceback" not in output.split("stopped")[-1]


def test_run_without_kafka_prints_one_line_and_exits_non_zero(city_store: str) -> None:
    proc = subprocess.run(
        [str(SAFECAMPUS), "run", "--kafka", "127.0.0.1:1", "--store", city_store],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Kafka is not reachable at 127.0.0.1:1" in lines[0] and "make kafka" in lines[0]
