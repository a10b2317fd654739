"""State shared by the nested instrumented calls of one outermost call.

A Pipeline's ``fit`` passes the same X to its first step, a search CV passes it to every
candidate: the state caches each distinct input object's digest for the duration of the
outermost call, so it is computed once. It also records which estimators are inside a
call (``fit_transform`` calling ``fit`` on the same object makes no second span) and
whether the outermost call is a light one whose nested steps get no spans at all.
The state lives in a ``ContextVar`` and disappears when the outermost call returns.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from mlspan.instrumentation.digest import digest_data


@dataclass
class CallState:
    """Digest cache, active estimators and light flag of one outermost call."""

    active: set[int] = field(default_factory=set)
    light: bool = False
    _digests: dict[int, tuple[object, str | None]] = field(default_factory=dict)

    def digest(self, data: object) -> str | None:
        """The data digest of ``data``, computed at most once per object in this call.

        The cache holds a reference to each object so its id cannot be reused by another
        object before the outermost call ends.
        """
        if data is None:
            return None
        cached = self._digests.get(id(data))
        if cached is not None and cached[0] is data:
            return cached[1]
        value = digest_data(data)
        self._digests[id(data)] = (data, value)
        return value


CURRENT_CALL: ContextVar[CallState | None] = ContextVar("mlspan_call_state", default=None)
"""The state of the outermost instrumented call running in this context, if any."""
