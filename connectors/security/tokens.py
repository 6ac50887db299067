"""Device tokens for the HTTP gateway: one per camera, NVR or alarm box, stored hashed, never logged.

A device sends its token as `Authorization: Bearer <token>` or, for cameras that can only be
given a URL, as `?token=<token>`. The token file holds one line per device or NVR:

    # name  hash
    nvr-s0005-1  sha256$9f2c…(salt, hex)$41ab…(digest, hex)

Tokens are random (`new_token`: 256 bits), so a salted SHA-256 is the right hash: a slow
password hash (scrypt) protects guessable secrets and would let a flood of wrong tokens burn
the gateway's CPU. `python -m safecampus.connectors.security.tokens NAME…` prints a new token
per name (give it to the device) and the line for the token file (keep only that).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from pathlib import Path

MIN_TOKEN_CHARS = 16
_SCHEME = "sha256"
_CACHE_SIZE = 4096


class TokenFileError(ValueError):
    """A token file we cannot read; str() names the line."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str, salt: bytes | None = None) -> str:
    """`sha256$<salt>$<digest>` of a token; refuses tokens too short to be random."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"a device token must be at least {MIN_TOKEN_CHARS} characters (use new_token())")
    salt = salt if salt is not None else secrets.token_bytes(16)
    return f"{_SCHEME}${salt.hex()}${hashlib.sha256(salt + token.encode('utf-8')).hexdigest()}"


class TokenStore:
    """Which device a token belongs to; holds only hashes (and a digest cache of tokens seen valid)."""

    def __init__(self, hashed: dict[str, str]) -> None:
        self._entries: list[tuple[str, bytes, bytes]] = []
        for name, value in hashed.items():
            scheme, _, rest = value.partition("$")
            salt_hex, _, digest_hex = rest.partition("$")
            if scheme != _SCHEME or not salt_hex or not digest_hex:
                raise ValueError(f"token hash of {name!r} is not sha256$<salt>$<digest>")
            self._entries.append((name, bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)))
        self._seen: dict[bytes, str] = {}

    @classmethod
    def from_file(cls, path: Path) -> TokenStore:
        hashed: dict[str, str] = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            fields = text.split()
            if len(fields) != 2:
                raise TokenFileError(f"{path}:{number}: expected 'name sha256$salt$digest'")
            hashed[fields[0]] = fields[1]
        try:
            return cls(hashed)
        except ValueError as exc:
            raise TokenFileError(f"{path}: {exc}") from None

    def __len__(self) -> int:
        return len(self._entries)

    def verify(self, token: str | None) -> str | None:
        """The device's name, or None when the token is missing or unknown."""
        if not token or len(token) > 512:
            return None
        raw = token.encode("utf-8", "surrogateescape")
        key = hashlib.sha256(raw).digest()
        if (name := self._seen.get(key)) is not None:
            return name
        found = None
        for name, salt, digest in self._entries:  # no early exit: every wrong token costs the same
            if hmac.compare_digest(hashlib.sha256(salt + raw).digest(), digest):
                found = name
        if found is not None:
            if len(self._seen) >= _CACHE_SIZE:
                self._seen.clear()
            self._seen[key] = found
        return found


if __name__ == "__main__":  # pragma: no cover - a small operator's tool
    for device in sys.argv[1:]:
        token = new_token()
        print(f"# give {device} the token {token}", file=sys.stderr)
        print(f"{device} {hash_token(token)}")
