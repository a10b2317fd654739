"""The library versions the instrumentors support (checked by ``BaseInstrumentor``)."""

from __future__ import annotations

from typing import Final

_instruments_sklearn: Final = ("scikit-learn >= 1.3",)
_instruments_pandas: Final = ("pandas >= 2.0",)
_instruments: Final = _instruments_sklearn + _instruments_pandas
