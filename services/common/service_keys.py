"""Keys a service keeps for itself (never the profiles keys): set in the environment in the
distributed mode, made on first start and kept beside the data in the embedded mode."""

import json
import os
from collections.abc import Callable

from services.common.settings import Settings


def own_keys(settings: Settings, *, configured: str, variable: str, file_name: str, make: Callable[[], str]) -> list[str]:
    """The comma-separated keys of `variable`, newest first; in the embedded mode, a key made once
    into `<data_dir>/<file_name>` (mode 0600) when the variable is unset."""
    if configured:
        return [key.strip() for key in configured.split(",") if key.strip()]
    if settings.bus != "inprocess":
        raise SystemExit(f"set {variable} (see README, 'Settings')")
    path = settings.data_dir / file_name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another service of the embedded stack made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"keys": [make()]}, handle)
    return json.loads(path.read_text())["keys"]
