"""Each campaign's latest outcome, in about 10 bytes per campaign.

``bulkops report`` counts every campaign once, by its latest outcome across a
log's real runs; a log may hold hundreds of thousands of ids. A dict keyed by
the ids costs ~100 bytes per id (and twice that while it grows): this table
keeps a 64-bit hash of the id and a one-byte code in two flat arrays instead,
with open addressing. Two ids with the same 64-bit hash would count as one
campaign: for a million ids the chance is about 1 in 10^7.
"""

from __future__ import annotations

from array import array

_START = 1024  # slots; grows by doubling while more than half are used


class LatestOutcomes:
    """``codes`` (small ints, below ``kinds``) by id; ``counts[code]``: ids whose latest it is."""

    def __init__(self, kinds: int) -> None:
        self.counts = [0] * kinds
        self._keys = array("q", bytes(8 * _START))  # 0: an empty slot
        self._codes = bytearray(_START)
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def set(self, campaign_id: str, code: int) -> None:
        """``campaign_id``'s latest outcome is now ``code``."""
        key = hash(campaign_id) or 1
        slot = self._slot(key)
        if self._keys[slot]:
            self.counts[self._codes[slot]] -= 1
        else:
            self._keys[slot] = key
            self._used += 1
        self._codes[slot] = code
        self.counts[code] += 1
        if 2 * self._used > len(self._keys):
            self._grow()

    def _slot(self, key: int) -> int:
        """Where ``key`` is, or the empty slot where it belongs (linear probing)."""
        keys, mask = self._keys, len(self._keys) - 1
        slot = key & mask
        while keys[slot] and keys[slot] != key:
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        old_keys, old_codes = self._keys, self._codes
        self._keys = array("q", bytes(16 * len(old_keys)))
        self._codes = bytearray(2 * len(old_codes))
        for key, code in zip(old_keys, old_codes, strict=True):
            if key:
                slot = self._slot(key)
                self._keys[slot], self._codes[slot] = key, code
