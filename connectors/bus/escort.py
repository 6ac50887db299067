"""The escort app's form: the escort (照管员) confirms that every student is off the bus.

{"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class EscortEvent(BaseModel):
    """The escort app's JSON form: `{"terminal_id": "013800000001", "kind": "all_off", "time": "…+08:00"}`."""

    model_config = ConfigDict(extra="forbid")
    terminal_id: str
    kind: str
    time: datetime
