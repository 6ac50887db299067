"""Coverage-guided fuzzing of every decoder with atheris (libFuzzer): `make fuzz` or `python fuzz/run.py`.

    python fuzz/run.py                       # every target, FUZZ_RUNS inputs each (default 1,000,000)
    python fuzz/run.py --runs 2000 jt808     # some targets, a short run
    python fuzz/run.py --max-seconds 600 canteen_import   # at most 10 minutes (fewer inputs if slow)

Each target runs in its own process (libFuzzer owns the process), forked from this one once it has
imported the targets with the safecampus modules instrumented for coverage, and seeded from
fuzz/seeds.py. An input that raises anything but the decoder's own error is a crash: it is saved
under build/fuzz/crashes/<target>/ (input and traceback) and the run goes on, so one run counts every
distinct crash. The table gives, per target: inputs tried, coverage (libFuzzer's edges `cov` and
features `ft` over the instrumented code), the corpus it grew, inputs per second and crashes. Exit
status 1 when any target crashed (or libFuzzer stopped on a timeout or out-of-memory input, also saved).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CRASHES = ROOT / "build" / "fuzz" / "crashes"
NAMES = (
    *("jt808", "isapi", "gb28181", "alarmbox", "counter", "escort", "canteen", "fire", "fire_csv"),
    *("fire_import", "canteen_import", "progress_import", "replay_line"),
)
MAX_LEN = 8192  # JT/T 808 frames are at most 2,092 bytes; alerts and forms a few KiB
_STAT = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")


def load() -> ModuleType:
    """The targets, imported once with the safecampus modules instrumented for coverage; each target's
    child is forked from this process, so the imports (about 2 s) are not paid again per target."""
    import atheris

    sys.path.insert(0, str(HERE))
    with contextlib.redirect_stderr(io.StringIO()), atheris.instrument_imports(include=["safecampus"]):
        import targets  # (atheris names every module it instruments on stderr)
    from seeds import simulated_lines

    targets.registry()  # the seeded city and the simulated seeds, built once for every child
    simulated_lines()
    return targets


def worker(targets: ModuleType, target: str, runs: int, crashes: Path, seconds: int) -> None:
    """In a forked child: fuzz one target under libFuzzer; never returns (libFuzzer exits)."""
    import atheris
    from seeds import seeds

    function = targets.TARGETS[target]
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    for data in seeds(target):
        (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
    for data in seeds(target):  # load everything the seeds touch before libFuzzer starts counting
        _guarded(function, data, target, crashes)
    crashes.mkdir(parents=True, exist_ok=True)

    def one_input(data: bytes) -> None:
        _guarded(function, data, target, crashes)

    args = [sys.argv[0], str(corpus), f"-runs={runs}", f"-max_len={MAX_LEN}", "-timeout=10", "-rss_limit_mb=2048"]
    args += [f"-artifact_prefix={crashes}/", "-print_final_stats=1", "-close_fd_mask=1"]
    args += [f"-max_total_time={seconds}"] if seconds else []
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def _guarded(function: object, data: bytes, target: str, crashes: Path) -> None:
    """Run one input; a foreign exception is saved (input and traceback, one file per distinct place)."""
    try:
        function(data)  # type: ignore[operator]
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if f.filename.startswith(str(ROOT)) and not f.filename.startswith(str(HERE))]
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        signature = hashlib.sha1(f"{type(exc).__name__}@{where}".encode()).hexdigest()[:12]
        crashes.mkdir(parents=True, exist_ok=True)
        stem = crashes / f"crash-{signature}"
        if not stem.with_suffix(".txt").exists():
            stem.with_suffix(".bin").write_bytes(data)
            stem.with_suffix(".txt").write_text("".join(traceback.format_exception(exc)), encoding="utf-8")


def run_target(targets: ModuleType, target: str, runs: int, seconds: int = 0) -> dict[str, object]:
    """Fuzz one target in a forked child; its figures from libFuzzer's final line and the crash files."""
    crashes = CRASHES / target
    shutil.rmtree(crashes, ignore_errors=True)
    crashes.mkdir(parents=True, exist_ok=True)
    stderr = CRASHES.parent / f"{target}.stderr"
    started = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: libFuzzer exits it; anything before that is logged and ends it with 70
        try:
            os.dup2(os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)
            worker(targets, target, runs, crashes, seconds)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(70)
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    log = stderr.read_text(encoding="utf-8", errors="replace")
    stats = _STAT.findall(log)  # the last status line (DONE at the end of a complete run)
    tried, cov, ft, corp = (int(g) for g in stats[-1]) if stats else (0, 0, 0, 0)
    executed = _EXECUTED.search(log)
    tried = int(executed.group(1)) if executed else tried
    found = sorted(crashes.glob("crash-*.txt")) if crashes.is_dir() else []
    stopped = sorted(p for p in crashes.glob("*") if p.name.startswith(("timeout-", "oom-", "slow-unit-")))
    ok = returncode == 0 and not found and not stopped
    if not ok and not found and not stopped:
        (CRASHES / f"{target}.log").parent.mkdir(parents=True, exist_ok=True)
        (CRASHES / f"{target}.log").write_text(log, encoding="utf-8")
    return {
        "target": target,
        "inputs": tried,
        "cov": cov,
        "ft": ft,
        "corpus": corp,
        "seconds": seconds,
        "crashes": len(found) + len(stopped),
        "ok": ok,
        "where": [str(p.relative_to(ROOT)) for p in [*found, *stopped]] or ([] if ok else [f"{target}.log"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"targets to run (default: all): {', '.join(NAMES)}")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("FUZZ_RUNS", 1_000_000)))
    parser.add_argument("--max-seconds", type=int, default=0, help="stop each target after this long (0: no limit)")
    args = parser.parse_args()
    unknown = sorted(set(args.targets) - set(NAMES))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if os.environ.get("PYTHONHASHSEED") != "0":  # the same hashing in every run, as libFuzzer replays inputs
        os.execve(sys.executable, [sys.executable, __file__, *sys.argv[1:]], {**os.environ, "PYTHONHASHSEED": "0"})
    targets = load()
    print(f"fuzzing {len(args.targets or NAMES)} targets, {args.runs:,} inputs each (atheris {_atheris_version()})")
    print(f"{'target':<16} {'inputs':>10} {'cov':>6} {'ft':>7} {'corpus':>7} {'s':>7} {'exec/s':>7} {'crashes':>8}")
    failed = False
    for target in args.targets or NAMES:
        row = run_target(targets, target, args.runs, args.max_seconds)
        rate = float(row["inputs"]) / max(float(row["seconds"]), 1e-9)  # type: ignore[arg-type]
        print(
            f"{row['target']:<16} {row['inputs']:>10,} {row['cov']:>6} {row['ft']:>7} {row['corpus']:>7} "
            f"{row['seconds']:>7.1f} {rate:>7.0f} {row['crashes']:>8}",
            flush=True,
        )
        for path in row["where"]:  # type: ignore[attr-defined]
            print(f"    see {path}")
        failed = failed or not row["ok"]
    sys.exit(1 if failed else 0)


def _atheris_version() -> str:
    from importlib.metadata import version

    return version("atheris")


if __name__ == "__main__":
    main()
