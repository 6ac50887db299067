"""The live path to the pager: alerts on the alerts topic (real Kafka) → `safecampus exporter --kafka
--alertmanager` → a real Alertmanager (v2 API), and its metrics → a real Prometheus whose escalation rule
raises what nobody acknowledged. A silence on a fingerprint acknowledges, as does `alerts ack` at the desk;
a resolve ends the alert there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from stack import ESCALATE_AFTER_S, Receiver, am_config, deploy, free_port, get_json, shortened_rules, wait_for

from safecampus.connectors.kafka.clients import Topics, produce_batch
from safecampus.connectors.store import alert_row, engine_for, upsert
from safecampus.dashboards import grafana
from safecampus.schemas.alert import Alert, alert_fingerprint
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.kpi import Kpi
from safecampus.schemas.store import AlertRow

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def our_alert(rule: str, status: str = "firing") -> Alert:
    return Alert(
        fingerprint=alert_fingerprint("security", rule, "CZ-0055-00", str(NOW)), domain="security", rule=rule,
        severity="critical", status=status, subject="CZ-0055-00", school_id="S0055", district="jingkai",  # type: ignore[arg-type]
        occurred_at=NOW, detected_at=NOW if status == "firing" else datetime.now(UTC), title="一键报警求助",
        detail="常州市第56学校（S0055）校门一键报警装置报警。",
    )  # fmt: skip


@pytest.fixture(scope="module")
def live(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, _city_store_template: Path
) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("live")
    shutil.copyfile(_city_store_template, base / "safecampus.db")
    store = f"sqlite:///{base / 'safecampus.db'}"
    Receiver.got = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"
    am_dir = am_config(base, hook, wechat_district="wujin")
    am_env = {"SAFECAMPUS_AM_PORT": str(free_port()), "SAFECAMPUS_AM_DATA": str(base / "am-data"),
              "SAFECAMPUS_AM_CONFIG": str(am_dir / "alertmanager.yml")}  # fmt: skip
    am_url = deploy("alertmanager.sh", am_env, "start")
    prefix = f"t-metrics-{uuid.uuid4().hex[:8]}-"
    topics = Topics(prefix)
    alarm, intrusion, door = (
        our_alert(r) for r in ("security.one_key_alarm", "security.intrusion", "security.forced_door")
    )
    upsert(engine_for(store), AlertRow, [alert_row(door)])  # as the streaming runner's store sink leaves it
    produce_batch(kafka_bootstrap, topics.alerts, [(a.fingerprint.encode(), a.model_dump_json().encode(), [])
                                                   for a in (alarm, intrusion, door)])  # fmt: skip
    # two batches' KPI counts and a DLQ record, as the streaming runner writes them
    window = {"window_start": NOW, "window_end": NOW + timedelta(seconds=2)}
    kpis = [Kpi(domain="bus", metric="bus_stop_visits", labels={"route": "CZ01"}, value=v, **window) for v in (3, 4)]  # type: ignore[arg-type]
    produce_batch(kafka_bootstrap, topics.kpis, [(k.key().encode(), k.model_dump_json().encode(), []) for k in kpis])
    dead = DlqRecord.of("bus", "decode", "不是 JT/T 808 帧 not a frame", b"\x00", topics.raw("bus"), 7, 0)
    produce_batch(kafka_bootstrap, topics.dlq, [(None, dead.model_dump_json().encode(), [])])
    # the pipelines' group has read and committed some of five raw records: the rest is its lag
    group = f"{prefix}pipelines"
    produce_batch(kafka_bootstrap, topics.raw("security"), [(b"k", b"{}", [])] * 5)
    reader = KafkaConsumer(topics.raw("security"), bootstrap_servers=kafka_bootstrap, group_id=group,
                           auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2)  # fmt: skip
    read = wait_for("a first poll", lambda: sum(len(b) for b in reader.poll(timeout_ms=1000).values()))
    reader.commit()
    reader.close()
    port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "safecampus.cli", "exporter", "--kafka", kafka_bootstrap, "--topic-prefix", prefix,
         "--alertmanager", am_url, "--push-every", "1", "--port", str(port), "--store", store,
         "--group", group],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    prom_env = {"SAFECAMPUS_PROM_PORT": str(free_port()), "SAFECAMPUS_PROM_DATA": str(base / "prom-data"),
                "SAFECAMPUS_PROM_TARGET": f"127.0.0.1:{port}", "SAFECAMPUS_PROM_INTERVAL": "1s",
                "SAFECAMPUS_PROM_ALERTMANAGER": am_url.removeprefix("http://"),
                "SAFECAMPUS_PROM_RULES": str(shortened_rules(base, ESCALATE_AFTER_S))}  # fmt: skip
    try:
        prom_url = deploy("prometheus.sh", prom_env, "start")
        yield {"am": am_url, "prom": prom_url, "metrics": f"http://127.0.0.1:{port}/metrics", "kafka": kafka_bootstrap,
               "topic": topics.alerts, "alarm": alarm, "intrusion": intrusion, "door": door,
               "store": store, "lag": 5 - read}  # fmt: skip
    finally:
        deploy("prometheus.sh", prom_env, "stop")
        deploy("alertmanager.sh", am_env, "stop")
        exporter.terminate()
        exporter.wait(timeout=10)
        receiver.shutdown()
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
        finally:
            admin.close()


def held(am: str, fingerprint: str) -> list[dict[str, Any]]:
    return [a for a in get_json(f"{am}/api/v2/alerts") if a["labels"].get("fingerprint") == fingerprint]


def pages(path: str, status: str = "firing") -> list[dict[str, Any]]:
    return [a for _, p, body in Receiver.got if p == path for a in body.get("alerts", []) if a["status"] == status]


def test_pushed_silenced_escalated_and_resolved(live: dict[str, Any]) -> None:
    am, alarm, intrusion = live["am"], live["alarm"], live["intrusion"]
    pushed = wait_for(
        "our alerts in Alertmanager", lambda: held(am, alarm.fingerprint) and held(am, intrusion.fingerprint)
    )
    labels = held(am, alarm.fingerprint)[0]["labels"]
    assert labels == {"alertname": "security.one_key_alarm", "severity": "critical", "domain": "security",
                      "district": "jingkai", "school": "S0055", "fingerprint": alarm.fingerprint,
                      "escalation": "school"}  # fmt: skip
    assert pushed and "一键报警" in held(am, alarm.fingerprint)[0]["annotations"]["summary"]

    # the duty officer silences the intrusion: that is its acknowledgement
    now = datetime.now(UTC)
    silence = {"matchers": [{"name": "fingerprint", "value": intrusion.fingerprint, "isRegex": False, "isEqual": True}],
               "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
               "createdBy": "op-021", "comment": "值班员已处理 handled"}  # fmt: skip
    request = urllib.request.Request(f"{am}/api/v2/silences", data=json.dumps(silence).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(request, timeout=10).close()
    silenced_at = time.time()

    def metric(name: str, **labels: str) -> float | None:
        text = urllib.request.urlopen(live["metrics"], timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    # the forced door is acknowledged at the desk (the store), as an operator does
    door = live["door"]
    desk = ["alerts", "ack", door.fingerprint[:12], "--operator", "op-030", "--store", live["store"]]
    ack = subprocess.run([sys.executable, "-m", "safecampus.cli", *desk], capture_output=True, text=True, check=False)
    assert ack.returncode == 0, ack.stderr
    wait_for("both acknowledgements", lambda: metric("safecampus_alert_ack_seconds_count") == 2.0)
    assert metric("safecampus_alerts_unacknowledged", rule="security.intrusion") == 0.0
    assert metric("safecampus_alerts_unacknowledged", rule="security.forced_door") == 0.0
    assert metric("safecampus_alerts_unacknowledged", rule="security.one_key_alarm") == 1.0

    school = wait_for("the school's page", lambda: pages("/alertmanager/school"))
    assert "security.one_key_alarm" in {a["labels"]["alertname"] for a in school}  # both may have paged already
    district = wait_for("the district's page", lambda: pages("/alertmanager/district"))
    assert [a["labels"]["rule"] for a in district] == ["security.one_key_alarm"]  # the acknowledged one stays
    assert district[0]["labels"]["alertname"] == "SafecampusCriticalUnacknowledged"
    assert time.time() - silenced_at >= ESCALATE_AFTER_S - 3

    # the pipeline resolves the alarm: Alertmanager ends it, the school and district hear it once
    resolved = our_alert("security.one_key_alarm", status="resolved")
    produce_batch(
        live["kafka"], live["topic"], [(resolved.fingerprint.encode(), resolved.model_dump_json().encode(), [])]
    )
    wait_for("the resolve at the school", lambda: pages("/alertmanager/school", "resolved"))
    wait_for("the district's resolve", lambda: pages("/alertmanager/district", "resolved"), timeout=60)
    time.sleep(5)
    seen = [(p, a["fingerprint"], a["status"]) for _, p, b in Receiver.got if "alerts" in b for a in b["alerts"]]
    assert len(seen) == len(set(seen)), f"an alert arrived twice at the same level: {seen}"
    escalated = {a["labels"]["rule"] for a in pages("/alertmanager/district")}
    assert escalated == {"security.one_key_alarm"}  # neither acknowledged alert went up
    assert not [a for a in held(am, alarm.fingerprint) if a["status"]["state"] == "active"]


def test_the_live_panels_answer_and_the_lag_is_the_groups(live: dict[str, Any]) -> None:
    """The panels that need an exporter following Kafka (consumer lag) answer from this live stack."""
    prom = live["prom"]

    def lag() -> list[dict[str, Any]]:
        expr = "safecampus_kafka_consumer_lag_messages"
        return get_json(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]

    found = wait_for("the consumer lag in Prometheus", lag)
    assert [float(s["value"][1]) for s in found] == [float(live["lag"])] and 0 < live["lag"] < 5
    asked = 0
    for board in grafana.BOARDS:
        for title, expr in grafana.queries(grafana.build(board), live=True):
            answer = get_json(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
            assert answer["status"] == "success" and answer["data"]["result"], f"{board.uid} / {title}: {expr}"
            asked += 1
    assert asked >= 1


def test_the_kpis_and_dlq_topics_are_summed_into_counters(live: dict[str, Any]) -> None:
    def scraped() -> dict[str, float]:
        text = urllib.request.urlopen(live["metrics"], timeout=10).read().decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"}

    want = {
        'safecampus_bus_stop_visits_total{route="CZ01"}': 7.0,  # two batches add up
        'safecampus_dlq_records_total{domain="bus",step="decode"}': 1.0,
        'safecampus_kpi_records_total{domain="bus",mapped="true"}': 2.0,
    }

    def complete() -> dict[str, float] | None:
        # Every topic read (a poll may return one topic or one batch first): only then is there a result.
        m = scraped()
        return m if all(m.get(k, 0) >= v for k, v in want.items()) else None

    got = wait_for("the KPI counts", complete)
    assert got['safecampus_bus_stop_visits_total{route="CZ01"}'] == 7.0  # two batches add up
    assert got['safecampus_dlq_records_total{domain="bus",step="decode"}'] == 1.0
    assert got["safecampus_exporter_live"] == 1.0
    assert got['safecampus_kpi_records_total{domain="bus",mapped="true"}'] == 2.0
