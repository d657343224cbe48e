"""Shared test helpers: the course notebooks and reference-value checks."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"

sys.path.insert(0, str(ROOT / "tools"))
from _notebooks import NOTEBOOK_DIR, course_notebooks  # noqa: E402,F401  (the one definition)


def load_reference(stem: str, mode: str) -> dict:
    """The reference values for ``<stem>`` in ``mode`` ("quick" or "full")."""
    path = REFERENCE_DIR / f"{stem}.json"
    if not path.exists():
        raise AssertionError(f"no reference values: add {path.relative_to(ROOT)}")
    return json.loads(path.read_text())[mode]


def compare_to_reference(results: dict, reference: dict) -> list[str]:
    """Differences between recorded ``results`` and ``reference`` entries.

    Each reference entry is ``{"value": v, "abs_tol": t, "why": "…"}`` (or ``rel_tol``);
    strings, booleans and ``abs_tol: 0`` must match exactly. Returns a list of messages.
    """
    problems = []
    for key, spec in reference.items():
        if key not in results:
            problems.append(f"{key}: not recorded")
            continue
        got, want = results[key], spec["value"]
        if isinstance(want, (str, bool)) or want is None:
            if got != want:
                problems.append(f"{key}: {got!r} != {want!r}")
            continue
        tol = spec.get("abs_tol", 0.0)
        if "rel_tol" in spec:
            tol = max(tol, spec["rel_tol"] * abs(want))
        if not isinstance(got, (int, float)) or not math.isfinite(got):
            problems.append(f"{key}: {got!r} is not a finite number")
        elif abs(got - want) > tol:
            problems.append(f"{key}: {got} differs from {want} by more than {tol} ({spec['why']})")
    return problems


def wait_until(condition, what: str, proc, timeout: float = 60.0, poll: float = 0.1) -> None:
    """Poll ``condition()`` until it is true; after ``timeout`` s kill ``proc`` and fail, naming
    ``what`` never happened (the runner tests wait for a child to reach a given cell)."""
    import time

    import pytest

    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(poll)
    proc.kill()
    pytest.fail(f"{what} never happened")
