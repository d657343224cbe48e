"""Notebook 04's new exercise check (4.4, a skip connection in the from-scratch GCN).

The check builds its own tiny graph; these tests hand it right and typical wrong answers.
(Exercises 4.1-4.3 are tested in tests/unit/test_exercises.py.)
"""

from __future__ import annotations

from gnnrec_utils import exercises

import pytest

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")


def right(propagate, x, W0, b0, W1, b1, W_skip):
    h = tf.nn.relu(propagate(x @ W0) + b0)
    return propagate(h @ W1) + b1 + x @ W_skip


def test_right_answer_passes(capsys):
    assert exercises.check_residual_gcn(right)
    assert "Exercise 4.4" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda p, x, W0, b0, W1, b1, Ws: p(tf.nn.relu(p(x @ W0) + b0) @ W1) + b1, "missing"),
        (
            lambda p, x, W0, b0, W1, b1, Ws: p(tf.nn.relu(p(x @ W0) + b0) @ W1 + x @ Ws) + b1,
            "through Ã",
        ),
        (lambda p, x, W0, b0, W1, b1, Ws: right(p, x, W0, b0, W1, b1, Ws)[:, :1], "shape"),
        (lambda p, x, W0, b0, W1, b1, Ws: right(p, x, W0, b0, W1, b1, Ws) * 2.0, "differ"),
        (
            lambda p, x, W0, b0, W1, b1, Ws: right(p, x, W0, b0, W1, b1, Ws).numpy(),
            "no gradient",
        ),
    ],
    ids=["no skip", "skip propagated", "wrong shape", "wrong values", "numpy"],
)
def test_typical_mistakes_get_specific_feedback(answer, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_residual_gcn(answer)
