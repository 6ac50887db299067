"""The one Kafka source of the Beam pipelines: a Splittable DoFn over librdkafka (confluent-kafka).

`ReadFromKafka` has one restriction per topic partition: an offset range that starts at the
consumer group's committed offset (earliest when none) and is unbounded, or ends at the
partition's end offset when `stop_at_end` is set (tests, batch replays). It emits *batches* of
`KafkaMessage` (one per poll of one partition) because Beam's cost is per element. Offsets are
committed to the group only in a bundle finalization callback, i.e. after the runner has made the
bundle's outputs durable, so a crash before that replays the records (at-least-once end to end).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.io.watermark_estimators import ManualWatermarkEstimator
from apache_beam.runners.sdf_utils import RestrictionTrackerView
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Duration, Timestamp
from confluent_kafka import Consumer, Message, TopicPartition

from safecampus.connectors.kafka.clients import REQUEST_TIMEOUT_MS, Header, committed_offsets, pipeline_consumer

log = logging.getLogger(__name__)
_UNBOUNDED = 2**63 - 1  # restriction end of a partition read forever
_IDLE_SLACK_S = 2.0  # an idle partition's watermark trails wall time by this much
# An idle partition is polled again after this: it bounds produce→output latency when the reader has
# caught up, and Prism spends CPU per idle bundle (0.2 s: ~80 % of a core for 2 partitions; 1 s: ~30 %).
_IDLE_RESUME_S = 0.5
_COMMIT_TIMEOUT_S = REQUEST_TIMEOUT_MS / 1000
_METADATA_TIMEOUT_S = 10.0
_MAX_PROCESS_S = 2.0  # a process() call hands back control this often, so bundles end and offsets commit


class KafkaMessage(NamedTuple):
    """One consumed record; `ReadFromKafka` emits lists of these."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[Header, ...]
    timestamp_ms: int


@dataclass(frozen=True)
class Instance:
    """This pipeline instance's share of the partitions: number `index` of `count` (0-based)."""

    index: int = 0
    count: int = 1

    def owns(self, partition: int) -> bool:
        return partition % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"


EVERY_PARTITION = Instance()  # one instance reads them all


class _PartitionSpec(NamedTuple):
    """A partition to read and its initial offset range [start, stop)."""

    topic: str
    partition: int
    start: int
    stop: int


class _DiscoverPartitions(beam.DoFn):
    """Impulse → one `_PartitionSpec` per partition of this instance, starting at the group's committed offset.

    Instance `i` of `n` reads the partitions numbered p with p % n == i of every topic (static assignment,
    as Beam's own KafkaIO assigns partitions rather than joining a consumer group)."""

    def __init__(self, bootstrap: str, topics: list[str], group_id: str, stop_at_end: bool, instance: Instance) -> None:
        self._bootstrap, self._topics, self._group_id = bootstrap, topics, group_id
        self._stop_at_end, self._instance = stop_at_end, instance

    def process(self, _: bytes) -> Iterator[_PartitionSpec]:
        consumer = pipeline_consumer(self._bootstrap, self._group_id)
        try:
            tps = []
            for topic in self._topics:
                found = consumer.list_topics(topic, timeout=_METADATA_TIMEOUT_S).topics.get(topic)
                if found is None or found.error is not None or not found.partitions:
                    raise ValueError(f"Kafka topic {topic!r} does not exist at {self._bootstrap}")
                partitions = found.partitions
                mine = [p for p in sorted(partitions) if self._instance.owns(p)]
                if not mine:
                    log.warning(
                        "topic %s has %d partitions: none for instance %s; create at least as many partitions "
                        "as instances",
                        topic,
                        len(partitions),
                        self._instance,
                    )
                tps += [TopicPartition(topic, p) for p in mine]
            committed = {
                (tp.topic, tp.partition): tp.offset for tp in committed_offsets(consumer, tps, _METADATA_TIMEOUT_S)
            }
            for tp in tps:
                earliest, end = consumer.get_watermark_offsets(tp, _METADATA_TIMEOUT_S)
                at = committed[(tp.topic, tp.partition)]  # negative: nothing committed
                # Retention may have deleted what the group last committed: start at what still exists.
                # A commit past the end (the topic was recreated) would never be reached: cap it there.
                start = min(max(at if at >= 0 else 0, earliest), end)
                stop = end if self._stop_at_end else _UNBOUNDED
                yield _PartitionSpec(tp.topic, tp.partition, start, stop)
        finally:
            consumer.close()


