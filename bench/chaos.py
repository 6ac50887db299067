"""Crash cycles under load (`make chaos`): the streaming pipeline killed, the broker and the store restarted.

A known set of records (bus and security lines of a simulated morning, plus garbage) is produced at
a steady rate into a private broker. Meanwhile the running pipeline (`safecampus run`) is SIGKILLed at
random moments and started again, then the broker is restarted under it, then PostgreSQL. At the end
a last run drains the topics and the store is checked against what the plain-Python pipeline makes
of the same lines: every event exactly once, every DLQ record once, every alert the records raise by
themselves present once. Prints the counts; exits 1 when anything is lost or doubled.

The broker (127.0.0.1:19092) and PostgreSQL (127.0.0.1:15432) are private to this run, started by the
project's own scripts, so restarting them disturbs nobody else.

    python bench/chaos.py [--records 30000] [--rate 400] [--kills 10] [--seed 7]
    python bench/chaos.py --short        # CI: 3,000 records, 3 kills, one broker and one store restart
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "local"
SAFECAMPUS = Path(sys.executable).with_name("safecampus")
KAFKA_PORT, PG_PORT = 19092, 15432
BOOTSTRAP = f"127.0.0.1:{KAFKA_PORT}"
STORE = f"postgresql+psycopg2://safecampus:safecampus@127.0.0.1:{PG_PORT}/safecampus"
DOMAINS = ("bus", "security")
GARBAGE = [b"not json at all", b'{"domain": "bus"}', b"\xff\xfe binary", b'{"domain": "security", "source": "x"}']
GROUP = "chaos"
LOG_NAME = "chaos-run.log"  # in the temporary directory: what the pipelines printed


def private_env() -> dict[str, str]:
    """Environment for the deploy scripts: a broker and a PostgreSQL of this harness's own."""
    data = Path.home() / ".local" / "share" / "safecampus-chaos"
    env = dict(os.environ, SAFECAMPUS_DATA=str(data), SAFECAMPUS_KAFKA_PORT=str(KAFKA_PORT))
    env["SAFECAMPUS_PG_PORT"] = str(PG_PORT)
    if os.geteuid() == 0:
        env["SAFECAMPUS_PGDATA"] = "/var/lib/postgresql/safecampus-chaos"
    else:
        env["SAFECAMPUS_PGDATA"] = str(data / "postgres")
    return env


def service(script: str, action: str) -> None:
    """Start or stop the private broker or PostgreSQL through deploy/local."""
    done = subprocess.run(
        ["bash", str(DEPLOY / script), action], env=private_env(), capture_output=True, text=True, timeout=240
    )
    if done.returncode != 0:
        raise SystemExit(f"chaos: {script} {action} failed:\n{done.stdout}{done.stderr}")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Expected:
    """What the plain-Python pipeline makes of the lines, per domain: event ids, DLQ count, fingerprints."""

    def __init__(self, inputs: dict[str, list[bytes]]) -> None:
        from safecampus.config import Settings
        from safecampus.connectors.registry import registry_at
        from safecampus.pipelines.catalog import pipeline_for
        from safecampus.pipelines.detection import detect_shard
        from safecampus.pipelines.normalize import normalize_lines

        self.events: dict[str, set[str]] = {}
        self.dlq = 0
        self.fingerprints: set[str] = set()
        for domain, lines in inputs.items():
            pipeline = pipeline_for(domain, Settings(), registry_at(STORE))  # type: ignore[arg-type]
            out = normalize_lines(pipeline, list(enumerate(lines)), "expected")
            self.events[domain] = {pipeline.event_id(e) for _, e in out.events}
            self.dlq += len(out.dlq)
            # Alerts the records raise by themselves (no deadline): no crash may lose one.
            self.fingerprints |= {a.fingerprint for a in detect_shard(pipeline, out.events, None).alerts}
            self.fingerprints |= {a.fingerprint for a in out.alerts}


class Store:
    """Counts in the private store, by plain SQL (the harness checks the pipeline, not itself)."""

    def __init__(self) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(STORE, pool_pre_ping=True)

    def _scalar(self, sql: str, **params: object) -> int:
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text(sql), params).scalar_one())
        except Exception:  # the store is down (being restarted): no count now
            return -1

    def events(self) -> int:
        return self._scalar("SELECT count(*) FROM eventrow")

    def event_ids(self, domain: str) -> list[str]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT event_id FROM eventrow WHERE domain = :d"), {"d": domain})
            return [r[0] for r in rows]

    def dlq(self) -> int:
        return self._scalar("SELECT count(*) FROM dlqrow")

    def fingerprints(self) -> list[str]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT fingerprint FROM alertrow"))]


def fresh_store() -> None:
    """Empty the private store and load the city's registry into it (the store is this harness's own)."""
    from sqlmodel import SQLModel

    from safecampus.connectors.registry import save_rows
    from safecampus.connectors.store import engine_for
    from safecampus.simulator.city import build_city

    engine = engine_for(STORE)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    save_rows(engine, build_city().rows())


