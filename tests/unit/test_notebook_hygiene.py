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
