"""TensorFlow runs one intra-op thread in every course process (``gnnrec.env``).

The setting fixes the floating-point results on every machine whatever its core count (the
model store records it: tests/unit/test_store.py) and lets two notebooks share two cores.
TensorFlow reads ``TF_NUM_INTRAOP_THREADS`` when its runtime starts, so the check runs in a
fresh interpreter: the process started with the course's environment has as many threads as one
that asks for one intra-op thread through the API, and fewer than one that asks for two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from _environment import course_environment  # noqa: E402

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc"),
]

_PROBE = """
import os, sys
import tensorflow as tf
if sys.argv[1] != "env":
    tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
x = tf.random.stateless_uniform([512, 512], seed=[1, 2])
float(tf.reduce_sum(x @ x))  # starts the runtime and its thread pools
print(len(os.listdir("/proc/self/task")))
"""


def _threads(mode: str, course_variable: bool) -> int:
    env = {**os.environ, **course_environment()}
    if not course_variable:
        env.pop("TF_NUM_INTRAOP_THREADS")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def test_course_environment_sets_one_intra_op_thread():
    assert course_environment()["TF_NUM_INTRAOP_THREADS"] == "1"
    course = _threads("env", course_variable=True)
    assert course == _threads("1", course_variable=False)
    assert course < _threads("2", course_variable=False)
