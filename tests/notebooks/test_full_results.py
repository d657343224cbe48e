"""`make run`'s recorded results (full parameters) against the committed references.

Slow tier: reads outputs/results/<notebook>.json written by `make run`; run it with
`pytest -m slow tests/notebooks/test_full_results.py` after `make run`.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import ROOT, compare_to_reference, course_notebooks, load_reference

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("notebook", course_notebooks(), ids=lambda p: p.stem)
def test_full_run_matches_reference(notebook):
    results_file = ROOT / "outputs" / "results" / f"{notebook.stem}.json"
    if not results_file.exists():
        pytest.skip(f"run `make run` first ({results_file.relative_to(ROOT)} is missing)")
    results = json.loads(results_file.read_text())
    assert results.get("quick") is False
    problems = compare_to_reference(results, load_reference(notebook.stem, "full"))
    assert not problems, "\n".join(problems)
