"""The operators' log in the stream: acknowledgements and suppression windows from the `operations` topic.

    safecampus alerts ack 3f9c0a1b --operator op-017 --kafka 127.0.0.1:9092        # store and topic
    safecampus alerts suppress --school S0042 --start … --end … --reason fire_drill --kafka 127.0.0.1:9092

Each worker process of `safecampus run` follows the whole topic (every partition, from its start: the log
is small and its effect is state, not a stream to share out) with one `AlertTriage`, as replay applies
`--operations`: the alerts a batch raises are shown through it before they are stored and written (a
window covering them: suppressed; an acknowledged fingerprint stays acknowledged), and an acknowledgement
of an alert this process already raised writes the acknowledged update to the store and the alerts topic
at once. The log is read to its end before the first batch, so a restart applies what was already there.
A line that is neither an acknowledgement nor a window goes to the DLQ with its reason.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition

from safecampus.connectors.kafka.clients import json_records, pipeline_consumer, produce_batch
from safecampus.connectors.store import StoreSink
from safecampus.pipelines.alerts import AlertTriage, operator_action
from safecampus.schemas.alert import Alert
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.operations import SuppressionWindow

log = logging.getLogger(__name__)
_POLL_S = 0.5
_CATCH_UP_S = 30.0  # the log is read to its end before the first batch, within this
_TOPIC_CHECK_S = 5.0  # a topic that does not exist yet is looked for again this often


class OperationsLog:
    """One worker process's view of the operations topic (see the module docstring)."""

    def __init__(self, bootstrap: str, topic: str, alerts_topic: str, dlq_topic: str, store_url: str | None) -> None:
        self.bootstrap, self.topic, self.alerts_topic, self.dlq_topic = bootstrap, topic, alerts_topic, dlq_topic
        self.sink = StoreSink(store_url) if store_url else None
        self.triage = AlertTriage()
        self.lock = threading.Lock()
        self.ends: dict[int, int] = {}  # partition → end offset when the topic was found: read before any batch
        self.caught_up = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._follow, name=f"operations-{topic}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """End the follower and close its client (a daemon thread inside librdkafka at exit crashes it)."""
        self.stopped.set()
        self.thread.join(timeout=5)

    def apply(self, alerts: Sequence[Alert]) -> list[Alert]:
        """The batch's alerts as the control room should see them (waits once for the log's first read)."""
        if not alerts:
            return []
        if not self.caught_up.wait(_CATCH_UP_S):
            log.warning(
                "the operations log %s was not read to its end in %g s: applied as far as read", self.topic, _CATCH_UP_S
            )
            self.caught_up.set()
        with self.lock:
            shown = [self.triage.apply(alert) for alert in alerts]
            for alert in shown:  # a resolved alert is not acknowledged any more: remembered no longer (memory)
                if alert.status == "resolved":
                    self.triage.latest.pop(alert.fingerprint, None)
            return shown

    def _follow(self) -> None:
        while not self.stopped.is_set():
            try:
                self._read_until_stopped()
            except Exception:  # the broker went away: the client is made again, the log read on from the start
                log.warning("following the operations log %s failed; starting again", self.topic, exc_info=True)
                self.stopped.wait(_TOPIC_CHECK_S)

    def _read_until_stopped(self) -> None:
        consumer = pipeline_consumer(self.bootstrap, f"{self.topic}-follower")
        try:
            partitions = self._partitions(consumer)
            consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions])
            for p in partitions:
                self.ends[p] = consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            read = {p: 0 for p in partitions}
            self._check_caught_up(read)
            while not self.stopped.is_set():
                message = consumer.poll(_POLL_S)
                if message is None or message.error() is not None:
                    continue
                read[message.partition()] = message.offset() + 1
                self._take(message.value() or b"", message.partition(), message.offset())
                self._check_caught_up(read)
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int]:
        """The topic's partitions; until it exists (nobody has acknowledged anything yet), an empty log."""
        while not self.stopped.is_set():
            found = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if found is not None and found.error is None and found.partitions:
                return sorted(found.partitions)
            self.caught_up.set()
            self.stopped.wait(_TOPIC_CHECK_S)
        return []

    def _check_caught_up(self, read: dict[int, int]) -> None:
        if all(read.get(p, 0) >= end for p, end in self.ends.items()):
            self.caught_up.set()

    def _take(self, line: bytes, partition: int, offset: int) -> None:
        try:
            action = operator_action(line)
        except ValueError as exc:
            # The control room's log: filed under security, whose rules its windows name.
            dead = DlqRecord.of("security", "operations", str(exc), line, self.topic, offset, partition)
            self._write([], [dead])
            return
        with self.lock:
            if isinstance(action, SuppressionWindow):
                if action not in self.triage.windows:  # the log is read again from its start after a failure
                    self.triage.add_window(action)
                return
            acked = self.triage.acknowledge(action)
        if acked is not None:  # an alert this process raised: its acknowledged update, now
            self._write([acked], [])

    def _write(self, alerts: list[Alert], dlq: list[DlqRecord]) -> None:
        if self.sink is not None:
            self.sink.write(events=[], alerts=alerts, dlq=dlq)
        if alerts:
            produce_batch(self.bootstrap, self.alerts_topic, json_records(alerts, lambda a: a.fingerprint))
        if dlq:
            produce_batch(self.bootstrap, self.dlq_topic, json_records(dlq, lambda d: d.source_topic))


# One log per worker process and topic, shared by the pipelines' ProcessBatch instances.
_LOGS: dict[tuple[str, str], OperationsLog] = {}
_LOGS_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _LOGS_LOCK:
        logs = list(_LOGS.values())
        _LOGS.clear()
    for found in logs:
        found.stop()


def operations_log(
    bootstrap: str, topic: str, alerts_topic: str, dlq_topic: str, store_url: str | None
) -> OperationsLog:
    with _LOGS_LOCK:
        found = _LOGS.get((bootstrap, topic))
        if found is None:
            found = _LOGS[(bootstrap, topic)] = OperationsLog(bootstrap, topic, alerts_topic, dlq_topic, store_url)
        return found
