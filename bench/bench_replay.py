"""Benchmark: `replay` records per second per domain against a plain-Python loop (the ceiling).

Both sides do the same work on the same file: parse each raw envelope, decode and validate the
device payload, normalize and enrich, run the detectors, sum KPIs, write events/alerts/kpis/dlq
as JSONL. Each measurement runs in its own process so peak memory (max RSS) is its own.
Prints figures and ratios; asserts nothing.

    python bench/bench_replay.py [--sim DIR] [--days 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

logging.basicConfig(level=logging.ERROR)
DOMAINS = ("security", "bus", "canteen", "fire")


@functools.lru_cache(maxsize=1)
def city_store() -> str:
    """A SQLite store holding the seeded synthetic city's registry, made once and cached (setup, not work).

    The cache file is named by a digest of the rows, so a changed registry schema or city makes a new one."""
    import hashlib

    from safecampus.connectors.registry import save_rows
    from safecampus.connectors.store import engine_for
    from safecampus.simulator.city import build_city

    rows = build_city().rows()
    digest = hashlib.sha1(repr([(type(r).__name__, r.model_dump()) for r in rows]).encode()).hexdigest()[:12]
    path = Path.home() / ".cache" / "safecampus" / f"bench-city-{digest}.db"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        save_rows(engine_for(f"sqlite:///{partial}"), rows)
        partial.rename(path)
    return f"sqlite:///{path}"


def city_registry() -> Any:
    """The registry the benchmarks enrich with, read from `city_store()` as the pipelines read it."""
    from safecampus.connectors.registry import registry_at

    return registry_at(city_store())


def plain_loop(domain: str, raw: Path, out: Path) -> None:
    """The ceiling: the same domain code, no Beam."""
    from safecampus.config import Settings
    from safecampus.pipelines.catalog import pipeline_for
    from safecampus.pipelines.detection import detect_shard, is_stateful, kpis_of
    from safecampus.pipelines.domain import merge_partials
    from safecampus.pipelines.normalize import normalize_lines

    pipeline = pipeline_for(domain, Settings(), city_registry())  # type: ignore[arg-type]
    with raw.open("rb") as handle:
        lines = [(n, line.rstrip(b"\n")) for n, line in enumerate(handle, start=1)]
    outcome = normalize_lines(pipeline, lines, raw.name)
    alerts, derived = list(outcome.alerts), []
    if is_stateful(pipeline):
        detected = detect_shard(pipeline, outcome.events, outcome.latest)
        alerts += detected.alerts
        derived = detected.records
    totals = merge_partials(
        [
            pipeline.kpi_partials([e for _, e in outcome.events], []),
            pipeline.kpi_partials([], alerts),
            pipeline.kpi_partials([], [], derived),
        ]
    )
    kpis = kpis_of(domain, pipeline.finish_kpis(totals), outcome.earliest or outcome.latest, outcome.latest)  # type: ignore[arg-type]
    out.mkdir(parents=True, exist_ok=True)
    for name, records in (
        ("events", [e for _, e in outcome.events]),
        ("alerts", alerts),
        ("kpis", kpis),
        ("dlq", outcome.dlq),
        *((stream, [r for r in derived if isinstance(r, kind)]) for stream, kind in pipeline.derived),
    ):
        (out / f"{name}.jsonl").write_text("\n".join(r.model_dump_json() for r in records), encoding="utf-8")


def beam_replay(domain: str, raw: Path, out: Path) -> None:
    from safecampus.config import Settings
    from safecampus.pipelines.replay import run_replay

    run_replay([(domain, raw, out)], Settings(), city_store())  # type: ignore[list-item]


def best_time(fn: Callable[[], object], loops: int) -> float:
    """Best wall time of `loops` runs of fn."""
    best = float("inf")
    for _ in range(loops):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def timed_replay(domain: str, raw: Path, mode: str) -> dict[str, Any]:
    """One run of `run_replay` (mode "replay") or of the plain loop (mode "plain"): seconds and DLQ lines."""
    city_registry()  # building the registry is setup, not work
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        (beam_replay if mode == "replay" else plain_loop)(domain, raw, Path(out))
        seconds = time.perf_counter() - started
        dlq = sum(1 for line in (Path(out) / "dlq.jsonl").open("rb") if line.strip())
    return {"seconds": seconds, "dlq": dlq}


def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run `script --child ARGS` in a fresh process; its last stdout line is the JSON result."""
    child = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True)
    if child.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{child.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def measure(mode: str, domain: str, raw: Path) -> dict[str, float]:
    """Run one measurement in a child process; returns seconds and peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as out:
        child = subprocess.run(
            [sys.executable, __file__, "--child", mode, domain, str(raw), out],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(child.stdout.strip().splitlines()[-1])


def child(mode: str, domain: str, raw: Path, out: Path) -> None:
    city_registry()  # building the registry is setup, not work
    started = time.perf_counter()
    (plain_loop if mode == "loop" else beam_replay)(domain, raw, out)
    seconds = time.perf_counter() - started
    # Replay of a large file runs worker processes: count their peak too (an upper bound: peaks added).
    peak = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", type=Path, help="a simulation directory (default: simulate one day now)")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs")
    parser.add_argument("--days", type=int, default=20, help="days simulated for bus (×10 for canteen, fire)")
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, domain, raw, out = args.child
        child(mode, domain, Path(raw), Path(out))
        return
    sims = _simulations(args.sim, args.days)
    print(machine())
    empty = Path(tempfile.mkdtemp(prefix="bench-empty-")) / "empty.jsonl"
    empty.write_bytes(b"")
    print(
        f"{'domain':9} {'records':>9} {'loop rec/s':>11} {'replay rec/s':>13} {'ratio':>6} {'marginal':>9} "
        f"{'start s':>8} {'loop MiB':>9} {'replay MiB':>11}"
    )
    for domain in args.domains:
        raw = sims[domain] / "raw" / f"{domain}.jsonl"
        records = sum(1 for _ in raw.open("rb"))
        loop = min((measure("loop", domain, raw) for _ in range(args.repeat)), key=lambda m: m["seconds"])
        beam = min((measure("beam", domain, raw) for _ in range(args.repeat)), key=lambda m: m["seconds"])
        start = min(measure("beam", domain, empty)["seconds"] for _ in range(args.repeat))
        marginal = loop["seconds"] / max(beam["seconds"] - start, 1e-9)
        print(
            f"{domain:9} {records:>9,} {records / loop['seconds']:>11,.0f} {records / beam['seconds']:>13,.0f} "
            f"{loop['seconds'] / beam['seconds']:>6.2f} {marginal:>9.2f} {start:>8.1f} {loop['peak_mib']:>9,.0f} "
            f"{beam['peak_mib']:>11,.0f}"
        )
    print("ratio = replay rate / plain-loop rate, start-up included (1.00 = Beam costs nothing; target ≥ 0.80)")
    print("marginal = the same ratio without the runner's fixed start-up (replay of an empty file)")


def machine() -> str:
    """The machine line every benchmark prints first: cores, CPU model, Python, load."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = os.getloadavg()[0]
    return f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load avg {load:.2f}"


def _simulations(given: Path | None, days: int) -> dict[str, Path]:
    """Security from one simulated day (287k records), bus from `days` days, canteen and fire from 10×."""
    if given is not None:
        return dict.fromkeys(DOMAINS, given)
    from safecampus.simulator.run import simulate

    one_day, bus_days, ledger_days = (Path(tempfile.mkdtemp(prefix="bench-sim-")) for _ in range(3))
    simulate(one_day, domains=("security",))
    simulate(bus_days, days=days, domains=("bus",))
    # Canteens and institutions write ~1,000 records a day: ten times the days to reach a measurable size.
    simulate(ledger_days, days=days * 10, domains=("canteen", "fire"))
    return {"security": one_day, "bus": bus_days, "canteen": ledger_days, "fire": ledger_days}


if __name__ == "__main__":
    main()
