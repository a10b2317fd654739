"""Turns an arm's ``version`` into the model version digest its spans carry.

A digest (``model:xxh3_128:...``) stands for itself. ``NAME vN`` (``churn v4``) is the
model registry's numbering of a model's versions in order of first fit; it is asked
through ``VersionLookup`` and stays unresolved (the arm counts nothing) until the
registry knows that version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

LABEL: Final = re.compile(r"^(?P<name>.+?)\s+v(?P<number>[1-9][0-9]{0,8})$")

VersionLookup = Callable[[str, str, int], str | None]
"""``(service, model name, number) -> digest``: the registry's answer, or None."""


def parse_label(text: str) -> tuple[str, int] | None:
    """``("churn", 4)`` for ``"churn v4"``; None for anything else (a digest)."""
    match = LABEL.match(text.strip())
    if match is None:
        return None
    return match.group("name"), int(match.group("number"))


def resolve(text: str, service: str, lookup: VersionLookup | None) -> str | None:
    """The digest ``text`` names, or None while the registry cannot say."""
    label = parse_label(text)
    if label is None:
        return text
    if lookup is None:
        return None
    try:
        return lookup(service, *label)
    except Exception:  # the registry is another component: its failure is not ours
        return None


def registry_lookup(registry: Any) -> VersionLookup | None:
    """A lookup over the model registry published in ``host.extras["models"]``
    (``ModelRegistry.resolve``): the model of that name in the experiment's service, else
    the only model of that name in any service; None when no registry runs."""
    method = getattr(registry, "resolve", None)
    if not callable(method):
        return None

    def lookup(service: str, name: str, number: int) -> str | None:
        # the experiment's service is often the serving one, the model's the training one
        for scope in (service, None) if service else (None,):
            try:
                found = method(name, f"v{number}", scope)
            except (LookupError, ValueError):  # unknown or ambiguous: not resolved yet
                continue
            digest = getattr(found, "digest", None)
            if isinstance(digest, str) and digest:
                return digest
        return None

    return lookup
