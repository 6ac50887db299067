"""Several pipeline instances on the same topics, one SIGKILLed mid-stream (`make scale-out`).

Topics of 4 partitions; `safecampus run --instance i --instances 2` twice, each reading its own two
partitions of each raw topic and committing its own offsets to the shared group. While a known set of
records is produced at a steady rate, one instance is SIGKILLed at random moments (the other must keep
storing meanwhile) and started again (it rebuilds the detectors of its partitions from the store). At
the end both instances drain the topics (`--until-idle`) and the store is checked as `make chaos` checks
it: every event exactly once, every DLQ record once, every alert the records raise present once.

Runs on the private broker (127.0.0.1:19092) and PostgreSQL (15432) of bench/chaos.py.

    python bench/scale_out.py [--records 8000] [--kills 3] [--instances 2] [--partitions 4] [--seed 11]
    python bench/scale_out.py --short      # CI: 3,000 records, 2 kills
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time

import chaos
from chaos import BOOTSTRAP, PG_PORT, Expected, Store, say, verify, wait_for

chaos.LOG_NAME = "scale-out-run.log"


def instance_flags(index: int, count: int) -> tuple[str, ...]:
    return ("--instance", str(index), "--instances", str(count))


def cycles(store: Store, count: int, kills: int, rng: random.Random) -> list[int]:
    """Kill the last instance `kills` times; return how many events the others stored while it was down."""
    procs = [chaos.start_run(*instance_flags(i, count)) for i in range(count)]
    wait_for(lambda: store.events() > 0, 180)
    carried: list[int] = []
    victim = count - 1
    for n in range(1, kills + 1):
        time.sleep(rng.uniform(8, 15))  # the (re)started victim is mid-stream by then
        chaos.kill(procs[victim])
        before = store.events()
        wait_for(lambda b=before: store.events() > b, 30)  # type: ignore[misc]
        time.sleep(3)
        carried.append(store.events() - before)
        say(f"kill {n}/{kills}: instance {victim} SIGKILLed; the others stored {carried[-1]:,} events meanwhile")
        procs[victim] = chaos.start_run(*instance_flags(victim, count))
    time.sleep(5)
    for proc in procs:
        chaos.kill(proc)
    return carried


def drain(count: int) -> list[int]:
    """Every instance reads its partitions to their end at once; their exit codes."""
    last = [chaos.start_run("--until-idle", *instance_flags(i, count)) for i in range(count)]
    codes = []
    for proc in last:
        try:
            codes.append(proc.wait(timeout=900))
        except subprocess.TimeoutExpired:
            chaos.kill(proc)
            codes.append(-9)
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=8000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--short", action="store_true", help="the CI version: 3,000 records, 2 kills")
    parser.add_argument("--keep-services", action="store_true", help="leave the private broker and store running")
    args = parser.parse_args()
    if args.short:
        args.records, args.kills = 3000, 2
    if args.partitions < args.instances:
        raise SystemExit("scale-out: give at least as many partitions as instances")
    rate = args.records / (20 * args.kills + 40)  # production lasts as long as the kills
    started = time.monotonic()
    say(f"scale-out: a private broker ({BOOTSTRAP}) and PostgreSQL (port {PG_PORT})")
    with chaos.private_services(args.keep_services):
        inputs = chaos.prepare(args.records)
        chaos.fresh_topics(partitions=args.partitions)
        want = Expected(inputs)
        total = sum(len(v) for v in inputs.values())
        say(
            f"scale-out: {args.instances} instances on {args.partitions} partitions a topic, {total:,} records "
            f"at {rate:,.0f}/s, {len(want.fingerprints)} alerts expected"
        )
        store = Store()
        stop = threading.Event()
        feeding = chaos.producer(inputs, rate, stop)
        carried = cycles(store, args.instances, args.kills, random.Random(args.seed))
        feeding.join(timeout=3600)
        say("scale-out: every instance drains its partitions (--until-idle)")
        codes = drain(args.instances)
        stop.set()
        figures = verify(store, want, started)
    figures.update(
        kills=args.kills,
        records=total,
        instances=args.instances,
        partitions=args.partitions,
        stored_while_one_was_down=carried,
        drain_exit_codes=codes,
    )
    print(json.dumps(figures))
    ok = chaos.exact(figures, want) and all(c > 0 for c in carried) and codes == [0] * args.instances
    print(
        f"scale-out: {args.instances} instances, {args.kills} SIGKILLs of one over {total:,} records: "
        f"{chaos.counts(figures, want)}, stored by the others while one was down {carried} — "
        + ("PASS" if ok else "FAIL")
        + f" (logs: {tempfile.gettempdir()}/{chaos.LOG_NAME})"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
