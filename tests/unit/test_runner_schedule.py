"""tools/run_notebooks.py --jobs N: dependency order, overlap, failure, SIGTERM, bookkeeping.

The children load the papermill stand-in of tests/unit/fake_papermill.py, which records when
each fake run starts and ends (a timeline file) and sleeps where told, so the order and the
overlap of real child processes can be read off without a kernel.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import nbformat
import pytest

from tests.helpers import ROOT, wait_until
from tests.unit.fake_papermill import FakePapermill

sys.path.insert(0, str(ROOT / "tools"))
import _notebooks  # noqa: E402
import run_notebooks  # noqa: E402

pytestmark = pytest.mark.unit


def _course(tmp_path, names):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in names:
        nb = nbformat.v4.new_notebook()
        params = nbformat.v4.new_code_cell("QUICK = False\nOUTPUT_DIR = None")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell("x = 1")]
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder, tmp_path / "out"


def _env(fake):
    return {**fake.env(), "PYTHONPATH": str(ROOT)}


def _run(monkeypatch, course, fake, *args):
    folder, out = course
    for name, value in _env(fake).items():
        monkeypatch.setenv(name, value)
    return run_notebooks.main(["--notebook-dir", str(folder), "--output-dir", str(out), *args])


def _timeline(path):
    """{stem: {"start": t, "end": t, ...}} from the fake's records."""
    events = {}
    for line in path.read_text().splitlines():
        stem, event, when = line.split()
        events.setdefault(stem, {})[event] = float(when)
    return events


