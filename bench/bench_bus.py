"""Benchmark: JT/T 808 frames per second through the codec, the asyncio gateway and the bus replay.

    codec    `decode_frame` of 0x0200 location frames and of 0x0704 batches, beside a minimal
             plain-`struct` decoder of the same 0x0200 layout (the ceiling), with and without
             the XOR checksum
    gateway  the real `Jt808Gateway` on 127.0.0.1: N concurrent terminals each send M 0x0200
             frames one at a time and wait for each 0x8001 reply; the client runs in its own
             process (its own event loop). Sinks: an in-memory list; a JSONL file written in the
             event loop (`jt808_envelope` + one line per frame); and the `serve_jt808` path
             (`FileRawSink` through `run_in_executor`, flushed per line)
    replay   `run_replay('bus', ...)` over a simulated multi-day bus file, beside
             `bench_replay.plain_loop` (normalize_lines + detect_shard + KPIs + outputs, no Beam)

Every measurement runs in its own child process (gateway: server and client each in one);
all figures are best of N, because other processes may be running on the same cores.
Prints figures and ratios; asserts nothing.

    python bench/bench_bus.py [--frames 50000] [--terminals 200] [--per-terminal 100] [--days 10] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench_replay import best_time  # bench/ is sys.path[0] when run as a script

logging.basicConfig(level=logging.ERROR)

START = datetime(2026, 9, 1, 7, 0)  # naive; made aware with SHANGHAI where used
_HEADER = struct.Struct(">HH6sH")  # 2013 header: id, properties, BCD phone, serial
_LOCATION = struct.Struct(">IIIIHHH6s")  # alarm, status, lat, lon, altitude, speed, direction, BCD time
SINKS = ("list", "jsonl", "executor")


# -- frames ---------------------------------------------------------------------------------------


def location_reports(count: int, seed: int = 0) -> list[Any]:
    """`count` fixes along a line out of the city centre, with the simulator's additional items."""
    from safecampus.connectors.bus.jt808_messages import STATUS_ACC_ON, STATUS_POSITIONED, LocationReport
    from safecampus.schemas.common import SHANGHAI

    start = START.replace(tzinfo=SHANGHAI)
    return [
        LocationReport(
            lat_deg=31.81 + (n + seed) * 1e-5,
            lon_deg=119.97 + (n + seed) * 1.3e-5,
            time=start + timedelta(seconds=10 * n),
            altitude_m=8,
            speed_kmh=round(20 + (n % 400) / 10, 1),
            direction_deg=(n * 7) % 360,
            status_flags=STATUS_ACC_ON | STATUS_POSITIONED,
            extra={0x01: round(n * 0.1, 1), 0x30: 25, 0x31: 12},
        )
        for n in range(count)
    ]


def location_frames(count: int, phone: str = "013800138000", seed: int = 0) -> list[bytes]:
    """`count` 0x0200 frames of one terminal (JT/T 808-2013), serials 1, 2, ..."""
    from safecampus.connectors.bus.jt808_encode import encode_location_body
    from safecampus.connectors.bus.jt808_frame import MSG_LOCATION, encode_frame

    return [
        encode_frame(MSG_LOCATION, phone, (n + 1) & 0xFFFF, encode_location_body(report))
        for n, report in enumerate(location_reports(count, seed))
    ]


def struct_decode(frame: bytes, checksum: bool = True) -> tuple[Any, ...]:
    """The ceiling: a minimal decoder of a 2013 0x0200 frame (unescape, checksum, fields, time, items)."""
    from safecampus.connectors.bus.jt808_messages import STATUS_SOUTH, STATUS_WEST
    from safecampus.schemas.common import SHANGHAI

    data = frame[1:-1]
    if b"\x7d" in data:
        data = data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    content = data[:-1]
    if checksum:
        xor = 0
        for byte in content:
            xor ^= byte
        if xor != data[-1]:
            raise ValueError("checksum mismatch")
    message_id, props, phone, serial = _HEADER.unpack_from(content)
    alarm, status, lat, lon, altitude, speed, direction, bcd = _LOCATION.unpack_from(content, 12)
    digits = bcd.hex()
    at = datetime(
        2000 + int(digits[0:2]),
        int(digits[2:4]),
        int(digits[4:6]),
        int(digits[6:8]),
        int(digits[8:10]),
        int(digits[10:12]),
        tzinfo=SHANGHAI,
    )
    extra: dict[int, int] = {}
    pos, end = 12 + _LOCATION.size, len(content)
    while pos < end:
        item, size = content[pos], content[pos + 1]
        extra[item] = int.from_bytes(content[pos + 2 : pos + 2 + size], "big")
        pos += 2 + size
    return (
        message_id,
        phone.hex(),
        serial,
        -lat / 1e6 if status & STATUS_SOUTH else lat / 1e6,
        -lon / 1e6 if status & STATUS_WEST else lon / 1e6,
        at,
        altitude,
        speed / 10,
        direction,
        alarm,
        status,
        extra,
    )