def prepare(records: int) -> dict[str, list[bytes]]:
    """A fresh private store holding the city's registry, and the lines to produce (records split per domain)."""
    from safecampus.simulator.run import simulate

    fresh_store()
    sim = simulate(Path(tempfile.mkdtemp(prefix="chaos-sim-")), domains=DOMAINS, hours=(6, 10))
    inputs: dict[str, list[bytes]] = {}
    share = records // len(DOMAINS)
    for domain in DOMAINS:
        with sim.raw_file(domain).open("rb") as handle:
            lines = [line.rstrip(b"\n") for _, line in zip(range(share), handle, strict=False)]
        # Garbage first: it is produced before any fault, so a batch sent again after a broker
        # restart (a device's retry) can double only valid lines, whose events the store keys.
        inputs[domain] = GARBAGE + lines
    return inputs


def fresh_topics(domains: tuple[str, ...] = DOMAINS, partitions: int = 2) -> None:
    """Delete and recreate the private broker's topics of `domains` (`partitions` each) and forget the group's
    offsets."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from safecampus.connectors.kafka import Topics

    topics = Topics("")
    names = [topics.raw(d) for d in domains] + [topics.events(d) for d in domains]  # type: ignore[arg-type]
    names += [topics.derived("runs", "bus"), topics.alerts, topics.dlq, topics.kpis]
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        doomed = sorted(set(admin.list_topics()) & set(names))
        if doomed:
            admin.delete_topics(doomed)
            # Deletion is asynchronous: wait until the broker no longer lists them.
            wait_for(lambda: not set(admin.list_topics()) & set(doomed), 60)
        with contextlib.suppress(Exception):  # no such group yet
            admin.delete_groups([GROUP])
        for name in names:  # one at a time: a topic still being deleted is retried, not fatal
            for _ in range(30):
                try:
                    admin.create_topics([NewTopic(name, partitions, 1)])
                    break
                except Exception:
                    time.sleep(1)
    finally:
        admin.close()


def producer(inputs: dict[str, list[bytes]], rate: float, stop: threading.Event) -> threading.Thread:
    """Produce every line, interleaved across domains, at about `rate` records/s; retries while the broker is down."""
    from safecampus.connectors.kafka import Topics
    from safecampus.publisher import publish

    topics = Topics("")
    # A steady mix of the domains, each domain's lines in their own order (as devices send them).
    keyed = sorted((i / len(lines), d, i) for d, lines in inputs.items() for i in range(len(lines)))
    mixed = [(topics.raw(d), inputs[d][i]) for _, d, i in keyed]
    step = max(1, int(rate / 4))

    def run() -> None:
        sent, started = 0, time.monotonic()
        while sent < len(mixed) and not stop.is_set():
            batch = mixed[sent : sent + step]
            try:
                publish(BOOTSTRAP, batch)
            except Exception:  # the broker is being restarted: the same batch again once it answers
                time.sleep(1)
                continue
            sent += len(batch)
            time.sleep(max(0.0, started + sent / rate - time.monotonic()))
        say(f"producer: all {sent:,} records produced in {time.monotonic() - started:.0f} s")

    thread = threading.Thread(target=run, name="producer", daemon=True)
    thread.start()
    return thread


_started: list[subprocess.Popen[bytes]] = []


@atexit.register
def _kill_started() -> None:
    """A harness that stops on an error leaves no pipeline running against the private services."""
    for proc in _started:
        if proc.poll() is None:
            kill(proc)


def start_run(*extra: str, domains: tuple[str, ...] = DOMAINS) -> subprocess.Popen[bytes]:
    prism = Path.home() / ".cache" / "safecampus"
    prism_bin = next(iter(sorted(prism.glob("prism-*/prism"))), None)
    if prism_bin is None:
        raise SystemExit("chaos: the Prism runner is not built: make prism")
    log = open(Path(tempfile.gettempdir()) / LOG_NAME, "ab")  # noqa: SIM115 (the child owns it)
    proc = subprocess.Popen(
        [str(SAFECAMPUS), "run", *domains, "--kafka", BOOTSTRAP, "--store", STORE, "--group", GROUP]
        + ["--prism-location", str(prism_bin), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: a SIGKILL of the group takes the Prism child too
    )
    _started.append(proc)
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def kill_cycles(store: Store, kills: int, rng: random.Random) -> int:
    """SIGKILL the pipeline `kills` times, each a random 2–8 s after it has stored something new."""
    for n in range(1, kills + 1):
        before = store.events()
        proc = start_run()
        progressed = wait_for(lambda b=before: store.events() > b, 120)  # type: ignore[misc]
        time.sleep(rng.uniform(2, 8))
        kill(proc)
        say(f"kill {n}/{kills}: SIGKILL after progress={progressed}; stored events {store.events():,}")
    return kills


def restart_under(store: Store, script: str, what: str) -> float | None:
    """Restart a service (the broker or PostgreSQL) while the pipeline runs; the pipeline is left to cope.
    Returns the seconds from the service's start to the pipeline's next stored event (None: none within 90 s)."""
    before = store.events()
    proc = start_run()
    wait_for(lambda: store.events() > before, 120)
    time.sleep(2)
    say(f"{what}: stopping")
    service(script, "stop")
    time.sleep(3)
    service(script, "start")
    back, stored = time.monotonic(), store.events()
    resumed = wait_for(lambda: store.events() > stored, 90)
    seconds = round(time.monotonic() - back, 1) if resumed else None
    say(f"{what}: started again; the pipeline stored again after {seconds} s; stored events {store.events():,}")
    exited = proc.poll()
    kill(proc)
    say(f"{what}: the pipeline {'had exited with ' + str(exited) if exited is not None else 'kept running'}")
    return seconds


def verify(store: Store, want: Expected, started: float) -> dict[str, object]:
    """The store against what the records should have made; the figures the run prints."""
    lost = dup = 0
    per_domain = {}
    for domain, ids in want.events.items():
        stored = store.event_ids(domain)
        lost += len(ids - set(stored))
        dup += len(stored) - len(set(stored)) + len(set(stored) - ids)
        per_domain[domain] = {"expected": len(ids), "stored": len(stored)}
    fingerprints = store.fingerprints()
    alerts_lost = len(want.fingerprints - set(fingerprints))
    return {
        "events": per_domain,
        "events_lost": lost,
        "events_duplicated_or_unexpected": dup,
        "dlq_expected": want.dlq,
        "dlq_stored": store.dlq(),
        "alerts_expected": len(want.fingerprints),
        "alerts_stored": len(fingerprints),
        "alerts_lost": alerts_lost,
        "alert_fingerprints_doubled": len(fingerprints) - len(set(fingerprints)),
        "seconds": round(time.monotonic() - started),
    }


def exact(figures: dict[str, object], want: Expected) -> bool:
    """Every event, DLQ record and expected alert in the store exactly once."""
    return (
        figures["events_lost"] == 0
        and figures["events_duplicated_or_unexpected"] == 0
        and figures["dlq_stored"] == want.dlq
        and figures["alerts_lost"] == 0
        and figures["alert_fingerprints_doubled"] == 0
    )


def counts(figures: dict[str, object], want: Expected) -> str:
    """The store's checks in one line of the summary."""
    return (
        f"{figures['events_lost']} events lost, {figures['events_duplicated_or_unexpected']} doubled, "
        f"DLQ {figures['dlq_stored']}/{want.dlq}, alerts lost {figures['alerts_lost']}"
    )


