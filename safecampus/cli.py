"""The `safecampus` command: simulate, demo, replay, registry, decode, run, gateway, exporter, gtfs-rt, evaluate.

Errors a person sees are one line in plain words with what to do next; exit codes are 0 on
success (even when records went to the DLQ) and non-zero only when the command could not run.
"""

from __future__ import annotations

import logging

# Beam logs import-time warnings on the root logger; keep the terminal for people.
logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402

from safecampus.alert_desk import alerts_app  # noqa: E402
from safecampus.canteen.cli import api_app  # noqa: E402
from safecampus.canteen.cli import register as register_canteen  # noqa: E402
from safecampus.cli_common import check_kafka_or_exit as _check_kafka  # noqa: E402
from safecampus.cli_common import console, errors, fail, split_beam_args  # noqa: E402
from safecampus.cli_devices import decode_app, gateway_app  # noqa: E402
from safecampus.cli_transit import evaluate_app, gtfs_rt  # noqa: E402
from safecampus.config import Settings  # noqa: E402
from safecampus.dashboards_cli import dashboards_app  # noqa: E402
from safecampus.exporter import exporter  # noqa: E402
from safecampus.fire.cli import register as register_fire  # noqa: E402
from safecampus.plan.cli import register as register_plan  # noqa: E402
from safecampus.schemas.common import DOMAINS, Domain  # noqa: E402

app = typer.Typer(
    help="Streaming pipelines for the safe-campus (平安校园) programme.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
registry_app = typer.Typer(help="Load and inspect the registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(decode_app, name="decode")
app.add_typer(gateway_app, name="gateway")
app.add_typer(alerts_app, name="alerts")
app.command("exporter")(exporter)
app.command("gtfs-rt")(gtfs_rt)
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(dashboards_app, name="dashboards")
report_app = typer.Typer(
    help="Reports people read: canteen disclosures and audits, open data, the fire ledger, certification, the plan.",
    no_args_is_help=True,
)
import_app = typer.Typer(
    help="Import files kept by people into raw envelopes (replay file or topic).", no_args_is_help=True
)
app.add_typer(report_app, name="report")
app.add_typer(import_app, name="import")
for register in (register_fire, register_canteen, register_plan):
    register(report_app, import_app)
app.add_typer(api_app, name="api")


def _domains(values: list[str] | None) -> list[Domain]:
    chosen = values or list(DOMAINS)
    unknown = [v for v in chosen if v not in DOMAINS]
    if unknown:
        fail(f"unknown domain {unknown[0]!r}; choose from {', '.join(DOMAINS)}", 2)
    return chosen  # type: ignore[return-value]


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("out/sim"),
    days: Annotated[int, typer.Option(min=1, max=31, help="school days to simulate")] = 1,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same city")] = 2026,
    to: Annotated[
        str, typer.Option("--to", help="files; kafka: also publish to raw.*; jt808: buses also drive a gateway")
    ] = "files",
    gateway: Annotated[str, typer.Option(help="JT/T 808 gateway HOST:PORT (with --to jt808)")] = "127.0.0.1:7808",
    kafka: Annotated[
        str | None, typer.Option("--kafka", help="Kafka bootstrap HOST:PORT (with --to kafka; default: settings)")
    ] = None,
    speed: Annotated[float, typer.Option(min=0, help="N× real time by received_at; 0 = as fast as possible")] = 0,
    topic_prefix: Annotated[str, typer.Option(help="prefix of the raw topic names (tests)")] = "",
) -> None:
    """Simulate the city: registry CSV + GTFS, raw JSONL per domain, ground truth; optionally publish to Kafka."""
    from safecampus.simulator.run import simulate as run_simulation

    if to not in ("files", "kafka", "jt808"):
        fail(f"--to must be files, kafka or jt808, not {to!r}", 2)
    kafka = kafka or Settings().kafka
    if to == "kafka":
        _check_kafka(kafka)
    if to == "jt808":
        _check_gateway(gateway)
    with console.status("simulating Changzhou…"):
        result = run_simulation(out, days=days, seed=seed)
    for domain, count in result.counts.items():
        console.print(f"  {domain:8} {count:>9,} raw records → {result.raw_file(domain)}")
    console.print(f"  {result.anomalies} injected anomalies → {out / 'ground_truth.jsonl'}")
    if to == "kafka":
        _publish(result.counts, {d: result.raw_file(d) for d in result.counts}, kafka, speed, topic_prefix)
    if to == "jt808":
        _drive(result.raw_file("bus"), gateway, speed)


def _check_gateway(gateway: str) -> None:
    """Fail before simulating when the JT/T 808 gateway does not answer."""
    import socket

    host, _, port = gateway.rpartition(":")
    if not port.isdigit():
        fail(f"--gateway must be HOST:PORT, not {gateway!r}", 2)
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=3).close()
    except OSError as exc:
        fail(
            f"the JT/T 808 gateway at {gateway} is not reachable ({exc.strerror or exc}); "
            "start it with safecampus gateway jt808"
        )


