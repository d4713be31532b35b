"""The service's start-up path stays free of the analysts' heavy libraries."""

import subprocess
import sys


def test_importing_the_scoring_app_imports_neither_polars_nor_matplotlib():
    probe = (
        "import sys, services.scoring.app\n"
        "heavy = sorted(m for m in ('polars', 'matplotlib') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_pulse_command_imports_polars_only_for_the_commands_that_read_files():
    # `pulse scoring refit` runs in the pulse process: polars would be about 60 MB of its memory for nothing.
    probe = "import sys, services.cli\nprint('polars' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_probe_sees_a_heavy_import_when_there_is_one():
    probe = "import sys, services.scoring.analysis.transaction_file\nprint('polars' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