@contextlib.contextmanager
def private_services(keep: bool) -> Iterator[None]:
    """The private broker and PostgreSQL, started; stopped at the end (unless `keep`), even on an error, and
    with no pipeline this harness started left running against them."""
    service("kafka.sh", "start")
    service("postgres.sh", "start")
    try:
        yield
    finally:
        _kill_started()
        if not keep:
            service("kafka.sh", "stop")
            service("postgres.sh", "stop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30000)
    parser.add_argument(
        "--rate", type=float, help="records produced per second (default: spread over the whole schedule of faults)"
    )
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--short", action="store_true", help="the CI version: 3,000 records, 3 kills")
    parser.add_argument("--keep-services", action="store_true", help="leave the private broker and store running")
    args = parser.parse_args()
    if args.short:
        args.records, args.kills = 3000, 3
    # Production lasts as long as the faults (about 12 s a kill, 35 s a restart): every fault meets load.
    args.rate = args.rate or args.records / (12 * args.kills + 70)
    started = time.monotonic()
    rng = random.Random(args.seed)
    say(f"chaos: starting a private broker ({BOOTSTRAP}) and PostgreSQL (port {PG_PORT})")
    with private_services(args.keep_services):
        inputs = prepare(args.records)
        fresh_topics()
        want = Expected(inputs)
        total = sum(len(v) for v in inputs.values())
        say(
            f"chaos: {total:,} records ({want.dlq} malformed) at {args.rate:,.0f}/s, "
            f"{len(want.fingerprints)} alerts expected"
        )
        store = Store()
        stop = threading.Event()
        feeding = producer(inputs, args.rate, stop)
        kill_cycles(store, args.kills, rng)
        resumed = {
            "broker": restart_under(store, "kafka.sh", "broker restart"),
            "postgres": restart_under(store, "postgres.sh", "PostgreSQL restart"),
        }
        feeding.join(timeout=3600)
        say("chaos: draining with a last run (--until-idle)")
        last = start_run("--until-idle")
        if last.wait(timeout=900) != 0:
            say(f"chaos: the last run exited {last.returncode}; see {tempfile.gettempdir()}/chaos-run.log")
        stop.set()
        figures = verify(store, want, started)
    figures["kills"], figures["records"] = args.kills, total
    figures["stored_again_after_restart_s"] = resumed
    print(json.dumps(figures))
    ok = exact(figures, want)
    print(
        f"chaos: {args.kills} kills, 1 broker restart, 1 PostgreSQL restart over {total:,} records: "
        f"{counts(figures, want)} — " + ("PASS" if ok else "FAIL")
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
