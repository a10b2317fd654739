"""Fixtures: certificates made once per session with ``openssl``, and token files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.collector.security.certs import Certificates, make_certificates

READ_TOKEN = "read-token-0123456789abcdef"
WRITE_TOKEN = "write-token-0123456789abcdef"
INGEST_TOKEN = "ingest-token-0123456789abcdef"
NEXT_INGEST_TOKEN = "ingest-token-next-0123456789ab"


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def ingest_token_file(tmp_path: Path) -> Path:
    """A Secret-like file holding two ingest tokens (the current one and the next)."""
    path = tmp_path / "ingest-token"
    path.write_text(f"{INGEST_TOKEN}\n{NEXT_INGEST_TOKEN}\n")
    return path
