"""Who works on the embedded mode's data folder: the running stack holds its claim, so a restore
can tell that the stack is running (and refuse), and a second stack cannot start on the same files."""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLAIM_FILE = ".pulse.lock"


class DataDirInUse(Exception):
    pass


@contextmanager
def claimed(data_dir: Path) -> Iterator[None]:
    """An exclusive lock on `<data_dir>/.pulse.lock` for the block. The kernel drops it when the
    process ends, even by `kill -9`, so a crash never leaves a stale claim behind."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(data_dir / CLAIM_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise DataDirInUse(f"the embedded stack is running on {data_dir} (stop it first)") from None
    try:
        yield
    finally:
        os.close(descriptor)
