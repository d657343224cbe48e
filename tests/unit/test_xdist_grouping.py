"""`make test` on two workers: the course notebooks stay one ordered work unit (conftest.py).

The root conftest's scheduler (``--dist loadgroup``) is driven here with stand-in workers, as
xdist's controller drives it: the nbval cells of every course notebook and their reference
checks must reach one worker as one unit, in collection order; every other test is spread.
"""

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = runpy.run_path(str(ROOT / "conftest.py"))


class _Config:
    """What the scheduler reads of pytest's config: two local workers, ``--dist loadgroup``."""

    class option:  # noqa: N801  (mirrors pytest's config.option namespace)
        loadscopereorder = True  # xdist's default

    def getvalue(self, name):
        return {"tx": ["2*popen"], "dist": "loadgroup"}[name]


class _Worker:
    def __init__(self, name):
        self.gateway = SimpleNamespace(id=name)  # read by xdist's collection check
        self.sent: list[int] = []  # indices into the collection, in the order sent
        self.done = 0  # how many of them have run
        self.shutting_down = False

    def send_runtest_some(self, indices):
        self.sent.extend(indices)

    def shutdown(self):
        self.shutting_down = True


COLLECTION = [
    "notebooks/01_preprocessing.ipynb::Cell 0",
    "notebooks/01_preprocessing.ipynb::Cell 1",
    "notebooks/02_gcn_propagation.ipynb::Cell 0",
    "notebooks/02_gcn_propagation.ipynb::Cell 1",
    "tests/notebooks/test_notebooks.py::test_template_executes",
    "tests/notebooks/test_notebooks.py::test_notebook_quick_run_matches_reference[01_preprocessing]",
    "tests/notebooks/test_notebooks.py::test_notebook_quick_run_matches_reference[02_gcn_propagation]",
    "tests/notebooks/test_student_edition_runs.py::test_student_edition_stops_at_first_exercise[01_preprocessing]",
    "tests/unit/test_metrics.py::test_a",
    "tests/unit/test_metrics.py::test_b",
]
NOTEBOOK_UNIT = [0, 1, 2, 3, 5, 6]  # indices into COLLECTION


def test_notebook_group_covers_nbval_cells_and_reference_checks_only():
    group = CONFTEST["notebook_group"]
    assert [i for i, nodeid in enumerate(COLLECTION) if group(nodeid)] == NOTEBOOK_UNIT
    assert group("notebooks/_template.ipynb::Cell 0") is None  # not a course notebook


def test_scheduler_sends_the_notebooks_to_one_worker_in_collection_order():
    pytest.importorskip("xdist")
    scheduler = CONFTEST["pytest_xdist_make_scheduler"](_Config(), None)
    workers = [_Worker("gw0"), _Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, COLLECTION)
    scheduler.schedule()
    while any(w.done < len(w.sent) for w in workers):  # each worker runs one test at a time
        for worker in workers:
            if worker.done < len(worker.sent):
                scheduler.mark_test_complete(worker, worker.sent[worker.done])
                worker.done += 1
    first = workers[0].sent
    assert first[: len(NOTEBOOK_UNIT)] == NOTEBOOK_UNIT, "the notebook unit first, in order"
    assert not set(NOTEBOOK_UNIT) & set(workers[1].sent)
    assert sorted(first + workers[1].sent) == list(range(len(COLLECTION)))  # nothing lost
    assert workers[1].sent, "the other tests are spread over both workers"


def test_other_dist_modes_keep_xdist_schedulers():
    class Load(_Config):
        def getvalue(self, name):
            return "load" if name == "dist" else super().getvalue(name)

    assert CONFTEST["pytest_xdist_make_scheduler"](Load(), None) is None
