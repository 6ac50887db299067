"""Several pipeline instances on the same topics (deploy/SCALING.md) and other runners' options
(deploy/RUNNERS.md). The two-instance SIGKILL run is bench/scale_out.py --short, on the private broker
and PostgreSQL of bench/chaos.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PortableOptions, StandardOptions

from safecampus.cli_common import split_beam_args
from safecampus.connectors.kafka import Instance, ReadFromKafka
from safecampus.pipelines.streaming_job import streaming_options

SCALE_OUT = Path(__file__).resolve().parents[2] / "bench" / "scale_out.py"


@pytest.mark.parametrize(("count", "partitions"), [(1, 2), (2, 4), (3, 8), (4, 4)])
def test_instances_read_every_partition_exactly_once(count: int, partitions: int) -> None:
    owners = {p: [i for i in range(count) if Instance(i, count).owns(p)] for p in range(partitions)}
    assert all(len(who) == 1 for who in owners.values()), owners
    shares = [sum(1 for who in owners.values() if who == [i]) for i in range(count)]
    assert max(shares) - min(shares) == (0 if partitions % count == 0 else 1)


def test_an_instance_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match="0..1"):
        ReadFromKafka("127.0.0.1:9092", ["raw.bus"], "g", instance=Instance(2, 2))


def test_beam_options_after_the_double_dash_reach_the_runner() -> None:
    named, beam_args = split_beam_args(["bus", "security", "--job_endpoint=localhost:8099", "--parallelism", "4"])
    assert named == ["bus", "security"]
    assert beam_args == ["--job_endpoint=localhost:8099", "--parallelism", "4"]
    assert split_beam_args(["--job_endpoint=x"]) == (None, ["--job_endpoint=x"])
    options = streaming_options(None, "PortableRunner", beam_args)
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    assert options.view_as(StandardOptions).streaming is True
    assert options.view_as(PortableOptions).job_endpoint == "localhost:8099"
    assert "prism_location" not in options.get_all_options(drop_default=True)


def test_a_streaming_job_outlives_the_job_servers_request_timeout() -> None:
    """Beam bounds the job's state stream by `job_server_timeout` (300 s by default): a streaming job must not
    end there (apache/beam #35867). An operator's own value still wins."""
    assert streaming_options(None).view_as(PortableOptions).job_server_timeout >= 30 * 24 * 3600
    options = streaming_options(None, "PortableRunner", ["--job_server_timeout=600"])
    assert options.view_as(PortableOptions).job_server_timeout == 600


@pytest.mark.integration
def test_two_instances_one_killed_lose_nothing_and_double_nothing(prism_location: str) -> None:
    run = subprocess.run(
        [sys.executable, str(SCALE_OUT), "--short"], capture_output=True, text=True, timeout=1200, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    figures = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("{")))
    assert figures["instances"] == 2 and figures["partitions"] == 4 and figures["kills"] == 2
    for domain, counts in figures["events"].items():
        assert counts["expected"] > 1000, domain
        assert counts["stored"] == counts["expected"], domain
    assert figures["events_lost"] == 0 and figures["events_duplicated_or_unexpected"] == 0
    assert figures["dlq_expected"] > 0 and figures["dlq_stored"] == figures["dlq_expected"]
    assert figures["alerts_expected"] > 0 and figures["alerts_lost"] == 0
    assert figures["alert_fingerprints_doubled"] == 0
    # The other instance kept storing while one was down: the survivor carried on.
    assert len(figures["stored_while_one_was_down"]) == 2 and min(figures["stored_while_one_was_down"]) > 0
    assert figures["drain_exit_codes"] == [0, 0]