def _overlap(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_the_table_of_dependencies_waits_for_01_and_puts_06_after_03(tmp_path):
    folder, _ = _course(tmp_path, ["01_a", "02_b", "03_c", "06_f"])
    waits = _notebooks.prerequisites(_notebooks.course_notebooks(folder))
    assert {nb.stem: [d.stem for d in deps] for nb, deps in waits.items()} == {
        "01_a": [],
        "02_b": ["01_a"],
        "03_c": ["01_a"],
        "06_f": ["01_a", "03_c"],
    }
    only = _notebooks.prerequisites(_notebooks.course_notebooks(folder, only=["06"]))
    assert list(only.values()) == [[]], "a prerequisite that is not selected is not waited for"


def test_two_jobs_run_independent_notebooks_together_and_06_after_03(monkeypatch, tmp_path, capsys):
    course = _course(tmp_path, ["01_a", "02_b", "03_c", "06_f"])
    timeline = tmp_path / "timeline"
    fake = FakePapermill(sleep={"02_b": 1.5, "03_c": 1.0}, timeline=str(timeline))
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 0
    t = _timeline(timeline)
    assert all(t["01_a"]["end"] <= t[s]["start"] for s in ("02_b", "03_c", "06_f")), t
    assert _overlap(t["02_b"], t["03_c"]), "02 and 03 do not wait for each other"
    assert t["03_c"]["end"] <= t["06_f"]["start"], "06 loads what 03 trained"
    lines = capsys.readouterr().out.splitlines()
    assert "2 at a time" in lines[0]
    printed = [line.split()[:2] for line in lines[1:-1]]
    assert sorted(printed) == [[stem, "ok"] for stem in ("01_a", "02_b", "03_c", "06_f")]
    stems = [stem for stem, _ in printed]  # in finishing order:
    assert stems[0] == "01_a" and stems.index("03_c") < stems.index("06_f")
    written_by = json.loads((course[1] / "results" / ".written-by.json").read_text())
    assert set(written_by) == {"01_a", "02_b", "03_c", "06_f"}, "no child lost another's entry"


def test_a_notebook_others_wait_for_starts_first(monkeypatch, tmp_path):
    course = _course(tmp_path, ["01_a", "02_b", "03_c", "04_d"])
    monkeypatch.setattr(_notebooks, "AFTER", {"04": ("03",)})  # nothing waits for 01 here
    monkeypatch.setattr(_notebooks, "TYPICAL_SECONDS", {})  # every notebook counts 1 s
    timeline = tmp_path / "timeline"
    fake = FakePapermill(sleep={"01_a": 1.0, "03_c": 1.0}, timeline=str(timeline))
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 0
    t = _timeline(timeline)
    assert _overlap(t["01_a"], t["03_c"]), "03 (waited for) and then 01 (course order) start"
    assert t["02_b"]["start"] >= min(t["01_a"]["end"], t["03_c"]["end"])


def test_one_job_runs_the_notebooks_one_after_another_in_course_order(
    monkeypatch, tmp_path, capsys
):
    course = _course(tmp_path, ["01_a", "02_b", "03_c", "06_f"])
    timeline = tmp_path / "timeline"
    fake = FakePapermill(timeline=str(timeline))
    assert _run(monkeypatch, course, fake, "--jobs", "1") == 0
    t = _timeline(timeline)
    order = sorted(t, key=lambda stem: t[stem]["start"])
    assert order == ["01_a", "02_b", "03_c", "06_f"]
    assert all(t[a]["end"] <= t[b]["start"] for a, b in zip(order, order[1:], strict=False))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Running 4 notebook(s), full parameters; logs in {course[1] / 'logs'}/"
    assert lines[1].startswith("  01_a  ok ") and lines[-1].startswith("All notebooks ran.")


def test_a_failure_starts_nothing_new_lets_the_running_finish_and_skips_dependants(
    monkeypatch, tmp_path, capsys
):
    course = _course(tmp_path, ["01_a", "02_b", "03_c", "04_d", "06_f"])
    monkeypatch.setattr(_notebooks, "TYPICAL_SECONDS", {})  # 03 (waited for), then course order
    timeline = tmp_path / "timeline"
    # 02 runs on until the runner has collected the failed 03's child
    fake = FakePapermill(fail={"03_c"}, wait_for={"02_b": "03_c"}, timeline=str(timeline))
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 1
    t = _timeline(timeline)
    assert set(t) == {"01_a", "02_b", "03_c"}, "nothing starts after the failure"
    assert "end" in t["02_b"], "the notebook running next to the failed one finished"
    captured = capsys.readouterr()
    assert "FAILED: 03_c.ipynb" in captured.err
    assert "  06_f  skipped: waits for 03_c, which did not finish" in captured.out
    assert "04_d" not in captured.out, "a notebook not started is only listed when it waits"
    out = course[1]
    assert (out / "results" / "02_b.json").exists()
    assert set(json.loads((out / "results.json").read_text())) == {"01_a", "02_b"}


def test_only_06_runs_without_waiting_for_03(monkeypatch, tmp_path, capsys):
    course = _course(tmp_path, ["01_a", "03_c", "06_f"])
    assert _run(monkeypatch, course, FakePapermill(), "--only", "06", "--jobs", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:-1]] == [["06_f", "ok"]]


def test_files_belong_to_the_notebook_whose_number_starts_their_name(monkeypatch, tmp_path):
    course = _course(tmp_path, ["01_a", "02_b", "03_c"])
    # 02 writes its table while 03 runs; 03 fails after 02 ended: it removes only its own file
    fake = FakePapermill(
        fail={"03_c"},
        sleep={"02_b": 0.3},
        wait_for={"03_c": "02_b"},
        extra_files={"02_b": ["02_table.csv", "02_split/x.tsv"], "03_c": ["03_half.csv"]},
    )
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 1
    results = course[1] / "results"
    assert (results / "02_table.csv").exists() and (results / "02_split" / "x.tsv").exists()
    assert not (results / "03_half.csv").exists()
    written_by = json.loads((results / ".written-by.json").read_text())
    assert written_by["02_b"] == ["02_b.json", "02_split/x.tsv", "02_table.csv"]
    assert "03_c" not in written_by


def test_a_file_no_notebook_owns_is_left_in_place_and_named_in_the_log(monkeypatch, tmp_path):
    course = _course(tmp_path, ["01_a", "02_b"])
    fake = FakePapermill(fail={"02_b"}, extra_files={"02_b": ["results.csv"]})
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 1
    out = course[1]
    assert (out / "results" / "results.csv").exists(), "not the failed notebook's to remove"
    log = (out / "logs" / "02_b.log").read_text()
    assert "run_notebooks WARNING: " in log and "results/results.csv" in log


