"""A streaming detector rebuilt from the store: after a restart, or when another process read its partition.

A detector's state is not a checkpoint of its own (Prism keeps none) but a function of the stored events: the
subject's stored events (`DomainPipeline.detector_history`: the last hours before the batch, or all of them)
are observed again, and the subject's stored alerts are handed to `Detector.restore`, so that the rebuilt
detector can resolve or withdraw what was shown before it existed.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from sqlalchemy import select

from safecampus.connectors.store import engine_for
from safecampus.pipelines.domain import Detector, DomainPipeline
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import Record
from safecampus.schemas.store import AlertRow, EventRow


def rebuilt_detector(
    pipeline: DomainPipeline[Record],
    subject: str,
    batch: list[Record],
    store_url: str | None,
    history: timedelta | None,
) -> Detector[Record] | None:
    """A subject's detector fed with its stored events other than this batch's (their alerts were sent)."""
    detector = pipeline.new_detector(subject)
    if detector is None or not store_url:
        return detector
    domain = pipeline.domain
    earliest = pipeline.occurred_at(batch[0])
    in_batch = {pipeline.event_id(e) for e in batch}
    query = select(EventRow.event_id, EventRow.body).where(  # type: ignore[call-overload]
        EventRow.domain == domain, EventRow.subject == subject
    )
    if history is not None:
        query = query.where(EventRow.occurred_at >= earliest - history, EventRow.occurred_at <= earliest)
    query = query.order_by(EventRow.occurred_at, EventRow.event_id)
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(query).all()
        shown: list[Alert] = []
        if type(detector).restore is not Detector.restore:
            stored = select(AlertRow.body).where(  # type: ignore[call-overload]
                AlertRow.domain == domain, AlertRow.subject == subject
            )
            shown = [Alert.model_validate_json(body) for (body,) in conn.execute(stored).all()]
    for event_id, body in rows:
        if event_id not in in_batch:  # a replayed batch: its events are observed after, once
            with contextlib.suppress(Exception):  # one that failed was sent to the DLQ when first read
                detector.observe(pipeline.event_type.model_validate_json(body))
    detector.restore(shown)
    detector.take_records()  # records of the history were published when it was first read
    return detector
