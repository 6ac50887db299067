"""The operators' log in the stream (issue 15): a running `safecampus run` follows the operations topic.

A fire-drill window published before the alarms suppresses the fence alarm it covers and not the one-key
alarm of another school; `safecampus alerts ack --kafka` acknowledges the one-key alarm while the run goes
on, and the run writes the acknowledged update to the alerts topic; a bad line of the log goes to the DLQ.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from sqlmodel import Session, select
from test_streaming import SAFECAMPUS, _read_values, _start_run, _wait, store  # noqa: F401

from safecampus.connectors.kafka import Topics
from safecampus.connectors.registry import RegistryView
from safecampus.connectors.store import engine_for
from safecampus.publisher import publish
from safecampus.schemas.envelope import RawEnvelope
from safecampus.schemas.operations import SuppressionWindow
from safecampus.schemas.store import DlqRow
from safecampus.simulator.security_payloads import alarmbox_json

pytestmark = pytest.mark.integration


def _alarm(device: str, kind: str, at: datetime) -> bytes:
    body = alarmbox_json(device, kind, "active", at)  # type: ignore[arg-type]
    envelope = RawEnvelope.of_bytes(body, domain="security", source="alarmbox", received_at=at, key=device)  # type: ignore[arg-type]
    return envelope.model_dump_json().encode()


def _alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [a for a in _read_values(bootstrap, topic) if a["rule"] in ("security.fence", "security.one_key_alarm")]


def test_the_running_pipeline_applies_windows_and_acknowledgements_from_the_operations_topic(
    kafka_bootstrap: str,
    prism_location: str,
    store: str,  # noqa: F811
    city_registry: RegistryView,
) -> None:
    prefix = f"o{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    names = [topics.raw("security"), topics.events("security"), topics.alerts, topics.dlq, topics.kpis]
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(t, 2, 1) for t in names] + [NewTopic(topics.operations, 1, 1)])
    admin.close()
    boxes = sorted(
        (d for d in city_registry.devices.values() if d.kind == "alarm_box"), key=lambda d: (d.school_id, d.device_id)
    )
    drill, other = boxes[0], next(b for b in boxes if b.school_id != boxes[0].school_id)
    now = datetime.now(UTC).replace(microsecond=0)
    window = SuppressionWindow(
        school_id=drill.school_id, start=now - timedelta(hours=1), end=now + timedelta(hours=1), reason="fire_drill"
    )
    publish(kafka_bootstrap, [(topics.operations, window.model_dump_json().encode()), (topics.operations, b"{oops")])

    proc = _start_run(prefix, "security", store, prism_location, kafka_bootstrap)
    try:
        publish(kafka_bootstrap, [(topics.raw("security"), _alarm(drill.device_id, "fence", now))])
        publish(kafka_bootstrap, [(topics.raw("security"), _alarm(other.device_id, "one_key", now))])
        _wait(lambda: len({a["rule"] for a in _alerts(kafka_bootstrap, topics.alerts)}) == 2, 120, "both alerts")
        first = {a["rule"]: a for a in _alerts(kafka_bootstrap, topics.alerts)}
        fence, one_key = first["security.fence"], first["security.one_key_alarm"]
        assert fence["status"] == "suppressed" and fence["school_id"] == drill.school_id
        assert any(e.get("kind") == "suppression" and e.get("reason") == "fire_drill" for e in fence["evidence"])
        assert one_key["status"] == "firing"  # a drill never hides a one-key alarm, nor another school's

        acked = subprocess.run(
            [str(SAFECAMPUS), "alerts", "ack", one_key["fingerprint"][:12], "--operator", "op-017"]
            + ["--store", store, "--kafka", kafka_bootstrap, "--topic-prefix", prefix],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert acked.returncode == 0, acked.stdout + acked.stderr
        assert topics.operations in acked.stdout

        def acknowledged() -> list[dict[str, Any]]:
            return [
                a
                for a in _alerts(kafka_bootstrap, topics.alerts)
                if a["fingerprint"] == one_key["fingerprint"] and a["status"] == "acknowledged"
            ]

        _wait(lambda: acknowledged(), 60, "the acknowledged update on the alerts topic")
        evidence = [e for e in acknowledged()[0]["evidence"] if e.get("kind") == "acknowledgement"]
        assert evidence and evidence[0]["operator_id"] == "op-017"
        with Session(engine_for(store)) as session:
            dead = session.exec(select(DlqRow).where(DlqRow.source_topic == topics.operations)).all()
        assert len(dead) == 1 and dead[0].step == "operations" and "JSON" in dead[0].reason
        dlq = [d for d in _read_values(kafka_bootstrap, topics.dlq) if d["source_topic"] == topics.operations]
        assert len(dlq) == 1 and dlq[0]["step"] == "operations"
        assert proc.poll() is None, "the pipeline should still be running"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