UPDATE_MANY = """
import sys, time
sys.path.insert(0, sys.argv[1])
import run_notebooks
from pathlib import Path
for i in range(int(sys.argv[4])):
    with run_notebooks.written_by_table(Path(sys.argv[2])) as table:
        table[f"{sys.argv[3]}_{i}"] = [str(i)]
        time.sleep(0.001)  # widen the window a lost update would need
"""


def test_concurrent_updates_of_written_by_lose_no_entry(tmp_path):
    tools = str(ROOT / "tools")
    workers = [
        subprocess.Popen([sys.executable, "-c", UPDATE_MANY, tools, str(tmp_path), str(w), "50"])
        for w in range(4)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0] * 4
    table = json.loads((tmp_path / run_notebooks.WRITTEN_BY).read_text())
    assert len(table) == 200


def test_sigterm_stops_every_running_child_marks_their_copies_and_exits_143(tmp_path):
    folder, out = _course(tmp_path, ["01_a", "02_b", "03_c", "04_d"])
    timeline = tmp_path / "timeline"
    # after 01 the two longest (TYPICAL_SECONDS: 04 300 s, 03 177 s) run; 02 never starts
    fake = FakePapermill(block={"03_c", "04_d"}, timeline=str(timeline))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--jobs", "2"]
        + ["--notebook-dir", str(folder), "--output-dir", str(out)],
        env={**os.environ, **_env(fake)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(  # both blocking children have written their results
        lambda: timeline.exists() and timeline.read_text().count("blocking") == 2,
        "the two children reaching their blocking cell",
        proc,
    )
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stdout + stderr
    for stem in ("03_c", "04_d"):
        assert f"STOPPED: {stem}.ipynb" in stderr
        assert not (out / "results" / f"{stem}.json").exists(), "a stopped run's result is gone"
        copy = json.loads((out / "executed" / f"{stem}.ipynb").read_text())
        assert run_notebooks.run_status(copy) == run_notebooks.UNFINISHED
        assert copy["metadata"][run_notebooks.RUN_KEY]["reason"] == "stopped by SIGTERM"
    assert "02_b" not in _timeline(timeline), "nothing starts after the stop"
    assert set(json.loads((out / "results.json").read_text())) == {"01_a"}


def test_the_longest_chain_of_work_starts_first(monkeypatch, tmp_path):
    # the real table: after 01, 03 (177 s, then 06's 305 s) starts before 04 (300 s), 05, 07, 02
    folder, _ = _course(tmp_path, ["01_a", "02_b", "03_c", "04_d", "05_e", "06_f", "07_g"])
    chain = _notebooks.chain_seconds(_notebooks.prerequisites(_notebooks.course_notebooks(folder)))
    order = sorted(chain, key=lambda nb: -chain[nb])
    assert [nb.stem for nb in order] == ["01_a", "03_c", "06_f", "04_d", "05_e", "07_g", "02_b"]
    assert chain[order[0]] == 7 + 177 + 305
    # and the runner follows it: with two slots the long 02 starts before the short 03
    (tmp_path / "run").mkdir()
    course = _course(tmp_path / "run", ["01_a", "02_b", "03_c", "04_d"])
    monkeypatch.setattr(_notebooks, "AFTER", {})
    monkeypatch.setattr(_notebooks, "TYPICAL_SECONDS", {"02": 50, "03": 1, "04": 40})
    timeline = tmp_path / "timeline"
    fake = FakePapermill(sleep={"02_b": 1.0, "04_d": 1.0}, timeline=str(timeline))
    assert _run(monkeypatch, course, fake, "--jobs", "2") == 0
    t = _timeline(timeline)
    assert _overlap(t["02_b"], t["04_d"]), "the two long ones start first"
    assert t["03_c"]["start"] >= min(t["02_b"]["end"], t["04_d"]["end"])
