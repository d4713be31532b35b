"""Python's cyclic garbage collector, paused while a batch makes and drops many objects."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector would walk the many objects a batch holds again and again while it works
    (about half the time of the feedback core's batch, a sixth of a scoring consumer batch's CPU;
    docs/benchmarks.md); what they leave behind is freed by reference counting, so it waits until
    the batch is done. Where pauses overlap (tasks of one event loop), the collector may run again
    before the last one ends: that costs time, never memory or correctness."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
