"""Seeds recorded once per session: the example pipeline really fitted under
instrumentation (a few seconds)."""

from __future__ import annotations

import pytest

from tests.fuzz.seeds import Seeds


@pytest.fixture(scope="session")
def seeds() -> Seeds:
    return Seeds.record()
