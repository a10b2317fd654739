"""Wrapping library functions with wrapt, lazily on import, and restoring them exactly.

Methods are wrapped where they are defined (the class in the MRO whose ``__dict__`` holds
the name), so an inherited method is wrapped once for every subclass and ``vars(cls)``
of the subclasses never changes. ``restore_all`` removes each wrapper with
OpenTelemetry's ``unwrap`` and then checks the owner's ``__dict__`` holds the very object
that was there before; descriptors such as scikit-learn's ``available_if`` (which
``unwrap`` would replace by their bound result) are put back by hand.

Import hooks (``wrapt.register_post_import_hook``) cannot be removed, so ``ImportHooks``
registers each module's hook once and the callbacks do nothing while inactive.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import wrapt
from opentelemetry.instrumentation.utils import unwrap

_logger = logging.getLogger(__name__)

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]
"""A wrapt wrapper: ``(wrapped, instance, args, kwargs) -> result``."""


@dataclass(frozen=True)
class _Patch:
    owner: Any
    name: str
    original: object
    proxy: object


class Patcher:
    """Applies and removes wrappers; thread-safe and idempotent per (owner, name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patches: dict[tuple[int, str], _Patch] = {}

    def wrap_attribute(self, owner: Any, name: str, wrapper: Wrapper) -> bool:
        """Wrap ``owner.<name>`` where ``owner`` itself defines it; False when it does not."""
        original = vars(owner).get(name)
        if original is None:
            return False
        with self._lock:
            if (id(owner), name) in self._patches:
                return True
            proxy = wrapt.FunctionWrapper(original, wrapper)
            setattr(owner, name, proxy)
            self._patches[(id(owner), name)] = _Patch(owner, name, original, proxy)
        return True

    def wrap_method(self, cls: type, name: str, wrapper: Wrapper) -> bool:
        """Wrap the class in ``cls``'s MRO that defines ``name`` (never ``object``)."""
        for base in cls.__mro__:
            if base is object:
                return False
            if name in vars(base):
                return self.wrap_attribute(base, name, wrapper)
        return False

    def is_wrapped(self, owner: Any, name: str) -> bool:
        """True while ``owner.<name>`` carries one of this patcher's wrappers."""
        with self._lock:
            return (id(owner), name) in self._patches

    def restore_all(self) -> None:
        """Put every original back exactly where it was."""
        with self._lock:
            patches, self._patches = list(self._patches.values()), {}
        for patch in patches:
            try:
                if vars(patch.owner).get(patch.name) is not patch.proxy:
                    continue  # someone else replaced it since; leave theirs alone
                unwrap(patch.owner, patch.name)
                if vars(patch.owner).get(patch.name) is not patch.original:
                    setattr(patch.owner, patch.name, patch.original)
            except Exception:
                _logger.warning("cannot restore %s.%s", patch.owner, patch.name, exc_info=True)


class ImportHooks:
    """Runs a callback for each named module when (or if already) imported, while active."""

    def __init__(self, modules: Iterable[str], callback: Callable[[ModuleType], None]) -> None:
        self._modules = tuple(modules)
        self._callback = callback
        self._registered = False
        self._active = False

    def activate(self) -> None:
        """Start patching: already imported modules now, the others when imported."""
        self._active = True
        if not self._registered:
            self._registered = True
            for module in self._modules:
                wrapt.register_post_import_hook(self._on_import, module)
        else:
            import sys

            for module in self._modules:
                loaded = sys.modules.get(module)
                if loaded is not None:
                    self._on_import(loaded)

    def deactivate(self) -> None:
        """Stop reacting to imports (the hooks stay registered but do nothing)."""
        self._active = False

    def _on_import(self, module: ModuleType) -> None:
        if not self._active:
            return
        try:
            self._callback(module)
        except Exception:
            _logger.warning("cannot instrument %s", module.__name__, exc_info=True)
