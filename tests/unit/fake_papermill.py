"""A stand-in for papermill that the runner's child processes load (tests only).

``tools/run_notebooks.py`` runs each notebook in a child process; a test cannot monkeypatch
papermill there, so it sets ``GNNREC_RUNNER_PAPERMILL=tests.unit.fake_papermill`` and describes
what each notebook should do in ``GNNREC_FAKE_PAPERMILL`` (JSON, see :class:`FakePapermill`).
No kernel starts and neither papermill nor nbformat is imported (importing nbformat costs over
a second): a fake run takes the child's start-up time plus its planted sleep. Executed copies
are written as plain notebook JSON.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field

CONFIG_ENV = "GNNREC_FAKE_PAPERMILL"


@dataclass
class FakePapermill:
    """What each fake run does, by notebook stem, in this order.

    ``sleep`` seconds first, then (``wait_for``) until the child process of that other stem
    has exited and been reaped by the runner; then it writes ``extra_files`` (relative to
    OUTPUT_DIR); then it is interrupted (``interrupt``: sends itself SIGTERM, as a stop from
    outside would), fails (``fail``: an error cell, PapermillExecutionError) or, after writing
    ``<stem>.json``, blocks (``block``: sleeps 120 s in a "running" cell, for the test to
    stop) or finishes. ``timeline``: a file to which every run appends ``stem event value``
    lines (start, end, blocking: the time; pid: its process id).
    """

    fail: set = field(default_factory=set)
    interrupt: set = field(default_factory=set)
    block: set = field(default_factory=set)
    extra_files: dict = field(default_factory=dict)
    sleep: dict = field(default_factory=dict)
    wait_for: dict = field(default_factory=dict)
    timeline: str | None = None

    def env(self) -> dict[str, str]:
        """The environment variables that make the runner's children use this fake."""
        config = {k: sorted(v) if isinstance(v, set) else v for k, v in asdict(self).items()}
        return {
            "GNNREC_RUNNER_PAPERMILL": __name__,
            CONFIG_ENV: json.dumps(config),
        }


class PapermillExecutionError(Exception):
    """What papermill raises when a cell fails (the runner reads ``cell_index``)."""

    def __init__(self, cell_index, exec_count, source, ename, evalue, traceback):
        super().__init__(f"{ename}: {evalue}")
        self.cell_index, self.ename, self.evalue = cell_index, ename, evalue


def _note(timeline, stem, event, value=None):
    if timeline:
        with open(timeline, "a") as fh:
            fh.write(f"{stem} {event} {time.time() if value is None else value:.6f}\n")


def _wait_until_gone(timeline, stem, timeout=60):
    """Return once the child process that ran ``stem`` no longer exists (not even a zombie)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(timeline) as fh:
            pids = [line.split()[2] for line in fh if line.startswith(f"{stem} pid ")]
        if pids:
            try:
                os.kill(int(float(pids[0])), 0)
            except ProcessLookupError:
                return
        time.sleep(0.02)
    raise TimeoutError(f"{stem} did not end within {timeout} s")


def _write(nb, path):
    with open(path, "w") as fh:
        json.dump(nb, fh, indent=1)


def execute_notebook(input_path, output_path, parameters=None, **kwargs):
    config = json.loads(os.environ[CONFIG_ENV])
    stem = os.path.basename(input_path)[:-6]
    timeline = config["timeline"]
    _note(timeline, stem, "start")
    out_dir = os.path.join(kwargs["cwd"], (parameters or {}).get("OUTPUT_DIR", "."))
    with open(input_path) as fh:
        nb = json.load(fh)
    last = nb["cells"][-1]
    nb["metadata"]["papermill"] = {"end_time": None, "exception": None}
    _note(timeline, stem, "pid", os.getpid())
    time.sleep(config["sleep"].get(stem, 0))
    if other := config["wait_for"].get(stem):
        _wait_until_gone(timeline, other)
    for name in config["extra_files"].get(stem, []):  # e.g. 06's 06_results.csv, 03's split
        path = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(f"written by this run of {stem}\n")
    if stem in config["interrupt"]:
        last["metadata"]["papermill"] = {"status": "running"}
        _write(nb, output_path)
        os.kill(os.getpid(), signal.SIGTERM)  # the child's handler raises here
        time.sleep(30)
    if stem in config["fail"]:
        error = {
            "output_type": "error",
            "ename": "ValueError",
            "evalue": "planted",
            "traceback": [],
        }
        last["outputs"] = [error]
        nb["metadata"]["papermill"]["exception"] = True
        _write(nb, output_path)
        _note(timeline, stem, "end")
        raise PapermillExecutionError(2, 2, "x = 1", "ValueError", "planted", [])
    with open(os.path.join(out_dir, f"{stem}.json"), "w") as fh:
        json.dump({"stem": stem, "run": time.time()}, fh)
    if stem in config["block"]:
        last["metadata"]["papermill"] = {"status": "running"}
        _write(nb, output_path)
        _note(timeline, stem, "blocking")
        time.sleep(120)
    nb["metadata"]["papermill"]["end_time"] = "now"
    _write(nb, output_path)
    _note(timeline, stem, "end")
