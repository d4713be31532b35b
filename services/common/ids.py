"""Time-ordered identifiers (UUIDv7, RFC 9562), so ids sort by creation time."""

import os
import threading
import time
import uuid

_RANDOM_BYTES_PER_ID = 10
_BUFFERED_IDS = 4096


class _RandomPool:
    """os.urandom in bulk: one system call per few thousand ids instead of one per id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def forget(self) -> None:
        """In a forked child, so that parent and child never share random bits (a check of the
        process id per id was a system call, slow on virtual machines)."""
        self._lock = threading.Lock()
        self._buffer, self._offset = b"", 0

    def take(self) -> int:
        with self._lock:
            if self._offset >= len(self._buffer):
                self._buffer, self._offset = os.urandom(_RANDOM_BYTES_PER_ID * _BUFFERED_IDS), 0
            chunk = self._buffer[self._offset:self._offset + _RANDOM_BYTES_PER_ID]
            self._offset += _RANDOM_BYTES_PER_ID
        return int.from_bytes(chunk, "big")


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.forget)


def _uuid7_int() -> int:
    unix_ms = time.time_ns() // 1_000_000
    random_bits = _pool.take()
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((random_bits >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)
    return value


def uuid7() -> uuid.UUID:
    return uuid.UUID(int=_uuid7_int())


def new_id() -> str:
    """`str(uuid7())`, formatted directly: a batch makes two ids per item, and the UUID object cost more."""
    text = f"{_uuid7_int():032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
