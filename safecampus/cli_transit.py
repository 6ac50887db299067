"""`safecampus gtfs-rt` (the GTFS-realtime feeds) and `safecampus evaluate predictions` (how good they are)."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safecampus.cli_common import check_kafka_or_exit, console, errors, fail
from safecampus.config import Settings

if TYPE_CHECKING:
    from safecampus.pipelines.bus.predict import ArrivalPredictor

evaluate_app = typer.Typer(help="Measure what the pipelines predict against simulated truth.", no_args_is_help=True)


def gtfs_rt(
    port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1")] = 8081,
    kafka: Annotated[str | None, typer.Option(help="follow events.bus and alerts on this broker")] = None,
    from_dir: Annotated[Path | None, typer.Option(help="or serve a bus replay's output directory")] = None,
    until: Annotated[
        datetime | None,
        typer.Option(help="with --from-dir: the state as it was then (ISO time, e.g. 2026-09-01T07:10:00+08:00)"),
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="store URL of the registry, for arrival predictions (default: settings)")
    ] = None,
) -> None:
    """Serve GTFS-realtime VehiclePositions and TripUpdates (predicted arrivals) of the school buses."""
    from safecampus.connectors.bus.gtfs_realtime import GtfsRealtimeServer, GtfsRealtimeState
    from safecampus.transit_feed import LiveFeed, follow_kafka, load_replay_output

    if (kafka is None) == (from_dir is None):
        fail("say where bus positions come from: --kafka HOST:PORT or --from-dir DIR (a bus replay's output)", 2)
    if until is not None and until.tzinfo is None:
        fail(f"--until {until.isoformat()} has no time zone; write it like 2026-09-01T07:10:00+08:00", 2)
    feed = LiveFeed(GtfsRealtimeState(), _predictor(store))
    if from_dir is not None:
        if not (from_dir / "events.jsonl").is_file():
            fail(f"{from_dir} holds no events.jsonl; run safecampus replay bus --out {from_dir} first", 2)
        console.print(f"loaded {load_replay_output(feed, from_dir, until):,} bus events")
    else:
        check_kafka_or_exit(kafka or "")
    stopped = threading.Event()
    try:
        server = GtfsRealtimeServer(feed.state, port=port).start()
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}")
    console.print(f"GTFS-realtime at {server.url}/gtfs-rt/vehicle-positions and /gtfs-rt/trip-updates (Ctrl-C stops)")
    try:
        if kafka is not None:
            follow_kafka(feed, kafka, stopped.is_set)
        else:
            stopped.wait()
    finally:
        stopped.set()
        server.stop()


def _predictor(store: str | None) -> ArrivalPredictor | None:
    """The arrival predictor over the store's registry; without a registry, TripUpdates carry measured delays."""
    from safecampus.connectors.registry import EmptyRegistryError, registry_at
    from safecampus.connectors.store import StoreError
    from safecampus.pipelines.bus.predict import ArrivalPredictor

    settings = Settings()
    url = store or settings.database_url
    try:
        return ArrivalPredictor(registry_at(url), settings.bus)
    except (EmptyRegistryError, StoreError) as exc:
        errors.print(f"无到站预测 no arrival predictions (TripUpdates carry measured delays only): {exc}")
        return None


@evaluate_app.command("predictions")
def evaluate_predictions(
    days: Annotated[int, typer.Option(help="simulated school days in all")] = 8,
    learn: Annotated[int, typer.Option(help="of them, the first days only learned from")] = 5,
    seed: Annotated[int, typer.Option(help="the simulated city")] = 2026,
) -> None:
    """Replay simulated school days: learn from the first, predict on the rest, print the error table."""
    from rich.table import Table

    from safecampus.prediction_eval import evaluate, table_rows

    if not 0 < learn < days:
        fail(f"--learn {learn} must be at least 1 and fewer than --days {days}", 2)
    began = time.perf_counter()
    scores, runs = evaluate(days, learn, seed, lambda line: console.print(line, highlight=False))
    table = Table(
        title=f"到站预测误差 arrival prediction error ({days - learn} 天评分 days scored, {runs} 趟学习 runs)"
    )
    for header in ("提前量 horizon", "样本 samples", "历史 history MAE / p90", "仅时刻表 schedule-only MAE / p90"):
        table.add_column(header, justify="right")
    for row in table_rows(scores):
        table.add_row(*row)
    console.print(table)
    console.print(f"用时 took {time.perf_counter() - began:.0f} s")
