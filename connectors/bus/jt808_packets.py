"""Holding the pieces of split JT/T 808 messages until all have come, within a time and size limit.

A terminal splits a message longer than one frame (a blind-area 0x0704 batch) into pieces: message
properties bit 13, then the total count and the piece's index (from 1) in the header, with
consecutive serials (JT/T 808-2013 §7.12). The gateway keeps one `Jt808Reassembler` per connection:
each piece is answered at once (0x8001 per piece, as §7.12 allows); when the last one arrives the
pieces' original frames, in index order, are stored together as one raw record, which
`decode_message` (jt808_decode.py) joins the same way live and in a replay. A piece sent twice is
kept once. Halfway to `timeout_s` the terminal is asked for what is missing (0x8003, once); at
`timeout_s`, when the connection ends, or when a terminal holds more than `max_bytes`, what arrived
is stored as it is, and the pipeline puts it in the DLQ with the pieces' bytes and what is missing.

    pieces = Jt808Reassembler(ReassemblyLimits.of(Settings().bus), counts)   # Jt808Limits.pieces in the gateway
    for data in pieces.add(header, frame, time.monotonic()): await store(data)
    resend, given_up = pieces.due(time.monotonic())   # 0x8003 to write, incomplete messages to store
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from safecampus.config import BusRules
from safecampus.connectors.bus.jt808_frame import Jt808Header

# (terminal, message id, total, serial of the first piece): the pieces of one message share it
MessageKey = tuple[str, int, int, int]


@dataclass(frozen=True)
class ReassemblyLimits:
    """How long a split message may take and how much a terminal may hold open ([bus] settings)."""

    timeout_s: float
    max_bytes: int
    max_pieces: int

    @classmethod
    def of(cls, rules: BusRules) -> ReassemblyLimits:
        return cls(rules.jt808_piece_timeout_s, rules.jt808_open_bytes_max, rules.jt808_pieces_max)


@dataclass
class _Open:
    """One split message being received: its pieces' frames by index."""

    first: Jt808Header  # the first piece that arrived (any index)
    started: float
    frames: dict[int, bytes] = field(default_factory=dict)
    size: int = 0
    asked: bool = False  # 0x8003 sent

    def missing(self, total: int) -> list[int]:
        return [i for i in range(1, total + 1) if i not in self.frames]

    def data(self) -> bytes:
        return b"".join(self.frames[i] for i in sorted(self.frames))


class Jt808Reassembler:
    """The open split messages of one connection; `counts` (shared with the gateway) say what happened."""

    def __init__(self, limits: ReassemblyLimits, counts: Counter[str] | None = None) -> None:
        self.limits = limits
        self.counts: Counter[str] = counts if counts is not None else Counter()
        self._open: dict[MessageKey, _Open] = {}
        self._held: Counter[str] = Counter()  # bytes held per terminal

    def add(self, header: Jt808Header, frame: bytes, now: float) -> list[bytes]:
        """Take one piece; returns what is to be stored now: the whole message once its last piece
        came, or what a terminal had open when this piece took it over its limit (incomplete)."""
        assert header.package is not None, "only pieces of split messages are held"
        total, index = header.package
        self.counts["jt808_pieces"] += 1
        if total > self.limits.max_pieces:
            self.counts["jt808_split_over_limit"] += 1
            return [frame]  # stored alone: the pipeline's DLQ says it is 1 of `total`
        key = (header.phone, header.message_id, total, (header.serial - index + 1) & 0xFFFF)
        message = self._open.setdefault(key, _Open(header, now))
        if index in message.frames:
            self.counts["jt808_piece_repeated"] += 1  # a terminal's resend of a piece we had: nothing changes
            return []
        message.frames[index] = frame
        message.size += len(frame)
        self._held[header.phone] += len(frame)
        if len(message.frames) == total:
            self.counts["jt808_split_reassembled"] += 1
            return [self._close(key).data()]
        if self._held[header.phone] > self.limits.max_bytes:
            self.counts["jt808_split_over_limit"] += 1
            return [self._close(key).data()]
        return []

    def due(self, now: float) -> tuple[list[tuple[Jt808Header, list[int]]], list[bytes]]:
        """Re-send requests to write (the first piece's header, the missing indices) and incomplete
        messages to store, for the messages whose time has come."""
        resend: list[tuple[Jt808Header, list[int]]] = []
        given_up: list[bytes] = []
        for key, message in list(self._open.items()):
            # the same sums as next_due, so that the moment it names is always acted on
            if now >= message.started + self.limits.timeout_s:
                self.counts["jt808_split_timeout"] += 1
                given_up.append(self._close(key).data())
            elif now >= message.started + self.limits.timeout_s / 2 and not message.asked:
                message.asked = True
                self.counts["jt808_piece_resend_requested"] += 1
                resend.append((message.first, message.missing(key[2])))
        return resend, given_up

    def next_due(self) -> float | None:
        """The monotonic time `due` next has something to do, or None when nothing is open."""
        times = [m.started + self.limits.timeout_s / (1 if m.asked else 2) for m in self._open.values()]
        return min(times, default=None)

    def flush(self) -> list[bytes]:
        """The connection ends: every open message, incomplete, to be stored."""
        self.counts["jt808_split_disconnected"] += len(self._open)
        return [self._close(key).data() for key in list(self._open)]

    def _close(self, key: MessageKey) -> _Open:
        message = self._open.pop(key)
        if (left := self._held[key[0]] - message.size) > 0:
            self._held[key[0]] = left
        else:
            del self._held[key[0]]
        return message