def _drive(bus_file: Path, gateway: str, speed: float) -> None:
    """The simulated buses speak JT/T 808 to a running gateway (safecampus gateway jt808)."""
    from safecampus.simulator.terminals import drive_gateway

    host, _, port = gateway.rpartition(":")
    if not port.isdigit():
        fail(f"--gateway must be HOST:PORT, not {gateway!r}", 2)
    with console.status(f"buses driving to the JT/T 808 gateway at {gateway}…"):
        try:
            sent = drive_gateway(bus_file, host or "127.0.0.1", int(port), speed)
        except OSError as exc:
            fail(
                f"the JT/T 808 gateway at {gateway} is not reachable ({exc.strerror or exc}); "
                "start it with safecampus gateway jt808"
            )
    console.print(f"{sent.terminals} terminals sent {sent.frames_sent:,} frames; {sent.replies:,} replies")


def _publish(counts: dict[str, int], files: dict[str, Path], bootstrap: str, speed: float, prefix: str) -> None:
    """Publish the raw files to raw.<domain>, merged by receive time, with a progress bar per domain."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from safecampus.connectors.kafka import Topics
    from safecampus.publisher import publish_files

    raw = Topics(prefix).raw
    topics = {raw(domain): domain for domain in files}  # type: ignore[arg-type]
    pace = "as fast as possible" if speed == 0 else f"at {speed:g}× real time"
    console.print(f"publishing to {bootstrap} {pace} (Ctrl-C stops)")
    with Progress(
        TextColumn("  {task.description:14}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        tasks = {topic: progress.add_task(topic, total=counts[d]) for topic, d in topics.items()}
        sent = publish_files(
            bootstrap,
            [(t, files[d]) for t, d in topics.items()],
            speed,
            lambda topic, n: progress.advance(tasks[topic], n),
        )
    console.print(f"published {sent:,} raw records")


def _default_prism() -> Path:
    from apache_beam.version import __version__ as beam_version

    return Path.home() / ".cache" / "safecampus" / f"prism-{beam_version}" / "prism"


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    domains: Annotated[list[str] | None, typer.Argument(help="domains to run (default: all four)")] = None,
    kafka: Annotated[str | None, typer.Option("--kafka", help="Kafka bootstrap HOST:PORT (default: settings)")] = None,
    prism_location: Annotated[Path | None, typer.Option(help="Prism runner binary (default: the cached build)")] = (
        None
    ),
    store: Annotated[
        str | None, typer.Option(help="store URL: the registry is read from it, results upserted (default: settings)")
    ] = None,
    group: Annotated[str, typer.Option("--group", help="Kafka consumer group (where offsets are committed)")] = (
        "safecampus"
    ),
    until_idle: Annotated[bool, typer.Option("--until-idle", help="stop once the raw topics are read to their end")] = (
        False
    ),
    topic_prefix: Annotated[str, typer.Option(help="prefix of every topic name (tests)")] = "",
    instance: Annotated[int, typer.Option(help="this instance's number, 0..instances-1 (deploy/SCALING.md)")] = 0,
    instances: Annotated[int, typer.Option(help="how many instances share the topics' partitions")] = 1,
    runner: Annotated[str, typer.Option(help="Beam runner; options after -- go to it (deploy/RUNNERS.md)")] = (
        "PrismRunner"
    ),
) -> None:
    """Run the streaming pipelines on Prism: raw.* → events.*, alerts, dlq and the store, until Ctrl-C.

    Beam options after `--` are passed to the runner as written, e.g.
    `safecampus run --runner PortableRunner -- --job_endpoint=localhost:8099`."""
    named, beam_args = split_beam_args(domains)
    chosen = _domains(named)
    beam_args += ctx.args
    if instances < 1 or not 0 <= instance < instances:
        fail(f"--instance {instance} --instances {instances}: the instance must be 0..{max(instances, 1) - 1}", 2)
    settings = Settings()
    kafka = kafka or settings.kafka
    url = store or settings.database_url
    _registry_or_exit(url)
    _check_kafka(kafka)
    prism = prism_location or _default_prism()
    if runner == "PrismRunner" and not prism.is_file():
        fail(f"the Prism runner is not at {prism} — build it with make prism (deploy/local/prism.sh)")
    from safecampus.connectors.kafka import Instance
    from safecampus.pipelines.streaming_job import run_streaming

    logging.getLogger("safecampus").setLevel(logging.INFO)  # a restart after a failure is said, in one line
    share = f", instance {instance + 1} of {instances}" if instances > 1 else ""
    console.print(
        f"running {', '.join(chosen)} from {kafka} on {runner.removesuffix('Runner')} (group {group}{share})"
        f" → store {url}" + ("" if until_idle else "; Ctrl-C stops")
    )
    try:
        run_streaming(
            chosen,
            kafka,
            str(prism),
            url,
            url,
            group_id=group,
            stop_at_end=until_idle,
            topic_prefix=topic_prefix,
            instance=Instance(instance, instances),
            runner=runner,
            beam_args=beam_args,
        )
    except KeyboardInterrupt:
        pass  # run_streaming cancels on Ctrl-C; a second Ctrl-C lands here
    except Exception as exc:  # the runner's errors are long; a person needs the first line
        fail(f"the pipeline stopped: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
    console.print("stopped")


@app.command()
def replay(
    domain: Annotated[str, typer.Argument(help="security, bus, canteen or fire")],
    input: Annotated[Path, typer.Option("--input", help="JSONL file of raw envelopes")],
    out: Annotated[Path, typer.Option("--out", help="directory for events/alerts/kpis/dlq .jsonl")],
    store: Annotated[
        str | None,
        typer.Option(help="store URL: the registry is read from it, results upserted into it (default: settings)"),
    ] = None,
    operations: Annotated[
        Path | None, typer.Option(help="operators' acknowledgements and suppression windows (JSONL)")
    ] = None,
) -> None:
    """Run one domain's pipeline over a file (batch, in-process runner)."""
    (chosen,) = _domains([domain])
    _input_file_or_exit(input, "input file")
    if operations is not None:
        _input_file_or_exit(operations, "operations log")
    settings = Settings()
    url = store or settings.database_url
    _registry_or_exit(url)
    from safecampus.pipelines.replay import run_replay

    try:
        with console.status(f"replaying {input} through the {chosen} pipeline…"):
            run_replay([(chosen, input, out)], settings, url, url, operations)
    except ValueError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"could not read or write files: {exc}")
    if chosen == "canteen":
        from safecampus.canteen.audit_run import audit_after_replay

        audit_after_replay(url, out, settings, input)  # statements and the ledger-wide checks, over the store
    counts = {name: _count_lines(out / f"{name}.jsonl") for name in ("events", "alerts", "kpis", "dlq")}
    console.print(" · ".join(f"{n} {c:,}" for n, c in counts.items()) + f" → {out}/")
    if counts["events"] == 0 and counts["dlq"] == 0:
        console.print(f"note: {input} holds no records (it is empty or blank); nothing was replayed")
    elif counts["events"] == 0:
        console.print(f"note: every record was refused; the first reasons (all in {out}/dlq.jsonl):")
        for reason in _first_reasons(out / "dlq.jsonl"):
            console.print(f"  · {reason}", highlight=False)


