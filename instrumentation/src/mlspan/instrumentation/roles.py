"""What each instrumented scikit-learn call becomes, decided by why it was made.

- The user's own call (no instrumented call open around it) is a full run: digests,
  model version, hyperparameters, feature summaries.
- A step of a composition meta-estimator (Pipeline, FeatureUnion, ColumnTransformer) is a
  child span with what lineage needs (digests, version); summaries only with
  ``nested_summaries``.
- A search's or cross-validation's candidate fits and scores get no span unless
  ``candidate_spans`` asks for them; the search's own span lists every candidate's
  parameters and scores (``mlspan.instrumentation.search_results``).
- Any other call one estimator makes on another inside its own code (a classifier's
  label encoding, calibration folds, a search's refit, a forest's trees) is an
  implementation detail: no span, no artifact, no metric series. So is a call that
  scikit-learn's own functions make outside any recorded call (``f1_score`` fitting a
  ``LabelEncoder``): its caller's module is scikit-learn's (its test suites excepted).

Classes are recognised by the public or private scikit-learn base classes in their method
resolution order, by name, so no private module is imported.
"""

from __future__ import annotations

from types import FrameType
from typing import Final

from mlspan.instrumentation.call_state import Nesting
from mlspan.semconv import CallRole

COMPOSITIONS: Final = frozenset({"Pipeline", "FeatureUnion", "ColumnTransformer"})
"""Meta-estimators whose steps the user named: their calls on steps are child spans."""
SEARCHES: Final = frozenset({"BaseSearchCV", "BaseSuccessiveHalving"})
"""Base classes of the hyperparameter searches (grid, randomized, halving)."""
EVALUATIONS: Final = frozenset(
    {
        "cross_validate",
        "cross_val_score",
        "cross_val_predict",
        "learning_curve",
        "validation_curve",
        "permutation_test_score",
    }
)
"""Public ``sklearn.model_selection`` functions recorded as one run for all their fits."""


def library_caller(frame: FrameType | None) -> bool:
    """Whether ``frame`` (the caller of an instrumented method) is scikit-learn's own
    code rather than the user's: then the call is an implementation detail."""
    if frame is None:
        return False
    module = frame.f_globals.get("__name__")
    return isinstance(module, str) and module.startswith("sklearn.") and ".tests" not in module


def _sklearn_bases(cls: type) -> set[str]:
    return {base.__name__ for base in cls.__mro__ if str(base.__module__).startswith("sklearn.")}


class RoleBook:
    """Classifies estimator classes once each (the answers are cached per class)."""

    def __init__(self) -> None:
        self._kinds: dict[type, Nesting] = {}

    def children_of(self, cls: type, role: CallRole) -> Nesting:
        """What calls made inside a recorded call on ``cls`` in ``role`` are."""
        kind = self._kinds.get(cls)
        if kind is None:
            bases = _sklearn_bases(cls)
            if bases & SEARCHES:
                kind = Nesting.CANDIDATE
            elif bases & COMPOSITIONS:
                kind = Nesting.STEP
            else:
                kind = Nesting.INTERNAL
            self._kinds[cls] = kind
        if role is CallRole.CANDIDATE and kind is not Nesting.INTERNAL:
            return Nesting.CANDIDATE  # a candidate's own steps are candidates too
        return kind

    def is_search(self, cls: type) -> bool:
        """Whether ``cls`` is a hyperparameter search (its fit lists candidates)."""
        return self.children_of(cls, CallRole.USER) is Nesting.CANDIDATE


def role_of(nesting: Nesting | None) -> CallRole | None:
    """The role of a call made under ``nesting`` (None: no span at all)."""
    if nesting is None:
        return CallRole.USER
    if nesting is Nesting.STEP:
        return CallRole.STEP
    if nesting is Nesting.CANDIDATE:
        return CallRole.CANDIDATE
    return None
