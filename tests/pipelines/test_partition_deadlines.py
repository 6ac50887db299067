"""The streaming runner's deadlines per partition (`PartitionState`): a heap with each subject's pending one.

A camera's offline deadline moves with every keepalive; a heap that kept every superseded entry until its
time grew by one entry per camera per batch over the whole offline horizon (~50,000 a minute at 2,000
keepalives/s, the soak's memory growth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from safecampus.pipelines.streaming import PartitionState

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_a_deadline_that_moves_with_every_record_keeps_the_heap_small_and_fires_once() -> None:
    state = PartitionState()
    for n in range(20_000):
        state.clock = T0 + timedelta(seconds=n)
        for camera in ("C1", "C2"):
            state.schedule(camera, state.clock + timedelta(minutes=3))
        assert list(state.due()) == []
    assert len(state.deadlines) <= 2 * 2 + 1024
    state.clock = T0 + timedelta(seconds=19_999, minutes=3)
    assert sorted(state.due()) == ["C1", "C2"]
    assert list(state.due()) == [] and state.pending == {}


def test_a_deadline_moved_earlier_fires_at_the_earlier_time_only() -> None:
    state = PartitionState(clock=T0)
    state.schedule("C1", T0 + timedelta(minutes=10))
    state.schedule("C1", T0 + timedelta(minutes=5))  # e.g. a fault opened: its deadline comes first
    state.clock = T0 + timedelta(minutes=5)
    assert list(state.due()) == ["C1"]
    state.clock = T0 + timedelta(minutes=10)
    assert list(state.due()) == [], "the superseded 10-minute entry is stale"


def test_a_subject_with_no_deadline_left_never_fires() -> None:
    state = PartitionState(clock=T0)
    state.schedule("C1", T0 + timedelta(minutes=1))
    state.schedule("C1", None)
    state.clock = T0 + timedelta(hours=1)
    assert list(state.due()) == []