class _CheckpointOnlyTracker(OffsetRestrictionTracker):
    """Offset tracker that allows checkpoints but no fractional splits.

    Two halves of one partition read in parallel would commit offsets out of order (a later half
    committing first would skip the earlier half's records after a crash), so a partition is read
    by one restriction at a time.
    """

    def try_split(self, fraction_of_remainder: float) -> tuple[OffsetRange, OffsetRange] | None:
        return super().try_split(0) if fraction_of_remainder == 0 else None

    def is_bounded(self) -> bool:
        return bool(self.current_restriction().stop < _UNBOUNDED)


class _PartitionRestrictions(RestrictionProvider):
    def initial_restriction(self, element: _PartitionSpec) -> OffsetRange:
        return OffsetRange(element.start, element.stop)

    def create_tracker(self, restriction: OffsetRange) -> _CheckpointOnlyTracker:
        return _CheckpointOnlyTracker(restriction)

    def restriction_size(self, element: _PartitionSpec, restriction: OffsetRange) -> float:
        # The backlog of an unbounded partition is unknown without asking the broker; it is never split.
        return float(restriction.size()) if restriction.stop < _UNBOUNDED else 1.0


# Beam reads these markers from process()'s defaults; typed Any so the parameters keep their real types.
_RESTRICTION: Any = beam.DoFn.RestrictionParam(_PartitionRestrictions())
_WATERMARK: Any = beam.DoFn.WatermarkEstimatorParam(ManualWatermarkEstimator.default_provider())


_Key = tuple[str, int]  # (topic, partition)

# Highest offset committed per (pipeline's reader, partition) in this process: finalizations of two bundles
# can arrive out of order, and a commit must not move the group back. Finalization runs on its own thread.
_COMMITTED: dict[tuple[str, _Key], int] = {}
_COMMIT_LOCK = threading.Lock()


