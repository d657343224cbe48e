"""Shared pieces of the exercise checks: the feedback exception and the two messages."""

from __future__ import annotations


class ExerciseFeedback(AssertionError):
    """An exercise answer is not right yet; the message says why and how to proceed."""


def _fail(exercise: str, problem: str, hint: str) -> None:
    raise ExerciseFeedback(f"Exercise {exercise} — not yet: {problem}\n  Hint: {hint}")


def _ok(exercise: str, message: str) -> bool:
    print(f"✓ Exercise {exercise}: {message}")
    return True
