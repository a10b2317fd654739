"""Warnings raised inside instrumented calls keep the location they have without mlspan.

A library warns with a ``stacklevel`` that counts frames up to its caller: a fixed
number (scikit-learn) or the first frame outside its own package (pandas'
``find_stack_level``). mlspan's wrapper frames sit between the library and the user's
code, so without care a pandas ``FutureWarning`` would be attributed to mlspan's
wrapper module instead of the user's line, and filters, ``once`` registries and tests
that check where a warning points would see the difference.

``warn_wrapper`` wraps ``warnings.warn``: when the frame a warning is attributed to is
one of mlspan's wrapper frames (or wrapt's), the stack level is raised past them to the
frame it would have been without instrumentation. Any other warning passes unchanged.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Final

import wrapt

MARKER: Final = "_self_mlspan_warning_location"
"""Attribute set on the wrapper so a second instrumentor does not wrap it again."""


def _skipped_prefixes() -> tuple[str, ...]:
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    wrapt_dir = os.path.dirname(os.path.abspath(wrapt.__file__)) + os.sep
    return here, wrapt_dir


class WarnLocator:
    """The ``warnings.warn`` wrapper (``wrapt`` signature)."""

    def __init__(self) -> None:
        self._prefixes = _skipped_prefixes()

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        stacklevel = args[2] if len(args) > 2 else kwargs.get("stacklevel", 1)
        if not isinstance(stacklevel, int) or isinstance(stacklevel, bool):
            return wrapped(*args, **kwargs)
        try:
            # the original counts from this frame: one more level, plus mlspan's frames
            level = max(stacklevel, 1) + 1 + self._wrapper_frames(max(stacklevel, 1))
        except Exception:  # never let the relocation itself change a warning
            level = max(stacklevel, 1) + 1
        if len(args) > 2:
            return wrapped(*args[:2], level, *args[3:], **kwargs)
        return wrapped(*args, **{**kwargs, "stacklevel": level})

    def _wrapper_frames(self, stacklevel: int) -> int:
        """How many mlspan/wrapt frames start where ``stacklevel`` points."""
        # frames: 0 this method, 1 __call__, 2 the caller of warnings.warn (stacklevel 1)
        frame: Any = sys._getframe(stacklevel + 1)
        extra = 0
        while frame is not None and frame.f_code.co_filename.startswith(self._prefixes):
            frame = frame.f_back
            extra += 1
        return extra


def keep_warning_locations(patcher: Any) -> None:
    """Wrap ``warnings.warn`` with ``patcher`` unless an mlspan instrumentor already did."""
    import warnings

    if getattr(warnings.warn, MARKER, False):
        return
    if patcher.wrap_attribute(warnings, "warn", WarnLocator()):
        setattr(warnings.warn, MARKER, True)