def _input_file_or_exit(path: Path, what: str) -> None:
    if path.is_dir():
        fail(f"the {what} {path} is a folder; give a JSONL file", 2)
    if not path.is_file():
        fail(f"the {what} {path} does not exist", 2)


def _first_reasons(dlq: Path, limit: int = 3) -> list[str]:
    """The first distinct DLQ reasons, with their input line, for a person to act on."""
    reasons: list[str] = []
    with dlq.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            reason = f"line {record.get('source_offset')}: {record.get('reason')}"
            if record.get("reason") not in {r.split(": ", 1)[-1] for r in reasons}:
                reasons.append(reason)
            if len(reasons) == limit:
                break
    return reasons


def _registry_or_exit(url: str) -> None:
    """Exit 2 with one line unless the store at `url` holds a registry (production never invents a city)."""
    from safecampus.connectors.registry import EmptyRegistryError, registry_at
    from safecampus.connectors.store import StoreError

    try:
        registry_at(url)
    except (EmptyRegistryError, StoreError) as exc:
        fail(str(exc), 2)


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("out"),
    days: Annotated[int, typer.Option(min=1, max=31)] = 1,
    full_day: Annotated[bool, typer.Option("--full-day", help="the whole day, not only the morning peak")] = False,
) -> None:
    """Simulate a school morning (or --full-day) and run every pipeline over it on the embedded default."""
    from safecampus.demo import run_demo

    run_demo(out, days, console, full_day)


@registry_app.command("load")
def registry_load(
    directory: Annotated[Path, typer.Argument(help="directory of registry CSV files and/or a GTFS feed")],
    store: Annotated[str | None, typer.Option(help="store URL (default: the configured database_url)")] = None,
) -> None:
    """Load registry CSV files and a GTFS feed into the store (upserts: loading twice is harmless)."""
    from safecampus.connectors.registry import RegistryLoadError, load_dir
    from safecampus.connectors.store import StoreError, open_store

    url = store or Settings().database_url
    try:
        total = load_dir(
            directory, open_store(url, create=True), lambda name, n: console.print(f"  {name:28} {n:>7,} rows")
        )
    except (RegistryLoadError, StoreError) as exc:
        fail(str(exc), 2)
    console.print(f"loaded {total:,} rows into {url}")


def main() -> None:  # noqa: D103
    try:
        app()
    except KeyboardInterrupt:
        errors.print("stopped")
        sys.exit(130)


if __name__ == "__main__":
    main()
