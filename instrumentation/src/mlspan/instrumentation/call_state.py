"""State shared by the nested instrumented calls of one outermost call.

A Pipeline's ``fit`` passes the same X to its first step, a search CV passes it to every
candidate: the state caches each distinct input object's digest for the duration of the
outermost call, so it is computed once. It also records which estimators are inside a
call (``fit_transform`` calling ``fit`` on the same object makes no second span), whether
the outermost call is a light one whose nested steps get no spans at all, and, for each
open recorded call, what the calls made directly inside it are (``Nesting``): steps of
a Pipeline, candidates of a search, or estimator-internal calls.
The state lives in a ``ContextVar`` and disappears when the outermost call returns;
``mlspan.instrumentation.joblib_context`` carries the nesting to joblib workers.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum

from mlspan.instrumentation.digest import digest_data


class Nesting(Enum):
    """What an instrumented call made inside an open recorded call is."""

    STEP = "step"
    """A step of a Pipeline, FeatureUnion or ColumnTransformer: a child span."""
    CANDIDATE = "candidate"
    """A search's or cross-validation's candidate fit or score: a span only on request."""
    INTERNAL = "internal"
    """An estimator's own use of another estimator: never a span."""


@dataclass
class CallState:
    """Digest cache, active estimators, light flag and nesting stack of one outermost call."""

    active: set[int] = field(default_factory=set)
    light: bool = False
    nesting: list[Nesting] = field(default_factory=list)
    _digests: dict[int, tuple[object, str | None]] = field(default_factory=dict)

    def inner(self) -> Nesting | None:
        """What calls made now are, or None at the outermost level (the user's own call)."""
        return self.nesting[-1] if self.nesting else None

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
