"""Train once: after `make run`, notebook 06 trained none of the models 03 and 05 trained.

Slow tier: reads the executed notebooks in outputs/executed/ that `make run` writes, collects
the model store's one-line reports ("<model> (seed <s>): trained in …" / "…: loaded from the
store …") and checks that every (model, seed) notebooks 03 and 05 trained on the random split
is loaded, not trained, by 06. Run it with `pytest -m slow tests/notebooks/test_train_once.py`.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow

LINE = re.compile(
    r"^(?P<model>[^\n:]+) \(seed (?P<seed>\d+)\): (?P<what>trained in|loaded from)", re.MULTILINE
)


def store_reports(stem: str) -> list[tuple[str, int, str]]:
    path = ROOT / "outputs" / "executed" / f"{stem}.ipynb"
    if not path.exists():
        pytest.skip(f"run `make run` first ({path.relative_to(ROOT)} is missing)")
    reports = []
    for cell in json.loads(path.read_text())["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            reports += [(m["model"], int(m["seed"]), m["what"]) for m in LINE.finditer(text)]
    return reports


def test_notebook_06_loads_what_03_and_05_trained():
    earlier = {
        (m, s)
        for nb in ("03_mf_recommendation", "05_graph_gan")
        for m, s, what in store_reports(nb)
        if what == "trained in"
    }
    # notebook 03 trains these four; 05 plays its GAN with them (loaded), and what 05 trains
    # (the GANs, a player of seed 43/44 it reached before 06 did) 06 must load, not train
    assert {("BPR-MF", 42), ("LightGCN", 42), ("GCN+MF", 42), ("MF (explicit)", 42)} <= earlier
    in_06 = store_reports("06_evaluation")
    loaded = {(m, s) for m, s, what in in_06 if what == "loaded from"}
    # 06's first report of each (model, seed) is on the random split (its section 1.3 then
    # trains BPR-MF and LightGCN on the temporal split, a different split: trained, rightly)
    first = {}
    for m, s, what in in_06:
        first.setdefault((m, s), what)
    retrained = sorted(k for k in earlier if first.get(k) == "trained in")
    assert not retrained, f"notebook 06 trained again what 03/05 trained: {retrained}"
    assert earlier & set(first) <= loaded
