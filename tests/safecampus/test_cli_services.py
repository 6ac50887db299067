"""The long-running commands as a user starts them: gateways and the GTFS-realtime feed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from google.transit import gtfs_realtime_pb2

from safecampus.connectors.bus.jt808_encode import encode_location_body
from safecampus.connectors.bus.jt808_frame import encode_frame
from safecampus.connectors.bus.jt808_messages import LocationReport
from safecampus.schemas.envelope import RawEnvelope


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "safecampus.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def until(check, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_jt808_gateway_command_stores_frames_in_a_replay_file(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "bus.jsonl"
    proc = start("gateway", "jt808", "--port", str(port), "--out", str(out))
    frame = encode_frame(
        0x0200,
        "013800000001",
        1,
        encode_location_body(LocationReport(lat_deg=31.78, lon_deg=119.95, time=datetime(2026, 9, 1, tzinfo=UTC))),
    )
    try:
        conn = until(lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
        with conn:
            conn.sendall(frame)
            assert conn.recv(64)[:3] == b"\x7e\x80\x01"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    (line,) = out.read_text(encoding="utf-8").splitlines()
    assert RawEnvelope.model_validate_json(line).payload_bytes() == frame


def test_gateway_needs_a_destination() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "safecampus.cli", "gateway", "http"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "--kafka HOST:PORT" in result.stderr and "Traceback" not in result.stderr


def test_gtfs_rt_serves_a_replay_output(simulated_day, tmp_path: Path, city_store: str) -> None:  # type: ignore[no-untyped-def]
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecampus.cli",
            "replay",
            "bus",
            "--input",
            str(simulated_day.raw_file("bus")),
            "--out",
            str(tmp_path),
            "--store",
            city_store,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    port = free_port()
    moment = "2026-09-01T07:10:00+08:00"  # the state as it was then: most buses on the road
    proc = start("gtfs-rt", "--port", str(port), "--from-dir", str(tmp_path), "--until", moment, "--store", city_store)
    try:
        url = f"http://127.0.0.1:{port}/gtfs-rt"
        body = until(lambda: urllib.request.urlopen(url, timeout=2).read(), 60)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    feed = gtfs_realtime_pb2.FeedMessage()
    feed.ParseFromString(body)
    vehicles = [e.vehicle for e in feed.entity if e.HasField("vehicle")]
    assert len(vehicles) == 61  # 60 registered buses and the unregistered terminal
    assert all(31 < v.position.latitude < 32.6 for v in vehicles)
    assert all(v.timestamp <= datetime.fromisoformat(moment).timestamp() for v in vehicles)
    predicted = [e.trip_update for e in feed.entity if e.HasField("trip_update") and e.trip_update.trip.start_date]
    assert len(predicted) >= 40 and all(u.stop_time_update[0].arrival.uncertainty >= 0 for u in predicted)


def test_simulated_buses_drive_the_gateway(simulated_day, tmp_path: Path, city_store: str) -> None:  # type: ignore[no-untyped-def]
    from safecampus.connectors.bus.jt808_frame import split_frames
    from safecampus.simulator.terminals import drive_gateway, terminal_frames

    bus_file = tmp_path / "bus.jsonl"
    with simulated_day.raw_file("bus").open(encoding="utf-8") as source:
        bus_file.write_text("".join(line for _, line in zip(range(1500), source, strict=False)), encoding="utf-8")
    frames = terminal_frames(bus_file)
    port, stored = free_port(), tmp_path / "stored.jsonl"
    proc = start("gateway", "jt808", "--port", str(port), "--out", str(stored))
    try:
        until(lambda: socket.create_connection(("127.0.0.1", port), timeout=2).close())
        result = drive_gateway(bus_file, "127.0.0.1", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    sent = sum(len(f) for f in frames.values())
    on_the_wire = sum(len(split_frames(data)[0]) for sent_by_one in frames.values() for _, data in sent_by_one)
    assert result.terminals == len(frames) and result.frames_sent == result.replies == on_the_wire
    lines = stored.read_text(encoding="utf-8").splitlines()
    # every message (a split one's pieces together, as the simulator wrote it), plus registration and auth
    assert len(lines) == sent + 2 * len(frames)
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecampus.cli",
            "replay",
            "bus",
            "--input",
            str(stored),
            "--out",
            str(tmp_path / "out"),
            "--store",
            city_store,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert replay.returncode == 0 and (tmp_path / "out" / "dlq.jsonl").read_text() == ""


# The buses of the simulated day's injected incidents (overspeed 3, off-route 8, late 12, silent 20, no
# all-off 30, door 35, tunnel 44; OP5's expired licence 5, 11, 17, 23, 35, 41; drivers 23, 41; inspection
# 17), an ordinary one (1) and the unregistered terminal.
LIVE_BUSES = (1, 3, 5, 8, 11, 12, 17, 20, 23, 30, 35, 41, 44)
LIVE_TERMINALS = {f"0138{n:08d}" for n in LIVE_BUSES} | {"013899999999"}


def _alert_set(out: Path) -> list[tuple[str, str, str, str]]:
    import json

    lines = (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted((a["rule"], a["subject"], a["fingerprint"], a["status"]) for a in map(json.loads, lines))


def test_a_day_through_the_gateways_gives_the_alerts_of_its_replay(  # type: ignore[no-untyped-def]
    simulated_day, tmp_path: Path, city_store: str
) -> None:
    """The live path: positions over JT/T 808 (with registration frames stamped by the gateway's clock,
    today, while the positions carry the simulated day), the escort app's confirmations over HTTP."""
    import json

    from safecampus.config import Settings
    from safecampus.pipelines.replay import run_replay
    from safecampus.simulator.terminals import drive_gateway

    own = tmp_path / "own.jsonl"
    with simulated_day.raw_file("bus").open(encoding="utf-8") as source, own.open("w", encoding="utf-8") as sink:
        sink.writelines(line for line in source if json.loads(line)["key"] in LIVE_TERMINALS)
    escort = [json.loads(line)["payload"] for line in own.open(encoding="utf-8") if '"bus-json"' in line]
    assert escort  # the escort app confirmed the runs
    frames_at, posts_at = free_port(), free_port()
    frames, posts = tmp_path / "frames.jsonl", tmp_path / "posts.jsonl"
    tcp = start("gateway", "jt808", "--port", str(frames_at), "--out", str(frames))
    web = start("gateway", "http", "--port", str(posts_at), "--out", str(posts))
    try:
        until(lambda: socket.create_connection(("127.0.0.1", frames_at), timeout=2).close())
        until(lambda: socket.create_connection(("127.0.0.1", posts_at), timeout=2).close())
        drive_gateway(own, "127.0.0.1", frames_at)
        for body in escort:
            request = urllib.request.Request(
                f"http://127.0.0.1:{posts_at}/escort", data=body.encode(), headers={"Content-Type": "application/json"}
            )
            assert urllib.request.urlopen(request, timeout=10).status == 200
    finally:
        for proc in (tcp, web):
            proc.terminate()
            proc.wait(timeout=10)
    live = tmp_path / "live.jsonl"
    live.write_text(frames.read_text(encoding="utf-8") + posts.read_text(encoding="utf-8"), encoding="utf-8")
    for path in (own, live):
        run_replay([("bus", path, tmp_path / path.stem)], Settings(), city_store)
    expected = _alert_set(tmp_path / "own")
    rules = {rule for rule, *_ in expected}
    assert {"bus.no_all_off", "bus.operator_licence_expired", "bus.inspection_overdue", "bus.unregistered"} <= rules
    assert _alert_set(tmp_path / "live") == expected
    assert (tmp_path / "live" / "dlq.jsonl").read_text() == ""


def test_a_taken_port_is_said_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("jt808", "http"):
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "safecampus.cli",
                    "gateway",
                    command,
                    "--port",
                    str(port),
                    "--out",
                    str(tmp_path / "raw.jsonl"),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode != 0
            assert f"port {port} on 127.0.0.1 is taken" in result.stderr
            assert "gateway on" not in result.stdout  # no banner claiming it listens
            assert "Traceback" not in result.stderr


def test_simulate_to_jt808_checks_the_gateway_before_simulating(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecampus.cli",
            "simulate",
            "--out",
            str(tmp_path / "sim"),
            "--to",
            "jt808",
            "--gateway",
            f"127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "is not reachable" in result.stderr and "gateway jt808" in result.stderr
    assert not (tmp_path / "sim").exists()  # it said so before simulating
