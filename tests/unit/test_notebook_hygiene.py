"""Committed notebooks follow the course skeleton and are clean (STYLE.md, "Notebooks")."""

from __future__ import annotations

import ast
import json
import re
import sys

import pytest

from tests.helpers import NOTEBOOK_DIR, ROOT, course_notebooks

sys.path.insert(0, str(ROOT / "tools"))
import clean_notebook  # noqa: E402

pytestmark = pytest.mark.unit

ALL = [NOTEBOOK_DIR / "_template.ipynb", *course_notebooks()]


def _load(path):
    return json.loads(path.read_text())


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_skeleton(path):
    cells = _load(path)["cells"]
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert _source(cells[0]).startswith("# "), "first cell must be the H1 title and goal"
    for heading in ("## 0 Setup", "## Summary", "## Exercises", "## References"):
        assert re.search(rf"^{re.escape(heading)}", markdown, re.M), f"missing {heading!r}"
    numbered = re.findall(r"^## (\d+) ", markdown, re.M)
    assert numbered[:2] == ["0", "1"], "sections are numbered ## 0 Setup, ## 1 …"
    assert [int(n) for n in numbered] == sorted(int(n) for n in numbered)
    last_code = [c for c in cells if c["cell_type"] == "code"][-1]
    assert "record_results(" in _source(last_code), "the last cell records the results"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell_of_upper_case_literals(path):
    cells = _load(path)["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse(_source(tagged[0]))
    names = []
    for node in tree.body:
        assert isinstance(node, ast.Assign), "the parameters cell holds assignments only"
        ast.literal_eval(node.value)  # literals only, so papermill can override them
        names += [t.id for t in node.targets]
    assert names and all(n.isupper() for n in names), names
    for required in ("SEED", "QUICK", "DATA_DIR", "OUTPUT_DIR"):
        assert required in names


@pytest.mark.parametrize("path", course_notebooks(), ids=lambda p: p.stem)
def test_committed_with_outputs_in_order_and_clean(path):
    text = path.read_text()
    nb = json.loads(text)
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and _source(c)]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "execute top to bottom before committing"
    assert not clean_notebook.problems(nb)
    assert clean_notebook.dumps(clean_notebook.clean(json.loads(text))) == text, (
        "not normalised: run `make clean-notebooks`"
    )
    assert "papermill" not in nb["metadata"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_no_pip_install_or_absolute_paths_in_code(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        assert "pip install" not in src, "no installs inside notebooks"
        assert not re.search(r"['\"]/(home|root|tmp|work|Users)/", src), "no machine paths"


def _stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def _widget_bar(text):
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.jupyter.widget-view+json": {"model_id": "f3d6", "version_major": 2},
            "text/plain": [text],
        },
    }


@pytest.mark.parametrize(
    "output, expected",
    [
        (_widget_bar("BPR-MF:   0%|          | 0/300 [00:00<?, ?it/s]"), "stored as a widget"),
        (_stream("GCN:   0%|          | 0/10 [00:00<?, ?it/s]", "stderr"), "frozen at 0%|"),
        (_stream("\rx:   0%|   | 0/4\rx:  50%|#  | 2/4\rx: 100%|###| 4/4\n"), "frozen at 0%|"),
        (_stream("LightGCN:  40%|████      | 120/300 [00:33<00:50, 3.61it/s]"), "at 40%|"),
    ],
    ids=["widget", "text-0%", "carriage-return-frames", "text-40%"],
)
def test_cleaner_rejects_a_progress_bar_that_never_finished(output, expected):
    nb = {"cells": [{"cell_type": "code", "source": "fit()", "outputs": [output]}]}
    found = clean_notebook.problems(nb)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "text",
    [
        "BPR-MF: 100%|██████████| 300/300 [01:23<00:00, 3.61it/s, loss=0.1234]\n",
        "LightGCN: stopped at 120/300 [00:33, 3.61it/s, loss=0.1234]\n",
        "coverage 10%, recall 20% | precision 30%\n",
    ],
    ids=["finished-bar", "summary-of-early-stop", "percentages-in-text"],
)
def test_cleaner_accepts_finished_bars_and_summary_lines(text):
    nb = {"cells": [{"cell_type": "code", "source": "fit()", "outputs": [_stream(text)]}]}
    assert clean_notebook.problems(nb) == []


def test_cleaner_check_exits_1_on_a_frozen_bar(tmp_path, capsys):
    path = tmp_path / "01_x.ipynb"
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "source": "fit()",
                "outputs": [_widget_bar("MF:   0%|          | 0/100 [00:00<?, ?it/s]")],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(clean_notebook.dumps(clean_notebook.clean(nb)))
    assert clean_notebook.main(["--check", str(path)]) == 1
    assert "progress bar stored as a widget" in capsys.readouterr().out