def child_codec(count: int, loops: int) -> dict[str, Any]:
    """(a) codec rates, best of `loops` in this process."""
    from safecampus.connectors.bus.jt808_decode import decode_frame
    from safecampus.connectors.bus.jt808_encode import encode_batch_body
    from safecampus.connectors.bus.jt808_frame import MSG_LOCATION_BATCH, encode_frame
    from safecampus.connectors.bus.jt808_frame import unescape as _unescape
    from safecampus.connectors.bus.jt808_frame import xor as _xor

    frames = location_frames(count)
    per_batch = 10
    reports = location_reports(count)
    batches = [
        encode_frame(MSG_LOCATION_BATCH, "013800138000", n + 1, encode_batch_body(reports[i : i + per_batch], 1))
        for n, i in enumerate(range(0, count, per_batch))
    ]
    assert struct_decode(frames[7])[3] == decode_frame(frames[7]).payload.lat_deg  # type: ignore[union-attr]
    inner = [f[1:-1] for f in frames]
    unescaped = [_unescape(f)[:-1] for f in inner]
    return {
        "frames": count,
        "batches": len(batches),
        "per_batch": per_batch,
        "frame_bytes": statistics.fmean(len(f) for f in frames),
        "codec": best_time(lambda: [decode_frame(f) for f in frames], loops),
        "codec_batch": best_time(lambda: [decode_frame(b) for b in batches], loops),
        "struct": best_time(lambda: [struct_decode(f) for f in frames], loops),
        "struct_nochecksum": best_time(lambda: [struct_decode(f, checksum=False) for f in frames], loops),
        "unescape": best_time(lambda: [_unescape(f) for f in inner], loops),
        "xor": best_time(lambda: [_xor(c) for c in unescaped], loops),
    }


# -- gateway --------------------------------------------------------------------------------------


async def _serve(sink_kind: str, path: Path) -> None:
    """(b) server side: the real gateway on an ephemeral loopback port until stdin has a line."""
    from safecampus.connectors.bus.jt808_gateway import Jt808Gateway
    from safecampus.gateways import FileRawSink, jt808_envelope

    loop = asyncio.get_running_loop()
    stored: list[bytes] = []
    handle = path.open("a", encoding="utf-8")
    file_sink = FileRawSink(path.with_suffix(".executor.jsonl"))

    async def to_list(frame: bytes, peer: str) -> None:
        stored.append(frame)

    async def to_jsonl(frame: bytes, peer: str) -> None:
        handle.write(jt808_envelope(frame, "bench-gw").model_dump_json() + "\n")
        stored.append(b"")

    async def via_executor(frame: bytes, peer: str) -> None:  # what serve_jt808 does
        await loop.run_in_executor(None, file_sink, jt808_envelope(frame, "bench-gw"))
        stored.append(b"")

    sinks = {"list": to_list, "jsonl": to_jsonl, "executor": via_executor}
    gateway = Jt808Gateway(sinks[sink_kind], host="127.0.0.1", port=0, gateway_id="bench-gw")
    await gateway.start()
    print(json.dumps({"port": gateway.bound_port}), flush=True)
    cpu = time.process_time()
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent writes a line when the client is done
    cpu = time.process_time() - cpu
    await gateway.stop()
    handle.close()
    file_sink.close()
    print(
        json.dumps({"cpu": cpu, "frames": gateway.frames_received, "stored": len(stored), "bad": gateway.bad_frames}),
        flush=True,
    )


