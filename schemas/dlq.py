"""The dead-letter record: what we could not use, its original bytes, where it came from and why."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import Record, RecordDomain


class DlqRecord(Record):
    """One unusable record. `payload_b64` holds the original bytes exactly as received."""

    domain: RecordDomain
    step: str = Field(description="pipeline step that refused it: envelope, decode, validate, registry")
    reason: str = Field(description="a plain-words reason a person can act on")
    payload_b64: str
    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = Field(default=None, description="Kafka offset, or line number in a file")
    failed_at: AwareDatetime

    @classmethod
    def of(
        cls,
        domain: str,
        step: str,
        reason: str,
        payload: bytes,
        source_topic: str,
        source_offset: int | None = None,
        source_partition: int | None = None,
    ) -> DlqRecord:
        return cls(
            domain=domain,  # type: ignore[arg-type]
            step=step,
            reason=reason[:500],
            payload_b64=base64.b64encode(payload).decode("ascii"),
            source_topic=source_topic,
            source_partition=source_partition,
            source_offset=source_offset,
            failed_at=datetime.now(UTC),
        )

    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)
