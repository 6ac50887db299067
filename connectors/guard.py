"""What the device gateways use to hold against bad clients: token buckets and a refusal log.

refusals = RefusalLog("jt808-gw", log)
refusals.refuse("auth_timeout", "10.0.0.7:50211", "not authenticated within 60 s")
refusals.counts["auth_timeout"]  # 1, for the metrics exporter; one INFO line, repeats folded
"""

from __future__ import annotations

import logging
import time
from collections import Counter

LOG_REPEAT_S = 10.0  # one line per refusal reason and address in this window; the rest are counted
MAX_TRACKED = 50_000  # buckets or log entries kept before the table is forgotten (bounded under a flood)


class TokenBucket:
    """`rate` per second, at most `burst` at once."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, float(burst), time.monotonic()

    def take(self, n: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


class RateTable:
    """One token bucket per key (a terminal, an address), memory bounded by `MAX_TRACKED` keys."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, n: float = 1.0) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.clear()  # a flood of invented ids: limits restart from full
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        return bucket.take(n)


class RefusalLog:
    """Counts every refusal by reason and logs it as one INFO line without a traceback.

    Repeats of a reason from one address within `LOG_REPEAT_S` are counted, not logged; the next
    line logged for them says how many were folded into it.
    """

    def __init__(self, gateway_id: str, logger: logging.Logger) -> None:
        self.gateway_id, self.logger = gateway_id, logger
        self.counts: Counter[str] = Counter()
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}

    def refuse(self, reason: str, peer: str, detail: str) -> None:
        self.counts[reason] += 1
        address = peer.rsplit(":", 1)[0]
        now = time.monotonic()
        last, folded = self._logged.get((reason, address), (-LOG_REPEAT_S, 0))
        if now - last < LOG_REPEAT_S:
            self._logged[(reason, address)] = (last, folded + 1)
            return
        if len(self._logged) >= MAX_TRACKED:
            self._logged.clear()
        self._logged[(reason, address)] = (now, 0)
        more = f" (and {folded} more from {address} since the last line)" if folded else ""
        self.logger.info("%s refused %s: %s [%s]%s", self.gateway_id, peer, detail, reason, more)
