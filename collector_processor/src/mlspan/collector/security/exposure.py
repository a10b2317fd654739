"""The start-up warning for a listener reachable from other hosts without
authentication."""

from __future__ import annotations

import ipaddress
import logging

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_exposed(what: str, host: str, authenticated: bool, encrypted: bool) -> bool:
    """Log a WARNING when ``what`` listens beyond loopback without authentication (and
    an INFO line when authenticated but in plain text); True when the warning fired."""
    if is_loopback(host):
        return False
    if not authenticated:
        logger.warning(
            "%s listens on %s without authentication: anyone who can reach it can use it; "
            "set auth.bearer_tokens (and tls) or bind 127.0.0.1 (see docs/security.md)",
            what,
            host,
        )
        return True
    if not encrypted:
        logger.info("%s listens on %s with tokens but without TLS", what, host)
    return False
