"""Running the ``physreason`` command in a subprocess, and checking its user errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m physreason.cli ARGS``, output captured as text."""
    return subprocess.run([sys.executable, "-m", "physreason.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def assert_clean_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, one line on stderr naming ``words``, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("physreason: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0]
