"""One service run alone exactly as `pulse serve <service>` runs it (`run_service`), but on a clock a
test can move forward from outside the process: the wall clock plus the seconds written in the file
named by PULSE_TEST_CLOCK_FILE. Test-only, so that days of a customer's silence pass in seconds
without any production setting or API that moves time.

    python -m tests.integration.movable_clock_service scoring
"""

import importlib
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from services.common.runner import run_service
from services.common.timeutil import utcnow


class FileOffsetClock:
    """The wall clock, ahead by the offset in a file (none: not ahead). The file is read again when it
    changes; a smaller offset is ignored, so the clock never runs backwards."""

    def __init__(self, path: Path):
        self.path = path
        self._seen: int | None = None
        self._offset = 0.0

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self._current_offset())

    def _current_offset(self) -> float:
        try:
            changed = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return self._offset
        if changed != self._seen:
            self._seen = changed
            try:
                self._offset = max(self._offset, float(self.path.read_text()))
            except ValueError:
                self._seen = None  # caught half-written: read again on the next call
        return self._offset


def move_clock(path: Path, *, ahead_by: float) -> None:
    """What the test calls: every process on this file is `ahead_by` seconds ahead from now on
    (written whole, then renamed, so a reader never sees half a number)."""
    partial = path.with_suffix(".partial")
    partial.write_text(repr(ahead_by))
    partial.replace(path)


def main(service: str) -> None:
    create_app = importlib.import_module(f"services.{service}.app").create_app
    run_service(service, create_app, clock=FileOffsetClock(Path(os.environ["PULSE_TEST_CLOCK_FILE"])))


if __name__ == "__main__":
    main(sys.argv[1])
