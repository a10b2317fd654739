"""Automatic lineage between frames that pandas operations derive from each other.

A frame read from a file has a data digest; after ``dropna()``, a filter or a merge the
cleaned frame has another one, and nothing in the spans would connect the two. pandas
calls ``NDFrame.__finalize__(other)`` on the result of almost every operation (to carry
``attrs`` and flags over): the pandas instrumentor wraps it, and ``Provenance`` records
that the result derives from the same artifacts as its sources. It holds only weak
references, so it never keeps a frame alive, and it is bounded.

Model outputs travel differently: ``pd.DataFrame({"churn": model.predict(x)})`` or
``out["churn"] = predictions`` involve no ``__finalize__``. The recent prediction
digests are kept instead, and a frame being written is matched column by column against
them by content.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

import numpy as np

from mlspan.instrumentation.digest import digest_data
from mlspan.instrumentation.features import is_pandas_frame, is_pandas_series

_logger = logging.getLogger(__name__)

MAX_ANCESTORS: Final = 64
"""Most artifact ids remembered per object (merges of merges stay bounded)."""


class Provenance:
    """Artifact ids each live pandas object derives from, and recent model outputs."""

    def __init__(self, max_objects: int = 100_000, max_outputs: int = 256) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[weakref.ref[Any], frozenset[str]]] = {}
        self._max_objects = max_objects
        self._outputs: deque[str] = deque(maxlen=max_outputs)

    def mark(self, obj: object, artifact_ids: Iterable[str]) -> None:
        """Record that ``obj`` is (or derives from) these artifacts."""
        ids = frozenset(artifact_ids)
        if ids:
            self._store(obj, ids | self.ancestors(obj))

    def ancestors(self, obj: object) -> frozenset[str]:
        """The artifact ids ``obj`` derives from (empty when unknown)."""
        entry = self._entries.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return frozenset()
        return entry[1]

    def derive(self, result: object, sources: Iterable[object]) -> None:
        """``result`` was computed from ``sources``: it inherits their ancestors."""
        if not self._entries:
            return
        inherited: frozenset[str] = frozenset()
        for source in sources:
            if source is not result:
                inherited |= self.ancestors(source)
        if inherited:
            self._store(result, inherited | self.ancestors(result))

    def note_output(self, digest: str) -> None:
        """Remember a model output's digest for matching columns of written frames."""
        with self._lock:
            if digest not in self._outputs:
                self._outputs.append(digest)

    def matching_outputs(self, frame: object) -> list[str]:
        """Recent model outputs equal in content to one of the frame's columns."""
        if not self._outputs:
            return []
        known = set(self._outputs)
        columns: list[Any] = []
        if is_pandas_frame(frame):
            columns = [column for _name, column in frame.items()]  # type: ignore[attr-defined]
        elif is_pandas_series(frame):
            columns = [frame]
        found: list[str] = []
        for column in columns:
            values = column.to_numpy()
            if isinstance(values, np.ndarray):
                digest = digest_data(values)
                if digest in known and digest not in found:
                    found.append(digest)
        return found

    def _store(self, obj: object, ids: frozenset[str]) -> None:
        if len(ids) > MAX_ANCESTORS:
            ids = frozenset(sorted(ids)[:MAX_ANCESTORS])
        key = id(obj)

        def forget(dead: weakref.ref[Any]) -> None:
            self._forget(key, dead)

        try:
            ref = weakref.ref(obj, forget)
        except TypeError:
            return
        with self._lock:
            if len(self._entries) >= self._max_objects and key not in self._entries:
                return
            self._entries[key] = (ref, ids)

    def _forget(self, key: int, dead: weakref.ref[Any]) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is dead:
                del self._entries[key]


def finalize_sources(other: object) -> list[object]:
    """The source objects ``NDFrame.__finalize__`` was given (a frame, a concat, a merge)."""
    if other is None:
        return []
    if is_pandas_frame(other) or is_pandas_series(other):
        return [other]
    objs = getattr(other, "objs", None)
    if objs is not None:
        try:
            return list(objs)
        except TypeError:
            return []
    pair = [getattr(other, "left", None), getattr(other, "right", None)]
    return [side for side in pair if side is not None]
