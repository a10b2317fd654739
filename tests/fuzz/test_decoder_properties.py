"""Property-based checks of the collector's feature-summary decoder (``hypothesis``).

They run in a child process (``tests/fuzz/decoder_properties.py``): a decoder that hands
corrupt bytes to native code dies with a signal instead of raising, and the child's
trace file then holds the event that killed it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_summary_decoder_properties_hold(tmp_path: Path) -> None:
    trace = tmp_path / "example.txt"
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "tests.fuzz.decoder_properties",
            "--examples",
            "300",
            "--trace",
            str(trace),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if result.returncode < 0:
        died = signal.Signals(-result.returncode).name
        example = trace.read_text() if trace.exists() else "?"
        raise AssertionError(f"decoder process died with {died} on: {example}")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "decoder properties held over 300 examples" in result.stdout
