"""Bearer tokens of the canteen API: two roles, stored hashed in the store.

`create_token(engine, "auditor")` returns a new token once; `role_of(engine, token)` is its role or
None. Only the SHA-256 digest is kept, so a copy of the store gives no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from safecampus.connectors.store import upsert
from safecampus.schemas.api_token import ApiToken

Role = Literal["public", "auditor"]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ensure_table(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine, tables=[ApiToken.__table__])  # type: ignore[attr-defined]


def create_token(engine: Engine, role: Role, note: str = "") -> str:
    _ensure_table(engine)
    token = f"sc_{role[:3]}_{secrets.token_urlsafe(24)}"
    upsert(engine, ApiToken, [{"digest": digest(token), "role": role, "created_at": datetime.now(UTC), "note": note}])
    return token


def role_of(engine: Engine, token: str) -> Role | None:
    _ensure_table(engine)
    with Session(engine) as session:
        row = session.get(ApiToken, digest(token))
    return row.role if row is not None and row.role in ("public", "auditor") else None  # type: ignore[return-value]
