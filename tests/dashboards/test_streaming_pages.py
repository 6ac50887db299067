"""A streaming run pages through Alertmanager: a one-key alarm box's raw JSON on raw.security (real Kafka) →
`safecampus run security` on Prism (real PostgreSQL store) → the alerts topic → `safecampus exporter
--alertmanager` → a real Alertmanager → the control room's webhook; the box's restore resolves it there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient
from stack import Receiver, am_config, deploy, free_port, get_json, wait_for

from safecampus.connectors.kafka.clients import Topics, produce_batch
from safecampus.connectors.registry import save_rows
from safecampus.connectors.store import engine_for
from safecampus.simulator.city import build_city

pytestmark = pytest.mark.integration
SAFECAMPUS = Path(sys.executable).with_name("safecampus")
BOX = "CZ-0004-00"  # the seeded city's gate alarm box of S0003


def envelope(kind: str, state: str, at: datetime) -> tuple[bytes, bytes, list[Any]]:
    local = at.astimezone(UTC).isoformat()
    payload = {"device_id": BOX, "kind": kind, "state": state, "time": local, "channel": 1}
    body = {"domain": "security", "source": "alarmbox", "payload": json.dumps(payload), "encoding": "text",
            "content_type": "application/json", "received_at": local, "gateway": "http-gw-1", "key": BOX}  # fmt: skip
    return BOX.encode(), json.dumps(body).encode(), []


@pytest.fixture
def running(kafka_bootstrap: str, postgres_url: str, prism_location: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    save_rows(engine_for(postgres_url), build_city().rows())
    prefix = f"t-pages-{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    now = datetime.now(UTC).replace(microsecond=0)
    produce_batch(
        kafka_bootstrap, topics.raw("security"), [envelope("heartbeat", "active", now - timedelta(minutes=5))]
    )
    Receiver.got = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    am_dir = am_config(tmp_path, f"http://127.0.0.1:{receiver.server_address[1]}", wechat_district="wujin")
    am_env = {"SAFECAMPUS_AM_PORT": str(free_port()), "SAFECAMPUS_AM_DATA": str(tmp_path / "am-data"),
              "SAFECAMPUS_AM_CONFIG": str(am_dir / "alertmanager.yml")}  # fmt: skip
    am = deploy("alertmanager.sh", am_env, "start")
    exporter = subprocess.Popen(
        [str(SAFECAMPUS), "exporter", "--kafka", kafka_bootstrap, "--topic-prefix", prefix, "--alertmanager", am,
         "--push-every", "1", "--port", str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    run = subprocess.Popen(
        [str(SAFECAMPUS), "run", "security", "--kafka", kafka_bootstrap, "--prism-location", prism_location,
         "--store", postgres_url, "--group", f"{prefix}group", "--topic-prefix", prefix],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        yield {"am": am, "kafka": kafka_bootstrap, "raw": topics.raw("security"), "now": now}
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
        exporter.terminate()
        exporter.wait(timeout=10)
        deploy("alertmanager.sh", am_env, "stop")
        receiver.shutdown()
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()


def test_a_streamed_one_key_alarm_pages_the_control_room_and_its_restore_ends_it(running: dict[str, Any]) -> None:
    now = running["now"]
    produce_batch(running["kafka"], running["raw"], [envelope("one_key", "active", now)])

    def paged(status: str) -> list[dict[str, Any]]:
        return [a for _, p, body in Receiver.got if p == "/alertmanager/school" for a in body.get("alerts", [])
                if a["labels"].get("alertname") == "security.one_key_alarm" and a["status"] == status]  # fmt: skip

    first = wait_for("the page of the streamed alarm", lambda: paged("firing"), timeout=300)[0]
    assert first["labels"]["severity"] == "critical" and first["labels"]["school"]
    assert first["startsAt"].startswith(now.strftime("%Y-%m-%dT%H:%M"))
    held = [
        a for a in get_json(f"{running['am']}/api/v2/alerts") if a["labels"]["alertname"] == "security.one_key_alarm"
    ]
    assert held and "一键报警" in held[0]["annotations"]["summary"]

    produce_batch(running["kafka"], running["raw"], [envelope("one_key", "inactive", now + timedelta(seconds=30))])
    ended = wait_for("the resolve of the streamed alarm", lambda: paged("resolved"), timeout=300)[0]
    assert ended["labels"]["fingerprint"] == first["labels"]["fingerprint"]
    assert len(paged("firing")) == 1  # paged once
