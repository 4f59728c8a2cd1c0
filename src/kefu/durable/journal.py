"""The records a store keeps for a shop, and the checksums that catch a torn or altered one.

Every store (SQLite, PostgreSQL) keeps, per shop, one snapshot (with the
journal position it covers) and the journal entries after it. Each record
carries a CRC-32 over its shop id, position and content, so a record that a
crash tore, a disk altered or a hand edited (or one copied from another
shop or position) fails :meth:`JournalEntry.verify` and recovery reports it
instead of replaying it (S05). CRC-32 catches accidents, not an attacker
who can also rewrite the checksum; a store's access control is the defence
against those.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import attrs

__all__ = ["JournalEntry", "RequestRecord", "StoredShop", "StoredSnapshot", "checksum"]


def checksum(shop_id: str, seq: int, *parts: object) -> int:
    """CRC-32 (as a signed 32-bit int, which every SQL integer column holds) of a record.

    The parts enter by ``repr``, so a float keeps every bit (and -0.0 its sign).
    """
    text = f"{shop_id}\x1f{seq}\x1f{parts!r}"
    crc = zlib.crc32(text.encode("utf-8", "surrogatepass"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


@attrs.frozen(slots=True)
class JournalEntry:
    """One accepted command: its position, the time it ran at, the command, its request id.

    ``command`` is the canonical JSON text of the call (``[method, args]``);
    ``at`` is the clock reading the Assigner used, replayed exactly.
    ``events`` is the JSON text of the command's events when it carried a
    request id (so a retry can be answered), else None.
    """

    seq: int
    at: float
    command: str
    request_id: str | None = None
    events: str | None = None

    def crc(self, shop_id: str) -> int:
        """The checksum a store writes beside this entry."""
        return checksum(shop_id, self.seq, self.at, self.command, self.request_id, self.events)

    def request_crc(self, shop_id: str) -> int:
        """The checksum a store writes beside this entry's request record."""
        return RequestRecord(self.seq, self.command, self.events or "").crc(
            shop_id, self.request_id or "")

    def verify(self, shop_id: str, stored_crc: int) -> bool:
        """Whether ``stored_crc`` is this entry's checksum."""
        return self.crc(shop_id) == stored_crc


@attrs.frozen(slots=True)
class StoredSnapshot:
    """A shop's snapshot (JSON text of :meth:`Assigner.snapshot`) covering entries up to ``seq``."""

    seq: int
    data: str

    def crc(self, shop_id: str) -> int:
        return checksum(shop_id, self.seq, self.data)


@attrs.frozen(slots=True)
class RequestRecord:
    """What a store remembers of a command that carried a request id (S06)."""

    seq: int
    command: str
    events: str

    def crc(self, shop_id: str, request_id: str) -> int:
        return checksum(shop_id, self.seq, request_id, self.command, self.events)

    @classmethod
    def checked(cls, shop_id: str, request_id: str, seq: int, command: str, events: str,
                stored_crc: int) -> RequestRecord:
        """The record of a stored row, or JournalCorrupt if it fails its checksum."""
        record = cls(seq, command, events)
        if record.crc(shop_id, request_id) != stored_crc:
            from kefu.errors import JournalCorrupt

            raise JournalCorrupt(shop_id, seq, f"the record of request id {request_id!r} "
                                 "does not match its checksum")
        return record


@attrs.frozen(slots=True)
class StoredShop:
    """What recovery reads: the snapshot, the journal after it, and the request ids it holds.

    The store has already checked every checksum and that the entries'
    positions run on from the snapshot's without a gap; ``dropped_from`` is
    the first position of a bad tail it dropped when asked to repair.
    """

    snapshot: StoredSnapshot | None
    entries: Sequence[JournalEntry]
    request_ids: dict[str, int]
    dropped_from: int | None = None
