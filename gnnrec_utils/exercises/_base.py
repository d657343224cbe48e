"""Shared pieces of the exercise checks: the feedback exception and plain reference code."""

from __future__ import annotations

import numpy as np


class ExerciseFeedback(AssertionError):
    """An exercise answer is not right yet; the message says why and how to proceed."""


def _fail(exercise: str, problem: str, hint: str) -> None:
    raise ExerciseFeedback(f"Exercise {exercise} — not yet: {problem}\n  Hint: {hint}")


def _ok(exercise: str, message: str) -> bool:
    print(f"✓ Exercise {exercise}: {message}")
    return True


def _plain_gini(counts: np.ndarray) -> float:
    """Mean absolute difference over all pairs divided by twice the mean (the definition)."""
    x = np.asarray(counts, dtype=np.float64)
    if x.sum() == 0:
        return 0.0
    return float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))