class _ReadPartition(beam.DoFn):
    """Reads one partition per restriction; see the module docstring."""

    def __init__(self, bootstrap: str, group_id: str, max_batch: int, poll_timeout_ms: int) -> None:
        self._bootstrap, self._group_id = bootstrap, group_id
        self._max_batch, self._poll_timeout_ms = max_batch, poll_timeout_ms
        self._run_id = uuid.uuid4().hex  # one per pipeline: a later run may have reset the group's offsets

    def setup(self) -> None:
        self._consumers: dict[_Key, Consumer] = {}
        self._next_offset: dict[_Key, int] = {}  # where each cached consumer will read next
        self._committer: Consumer | None = None
        self._commits: concurrent.futures.ThreadPoolExecutor | None = None
        # librdkafka crashes the process on a client used after close: Beam may tear this reader down on its
        # shutdown thread while a bundle still polls. Each client call holds this; teardown closes under it.
        self._clients_lock = threading.RLock()
        self._closed = False

    def _consumer(self, tp: _Key, offset: int) -> tuple[Consumer, bool]:
        """The cached consumer of `tp`, positioned at `offset`; True when it had to seek (cold fetch)."""
        consumer = self._consumers.get(tp)
        if consumer is None:
            # Assigned, never subscribed: this consumer only fetches; offsets are committed by `_committer`.
            consumer = self._consumers[tp] = pipeline_consumer(self._bootstrap, self._group_id)
        if self._next_offset.get(tp) == offset:
            return consumer, False
        consumer.assign([TopicPartition(tp[0], tp[1], offset)])  # (re)assigning is the seek
        self._next_offset[tp] = offset
        return consumer, True

    def _commit(self, tp: _Key, next_offset: int) -> None:
        key = (self._run_id, tp)
        with _COMMIT_LOCK:
            if next_offset <= _COMMITTED.get(key, -1):
                return  # a later bundle (maybe of another DoFn instance) already committed further
            if self._committer is None or self._commits is None:
                self._committer = pipeline_consumer(self._bootstrap, self._group_id)
                self._commits = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kafka-commit")
            offsets = [TopicPartition(tp[0], tp[1], next_offset)]
            try:
                # Bounded: a commit that blocks (the broker is restarting) must not hold every later one.
                done = self._commits.submit(self._committer.commit, offsets=offsets, asynchronous=False)
                done.result(timeout=_COMMIT_TIMEOUT_S)
            except Exception as exc:  # the records stay uncommitted: read again after a crash, never lost
                log.warning("could not commit %s offset %d (a later bundle commits further): %s", tp, next_offset, exc)
                self._commits.shutdown(wait=False)
                self._committer, self._commits = None, None  # fresh ones next time, should these have gone bad
                return
            _COMMITTED[key] = next_offset

    def process(
        self,
        element: _PartitionSpec,
        # Beam passes the finalizer positionally and the tracker and estimator by name: keep this order.
        finalizer: Any = beam.DoFn.BundleFinalizerParam,
        tracker: RestrictionTrackerView = _RESTRICTION,
        watermark: ManualWatermarkEstimator = _WATERMARK,
    ) -> Iterator[TimestampedValue[list[KafkaMessage]]]:
        tp = (element.topic, element.partition)
        restriction: OffsetRange = tracker.current_restriction()
        if restriction.start >= restriction.stop:
            tracker.try_claim(restriction.stop)  # nothing to read (e.g. an empty partition with stop_at_end)
            return
        with self._clients_lock:
            self._check_open()
            consumer, cold = self._consumer(tp, restriction.start)
        deadline = time.monotonic() + _MAX_PROCESS_S
        last_next: int | None = None
        try:
            while True:
                with self._clients_lock:
                    self._check_open()
                    records = _fetch(consumer, self._max_batch, self._poll_timeout_ms / 1000)
                if not records:
                    position = self._next_offset[tp]
                    if position >= restriction.stop:
                        tracker.try_claim(restriction.stop)  # past the end: done
                        return
                    bounded = restriction.stop < _UNBOUNDED
                    if (bounded or cold) and time.monotonic() < deadline:
                        cold = False
                        continue  # the records exist, or the consumer is new: a slow fetch, not idleness
                    with self._clients_lock:
                        self._check_open()
                        _, highwater = consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
                    if not bounded and 0 <= highwater <= position:
                        # Caught up, not just a slow fetch: time passes even when no record arrives.
                        _advance(watermark, Timestamp.now() - Duration.of(_IDLE_SLACK_S))
                    tracker.defer_remainder(Duration.of(0 if bounded else _IDLE_RESUME_S))
                    return
                batch: list[KafkaMessage] = []
                for r in records:
                    offset = r.offset()
                    if not tracker.try_claim(offset):
                        break
                    batch.append(
                        KafkaMessage(
                            element.topic,
                            element.partition,
                            offset,
                            r.key(),
                            r.value() or b"",
                            tuple(r.headers() or ()),
                            r.timestamp()[1],
                        )
                    )
                if batch:
                    last_next = batch[-1].offset + 1
                    self._next_offset[tp] = last_next
                    newest = Timestamp.of(max(m.timestamp_ms for m in batch) / 1000)
                    current = watermark.current_watermark()
                    current = MIN_TIMESTAMP if current is None else current
                    # Never emit behind our own watermark: that would make the batch late data.
                    yield TimestampedValue(batch, max(newest, current))
                    _advance(watermark, newest)
                if len(batch) < len(records):
                    # The tracker refused a record (end reached): the consumer read ahead; re-seek next time.
                    self._next_offset.pop(tp, None)
                    return
                if time.monotonic() > deadline:
                    tracker.defer_remainder()  # end the bundle so its offsets get committed
                    return
        finally:
            if last_next is not None:
                # Runs only if the runner finalizes the bundle, i.e. after its outputs are durable.
                finalizer.register(lambda tp=tp, offset=last_next: self._commit(tp, offset))
            else:
                # Prism finalizes every bundle of this stage; the SDK errors on one that registered nothing.
                finalizer.register(_nothing_to_commit)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the Kafka reader was torn down while a bundle still read: the bundle fails")

    def teardown(self) -> None:
        with self._clients_lock, _COMMIT_LOCK:
            self._closed = True
            for consumer in [*self._consumers.values(), self._committer]:
                if consumer is not None:
                    consumer.close()
            self._consumers.clear()
            self._committer = None
        if self._commits is not None:
            self._commits.shutdown(wait=False)


