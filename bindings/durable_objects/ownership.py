"""Which server process owns a Durable Object: rendezvous (highest-random-weight) hashing.

The owner of an id is a pure function of the id and the process count: every process scores
the id against each process index with a 64-bit BLAKE2b hash and the highest score wins.
Rendezvous hashing rather than a consistent-hash ring, because with the handful of processes
one host runs, scoring N processes is cheap (and cached per id), needs no ring of virtual nodes
to spread ids evenly, and keeps the ring's best property: going from N to N+1 processes moves
only the ids the new process now wins (about 1/(N+1) of them), and going back moves them back.
Python's ``hash()`` is not used: it differs between processes.
"""

from __future__ import annotations

import hashlib

_CACHE_SIZE = 65_536


class Ownership:
    """The owner of each id among ``count`` processes, seen from process ``index``."""

    def __init__(self, index: int, count: int) -> None:
        if not 0 <= index < count:
            raise ValueError(f"process index {index} is not in 0..{count - 1}")
        self.index = index
        self.count = count
        self._owners: dict[str, int] = {}

    def owner(self, hex_id: str) -> int:
        """The index of the process owning the object ``hex_id``."""
        found = self._owners.get(hex_id)
        if found is None:
            found = owner_of(hex_id, self.count)
            if len(self._owners) >= _CACHE_SIZE:
                self._owners.clear()  # a bound on memory: recomputing costs microseconds
            self._owners[hex_id] = found
        return found

    def owns(self, hex_id: str) -> bool:
        return self.owner(hex_id) == self.index


def owner_of(hex_id: str, count: int) -> int:
    """The rendezvous winner for ``hex_id`` among process indices ``0..count-1``."""
    raw = bytes.fromhex(hex_id)
    best, best_score = 0, -1
    for index in range(count):
        digest = hashlib.blake2b(raw + index.to_bytes(4, "big"), digest_size=8).digest()
        score = int.from_bytes(digest, "big")
        if score > best_score:
            best, best_score = index, score
    return best
