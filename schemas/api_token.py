"""API bearer tokens, stored as their SHA-256 digest only (the token itself is shown once, when created)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ApiToken(SQLModel, table=True):
    digest: str = Field(primary_key=True, description="sha256 of the token, hex")
    role: str  # public, auditor
    created_at: datetime
    note: str = ""  # what it is for; never a person's name