def _fetch(consumer: Consumer, most: int, timeout_s: float) -> list[Message]:
    """Up to `most` records, as soon as there is one: the first waits up to `timeout_s`, the rest are what
    librdkafka has fetched already (a `consume` of `most` would wait for all of them, or the timeout, and
    add that to every record's latency when the stream is slower than `most` per timeout).

    librdkafka's errors (the broker went away, a partition moved) arrive as messages too: logged, and the
    client retries by itself."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    records = []
    for message in [first, *consumer.consume(most - 1, 0)]:
        error = message.error()
        if error is None:
            records.append(message)
        else:
            log.warning("Kafka: %s", error)
    return records


class _ReadPartitionForever(_ReadPartition):
    """The same reader, declared unbounded so that runners treat the source as streaming."""

    @beam.DoFn.unbounded_per_element()
    def process(
        self,
        element: _PartitionSpec,
        # Beam passes the finalizer positionally and the tracker and estimator by name: keep this order.
        finalizer: Any = beam.DoFn.BundleFinalizerParam,
        tracker: RestrictionTrackerView = _RESTRICTION,
        watermark: ManualWatermarkEstimator = _WATERMARK,
    ) -> Iterator[TimestampedValue[list[KafkaMessage]]]:
        yield from super().process(element, finalizer, tracker=tracker, watermark=watermark)


def _nothing_to_commit() -> None:
    pass


def _advance(watermark: ManualWatermarkEstimator, to: Timestamp) -> None:
    """Move the watermark forward only: Beam rejects a watermark that goes back."""
    current = watermark.current_watermark()
    if current is None or to > current:
        watermark.set_watermark(to)


class ReadFromKafka(beam.PTransform):
    """Read `topics` as a PCollection of batches (`list[KafkaMessage]`, one per poll of one partition)."""

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        group_id: str,
        max_batch: int = 1000,
        poll_timeout_ms: int = 200,
        stop_at_end: bool = False,
        instance: Instance = EVERY_PARTITION,
    ) -> None:
        super().__init__()
        if not 0 <= instance.index < instance.count:
            last = instance.count - 1
            raise ValueError(f"instance {instance.index} of {instance.count}: the index must be in 0..{last}")
        self._bootstrap, self._topics, self._group_id = bootstrap, list(topics), group_id
        self._max_batch, self._poll_timeout_ms, self._stop_at_end = max_batch, poll_timeout_ms, stop_at_end
        self._instance = instance

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        reader = _ReadPartition if self._stop_at_end else _ReadPartitionForever
        return (
            pbegin
            | "Impulse" >> beam.Impulse()
            | "Partitions"
            >> beam.ParDo(
                _DiscoverPartitions(self._bootstrap, self._topics, self._group_id, self._stop_at_end, self._instance)
            )
            | "Spread" >> beam.Reshuffle()  # so that partitions can be read by different workers
            | "Read" >> beam.ParDo(reader(self._bootstrap, self._group_id, self._max_batch, self._poll_timeout_ms))
        )