async def _client(port: int, terminals: int, per_terminal: int) -> dict[str, Any]:
    """(b) client side: `terminals` connections, each sends a frame and waits for its reply, M times."""
    from safecampus.connectors.bus.jt808_decode import decode_frame
    from safecampus.connectors.bus.jt808_frame import MSG_PLATFORM_REPLY

    frames = [location_frames(per_terminal, f"0138{n:08d}", seed=n) for n in range(terminals)]
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(terminals)]
    go = asyncio.Event()

    async def terminal(n: int) -> list[float]:
        reader, writer = connections[n]
        latencies: list[float] = []
        reply = b""
        await go.wait()
        for frame in frames[n]:
            sent = time.perf_counter()
            writer.write(frame)
            await reader.readuntil(b"\x7e")  # the reply's start delimiter
            reply = await reader.readuntil(b"\x7e")
            latencies.append(time.perf_counter() - sent)
        if decode_frame(b"\x7e" + reply).message_id != MSG_PLATFORM_REPLY:
            raise RuntimeError("the gateway did not answer with 0x8001")
        writer.close()
        return latencies

    tasks = [asyncio.create_task(terminal(n)) for n in range(terminals)]
    await asyncio.sleep(0.05)
    cpu, started = time.process_time(), time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    latencies = sorted(x for r in results for x in r)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "frames": len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def measure_gateway(sink_kind: str, terminals: int, per_terminal: int) -> dict[str, Any]:
    """One gateway run: server and client each in their own process."""
    with tempfile.TemporaryDirectory() as work:
        server = subprocess.Popen(
            [sys.executable, __file__, "--child", "server", sink_kind, str(Path(work) / "raw.jsonl")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdin is not None and server.stdout is not None
        try:
            port = json.loads(server.stdout.readline())["port"]
            client = run_child("client", str(port), str(terminals), str(per_terminal))
            server.stdin.write("stop\n")
            server.stdin.flush()
            stats = json.loads(server.stdout.readline())
            server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    return {**client, "server_cpu": stats["cpu"], "stored": stats["stored"], "bad": stats["bad"]}


# -- replay ---------------------------------------------------------------------------------------


def child_replay(mode: str, raw: Path) -> dict[str, Any]:
    """One run of `run_replay` (mode "replay") or of bench_replay's plain loop (mode "plain")."""
    from bench_replay import timed_replay  # bench/ is sys.path[0] when run as a script

    return timed_replay("bus", raw, mode)


# -- driver ---------------------------------------------------------------------------------------


def run_child(*args: str) -> dict[str, Any]:
    from bench_replay import run_child as run_script

    return run_script(__file__, *args)


def child(args: list[str]) -> None:
    mode, *rest = args
    if mode == "server":
        asyncio.run(_serve(rest[0], Path(rest[1])))
        return
    if mode == "client":
        result = asyncio.run(_client(int(rest[0]), int(rest[1]), int(rest[2])))
    elif mode == "codec":
        result = child_codec(int(rest[0]), int(rest[1]))
    else:
        result = child_replay(mode, Path(rest[0]))
    print(json.dumps(result))


def machine() -> str:
    from bench_replay import machine as describe

    return describe()


def report_codec(frames: int, loops: int) -> None:
    c = run_child("codec", str(frames), str(loops))
    n = c["frames"]
    ceiling = n / c["struct"]
    print(
        f"\n(a) codec: {n:,} 0x0200 frames ({c['frame_bytes']:.0f} bytes, 3 additional items) and "
        f"{c['batches']:,} 0x0704 batches of {c['per_batch']}; best of {loops} in one child process"
    )
    print(f"{'decoder':44} {'frames/s':>10} {'fixes/s':>10} {'µs/frame':>9} {'vs struct':>9}")
    rows = [
        ("decode_frame 0x0200", n / c["codec"], n / c["codec"], c["codec"] / n),
        ("decode_frame 0x0704", c["batches"] / c["codec_batch"], n / c["codec_batch"], c["codec_batch"] / c["batches"]),
        ("plain struct 0x0200 (ceiling)", ceiling, ceiling, c["struct"] / n),
        (
            "plain struct 0x0200, no checksum",
            n / c["struct_nochecksum"],
            n / c["struct_nochecksum"],
            c["struct_nochecksum"] / n,
        ),
        ("  of which: codec _unescape alone", n / c["unescape"], None, c["unescape"] / n),
        ("  of which: codec _xor checksum alone", n / c["xor"], None, c["xor"] / n),
    ]
    for name, rate, fixes, seconds in rows:
        shown = f"{fixes:>10,.0f}" if fixes else f"{'':>10}"
        ratio = f"{fixes / ceiling:>9.2f}" if fixes else f"{'':>9}"
        print(f"{name:44} {rate:>10,.0f} {shown} {1e6 * seconds:>9.1f} {ratio}")
    print("vs struct = fixes/s relative to the plain-struct ceiling")


def report_gateway(terminals: int, per_terminal: int, repeat: int) -> None:
    print(
        f"\n(b) gateway: {terminals} terminals × {per_terminal} 0x0200 frames over 127.0.0.1, one frame in flight "
        f"per terminal; client and server in separate processes; best of {repeat}"
    )
    print(
        f"{'sink':32} {'frames':>7} {'frames/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'server cpu µs/frame':>20} "
        f"{'client cpu µs/frame':>20} {'stored':>7}"
    )
    names = {
        "list": "in-memory list",
        "jsonl": "JSONL file, in the event loop",
        "executor": "FileRawSink via executor",
    }
    for sink in SINKS:
        runs = [measure_gateway(sink, terminals, per_terminal) for _ in range(repeat)]
        r = min(runs, key=lambda x: x["seconds"])
        n = r["frames"]
        print(
            f"{names[sink]:32} {n:>7,} {n / r['seconds']:>9,.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
            f"{1e6 * r['server_cpu'] / n:>20.1f} {1e6 * r['cpu'] / n:>20.1f} {r['stored']:>7,}"
        )
    print("server cpu: the gateway process's CPU time from listening to stop (includes accepting the connections)")


def report_replay(days: int, repeat: int) -> None:
    from safecampus.simulator.run import simulate

    with tempfile.TemporaryDirectory(prefix="bench-bus-sim-") as work:
        sim = Path(work)
        records = simulate(sim, days=days, domains=("bus",)).counts["bus"]
        raw = sim / "raw" / "bus.jsonl"
        empty = sim / "empty.jsonl"
        empty.write_bytes(b"")
        plain = min((run_child("plain", str(raw)) for _ in range(repeat)), key=lambda r: r["seconds"])
        replay = min((run_child("replay", str(raw)) for _ in range(repeat)), key=lambda r: r["seconds"])
        start = min(run_child("replay", str(empty))["seconds"] for _ in range(repeat))
    print(
        f"\n(c) replay: {records:,} bus records ({days} simulated days); each run in its own process, best of {repeat}"
    )
    print(f"{'plain loop rec/s':>17} {'replay rec/s':>13} {'ratio':>6} {'start s':>8} {'marginal':>9} {'dlq':>5}")
    marginal = plain["seconds"] / max(replay["seconds"] - start, 1e-9)
    print(
        f"{records / plain['seconds']:>17,.0f} {records / replay['seconds']:>13,.0f} "
        f"{plain['seconds'] / replay['seconds']:>6.2f} {start:>8.2f} {marginal:>9.2f} {replay['dlq']:>5}"
    )
    print("ratio = replay rate / plain-loop rate; marginal = the same without the replay of an empty file (start-up)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000, help="0x0200 frames for the codec figures")
    parser.add_argument("--loops", type=int, default=3, help="best of N for the codec loops")
    parser.add_argument("--terminals", type=int, default=200, help="concurrent terminals on the gateway")
    parser.add_argument("--per-terminal", type=int, default=100, help="frames each terminal sends")
    parser.add_argument("--days", type=int, default=10, help="simulated days of bus records for the replay")
    parser.add_argument("--repeat", type=int, default=2, help="best of N (gateway and replay runs)")
    parser.add_argument("--only", choices=("codec", "gateway", "replay"), help="run one part")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(machine())
    print("best-of-N figures; other processes may be running on the same 2 cores")
    if args.only in (None, "codec"):
        report_codec(args.frames, args.loops)
    if args.only in (None, "gateway"):
        report_gateway(args.terminals, args.per_terminal, args.repeat)
    if args.only in (None, "replay"):
        report_replay(args.days, args.repeat)


if __name__ == "__main__":
    main()
