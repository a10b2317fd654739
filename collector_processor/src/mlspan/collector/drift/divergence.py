"""Distances between two discrete distributions on the same bins or categories.

Shared by numerical features (binned on baseline quantiles) and categorical ones
(one bin per category). Inputs are non-negative weights; they are normalised here.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

PSI_EPSILON: Final = 1e-4
"""Floor on bin shares in PSI, so an empty bin gives a large but finite term."""

FloatArray = npt.NDArray[np.float64]


def shares(weights: FloatArray) -> FloatArray:
    """Weights normalised to sum to one (all zeros stay zeros)."""
    total = float(weights.sum())
    return weights / total if total > 0 else np.zeros_like(weights)


def psi(reference: FloatArray, current: FloatArray) -> float:
    """Population stability index: sum of (q - p) ln(q / p) with shares floored."""
    p = np.maximum(shares(reference), PSI_EPSILON)
    q = np.maximum(shares(current), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: FloatArray, current: FloatArray) -> float:
    """Jensen-Shannon distance (square root of the divergence, natural log), in [0, 0.833]."""
    p = shares(reference)
    q = shares(current)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0)
        right = np.where(q > 0, q * np.log(q / m), 0.0)
    divergence = 0.5 * float(left.sum() + right.sum())
    return float(np.sqrt(max(divergence, 0.0)))


def hellinger(reference: FloatArray, current: FloatArray) -> float:
    """Hellinger distance, in [0, 1]."""
    coefficient = float(np.sum(np.sqrt(shares(reference) * shares(current))))
    return float(np.sqrt(max(1.0 - coefficient, 0.0)))


def linf(reference: FloatArray, current: FloatArray) -> float:
    """Largest absolute difference between the two shares of one bin."""
    return float(np.max(np.abs(shares(reference) - shares(current)), initial=0.0))
