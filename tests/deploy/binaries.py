"""Finding the external tools the deploy validations run.

Locally, a missing tool skips its test with the reason; in CI (env ``CI`` set), where
``.ci/run`` installs every one of them, a missing tool fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def require_binary(name: str, hint: str) -> str:
    """The absolute path of ``name`` (looked up in the venv first, then ``PATH``)."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is not None:
        return found
    reason = f"{name} is not installed ({hint})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it")
    pytest.skip(reason)
