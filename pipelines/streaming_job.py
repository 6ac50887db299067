"""Running the streaming pipelines as a job: the runner's options, and a restart from the committed offsets
when the job fails (the broker went away). The graph itself is `pipelines/streaming.py`.

    safecampus run bus security --kafka 127.0.0.1:9092 --store postgresql+psycopg2://…
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from safecampus.config import Settings
from safecampus.connectors.kafka import EVERY_PARTITION, Instance, KafkaUnavailableError, check_kafka
from safecampus.connectors.registry import registry_at
from safecampus.connectors.store import engine_for
from safecampus.pipelines.streaming import build_streaming
from safecampus.schemas.common import Domain

__all__ = ["run_streaming", "streaming_options"]

log = logging.getLogger(__name__)

PRISM = "PrismRunner"
# Beam's portable runner opens the job's state and message streams with `job_server_timeout` as their gRPC
# deadline (default 300 s): a streaming job "fails" with DEADLINE_EXCEEDED every 5 minutes and our loop
# restarted it, a ~20 s stall each time (apache/beam #35867). A streaming job's streams must outlive it.
JOB_SERVER_TIMEOUT_S = 365 * 24 * 3600


def streaming_options(
    prism_location: str | None, runner: str = PRISM, beam_args: Sequence[str] = ()
) -> PipelineOptions:
    """Streaming mode on `runner` (Prism by default, from `prism_location`), with the caller's own Beam options
    (`beam_args`, e.g. a job endpoint) passed through as written; type checks off (batches are plain lists,
    checked by our own types). Nothing in the graph assumes Prism: see deploy/RUNNERS.md."""
    extra: dict[str, Any] = {"prism_location": prism_location} if runner == PRISM and prism_location else {}
    defaults = ["--no_pipeline_type_check", f"--job_server_timeout={JOB_SERVER_TIMEOUT_S}"]
    return PipelineOptions([*defaults, *beam_args], runner=runner, streaming=True, **extra)  # the caller's win


def run_streaming(
    domains: Sequence[Domain],
    bootstrap: str,
    prism_location: str | None,
    store_url: str | None,
    registry_url: str,
    group_id: str = "safecampus",
    stop_at_end: bool = False,
    topic_prefix: str = "",
    settings: Settings | None = None,
    instance: Instance = EVERY_PARTITION,
    runner: str = PRISM,
    beam_args: Sequence[str] = (),
) -> None:
    """Run the streaming pipelines of `domains` on Prism until stopped (or, with `stop_at_end`, drained).

    With `instance` (i of n), this process reads only its share of each raw topic's partitions: n such
    processes, on one machine or n, share the topics, the group's offsets and the store (deploy/SCALING.md).

    Ctrl-C cancels the pipeline and returns: offsets of bundles not yet finalized stay uncommitted,
    so the next run reads those records again. When streaming, a failed job (the broker went away)
    is started again once Kafka answers, from the committed offsets.
    """
    settings = settings or Settings()
    registry_at(registry_url)  # an empty or missing registry fails here, in plain words
    if store_url:
        engine_for(store_url)  # create the tables once, before many workers race to
    while True:
        root = beam.Pipeline(options=streaming_options(prism_location, runner, beam_args))
        for domain in domains:
            build_streaming(
                root,
                domain,
                bootstrap,
                group_id,
                settings,
                registry_url,
                store_url,
                stop_at_end,
                topic_prefix,
                instance=instance,
            )
        result = root.run()
        try:
            result.wait_until_finish()
            return
        except KeyboardInterrupt:
            log.info("stopping: cancelling the pipeline")
            _cancel(result)
            return
        except Exception:
            if stop_at_end:
                raise
            # A failed bundle (e.g. the broker went away mid-write) fails the job on Prism. Its offsets were
            # never committed, so starting again from the group's offsets loses nothing and, with idempotent
            # sinks, doubles nothing in the store.
            log.warning("the pipeline failed; restarting from the committed offsets", exc_info=True)
            _cancel(result)
            _wait_for_kafka(bootstrap)


def _cancel(result: beam.runners.runner.PipelineResult) -> None:
    try:
        result.cancel()
    except Exception:  # the job may already be gone; stopping must not raise
        log.debug("cancel failed", exc_info=True)


def _wait_for_kafka(bootstrap: str) -> None:
    """Block until the broker answers again (checks every few seconds)."""
    while True:
        try:
            check_kafka(bootstrap, timeout_s=5)
            return
        except KafkaUnavailableError:
            time.sleep(2)
