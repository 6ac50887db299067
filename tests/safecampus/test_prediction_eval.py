"""The prediction benchmark's scoring: horizons from the truth, absolute errors, school days only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from safecampus.prediction_eval import Scores, mae, p90, school_days, table_rows
from safecampus.schemas.bus import ArrivalPrediction, StopArrival

MADE = datetime(2026, 9, 1, 23, 0, tzinfo=UTC)
DAY = date(2026, 9, 2)


def _prediction(*stops: tuple[int, float]) -> ArrivalPrediction:
    """Stops (sequence, predicted seconds after MADE)."""
    return ArrivalPrediction(
        subject="T",
        trip_id="R1-AM-0",
        route_id="R1",
        service_day=DAY,
        made_at=MADE,
        delay_s=0,
        stops=[
            StopArrival(
                stop_id=f"R1-{q}",
                stop_sequence=q,
                scheduled=MADE,
                predicted=MADE + timedelta(seconds=s),
                uncertainty_s=0,
                source="schedule",
            )
            for q, s in stops
        ],
    )


def test_each_stop_is_scored_at_the_horizon_of_its_true_arrival() -> None:
    truth = {
        ("T", "R1-AM-0", "R1-1", DAY): MADE + timedelta(seconds=70),  # 1 min ahead: predicted 10 s early
        ("T", "R1-AM-0", "R1-2", DAY): MADE + timedelta(seconds=320),  # 5 min: 40 s late
        ("T", "R1-AM-0", "R1-3", DAY): MADE + timedelta(seconds=600),  # 10 min: no horizon
    }
    scores = Scores()
    scores.add(scores.learned, _prediction((1, 60), (2, 360), (3, 600), (4, 900)), truth)  # R1-4: no truth
    assert dict(scores.learned) == {1: [10.0], 5: [40.0]}
    assert [row[:3] for row in table_rows(scores)][:2] == [("1 min", "1", "10 s / 10 s"), ("5 min", "1", "40 s / 40 s")]


def test_mean_and_90th_percentile_and_school_days() -> None:
    values = [float(v) for v in range(1, 11)]
    assert (mae(values), p90(values)) == (5.5, 10.0)
    assert [d.isoformat() for d in school_days(date(2026, 9, 4), 3)] == ["2026-09-04", "2026-09-07", "2026-09-08"]
