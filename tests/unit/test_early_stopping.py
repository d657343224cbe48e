"""training.EarlyStopping: the one patience / best-weights rule, and the four loops that use it.

The loop tests pin what each loop gave *before* the loops shared :class:`EarlyStopping`
(recorded from the code of commit c28b027 on the course machine, same data and seeds): best
epoch, stopping epoch, best value and the restored weights (their sums, to float32 round-off).
Any change of the stopping rule moves at least one of these numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")
models = pytest.importorskip("gnnrec_utils.models")
training = pytest.importorskip("gnnrec_utils.training")
gan = pytest.importorskip("gnnrec_utils.gan")
ng = pytest.importorskip("gnnrec_utils.node_gnn")

from gnnrec_utils import node_classification as nc  # noqa: E402
from gnnrec_utils.metrics import RankingEvaluator  # noqa: E402

RTOL = 1e-6  # weight sums: float32 weights, float64 sums; the runs are deterministic


class _Weights:
    def __init__(self, value):
        self.w = [np.array([value], dtype=np.float32)]

    def get_weights(self):
        return self.w

    def set_weights(self, w):
        self.w = [x.copy() for x in w]


def test_early_stopping_rule_and_restore():
    stop = training.EarlyStopping("max", patience=2)
    model = _Weights(0.0)
    assert stop.update(0.5, 1, model) and stop.best_value == 0.5 and stop.bad == 0
    model.w[0][:] = 9.0  # the update copied the weights
    assert not stop.update(0.5, 2) and not stop.should_stop  # equal is no improvement
    assert not stop.update(float("nan"), 3) and stop.should_stop
    assert stop.restore(model) and model.w[0][0] == 0.0 and stop.best_step == 1
    down = training.EarlyStopping("min", patience=None, min_delta=0.1)
    assert down.update(1.0, 1) and not down.update(0.95, 2) and down.update(0.8, 3)
    assert not down.update(-math.inf, 4)  # a non-finite value never improves
    assert not any(down.should_stop for _ in range(100)) and not down.restore(model)
    # the same rule on TensorFlow scalars (FullBatchTrainer's compiled loop)
    assert bool(down.improves(tf.constant(0.5), tf.constant(1.0)))
    assert bool(training.EarlyStopping("min", 3).exhausted(tf.constant(3)))
    with pytest.raises(ValueError, match="mode"):
        training.EarlyStopping("best")
    with pytest.raises(ValueError, match="patience"):
        training.EarlyStopping("max", patience=0)


def _pairs(seed, n_users, n_items, p):
    rng = np.random.default_rng(seed)
    R = rng.random((n_users, n_items)) < p
    R[:, 0] = True
    u, i = np.nonzero(R)
    held = np.arange(u.size) % 5 == 4
    return (u[~held], i[~held]), (u[held], i[held])


def _sums(weights):
    return [float(np.sum(np.asarray(w, dtype=np.float64))) for w in weights]


def test_fit_bpr_stops_as_before():
    (u, i), (hu, hi) = _pairs(0, 30, 25, 0.3)
    m = models.BPRMF(30, 25, dim=8, seed=0)
    ev = RankingEvaluator((hu, hi), 30, 25, exclude=[(u, i)], ks=(5,))
    h = training.fit_bpr(
        m, u, i, epochs=40, batch_size=64, lr=0.05, evaluator=ev, monitor="ndcg@5",
        eval_every=2, patience=3, seed=0, progress=False,
    )  # fmt: skip
    assert (h["best_epoch"], h["stopped_epoch"], len(h["eval_epoch"])) == (16, 22, 11)
    assert h["best_value"] == pytest.approx(0.3086477725511076, rel=RTOL)
    np.testing.assert_allclose(
        _sums(m.get_weights()), [-18.73897512862459, -1.2535791108384728], rtol=RTOL
    )


def test_fit_explicit_stops_as_before():
    rng = np.random.default_rng(2)
    eu, ei = rng.integers(0, 30, 400), rng.integers(0, 25, 400)
    er = 3 + rng.normal(size=30)[eu] + rng.normal(size=25)[ei] + 0.3 * rng.normal(size=400)
    er = np.clip(np.round(er), 1, 5).astype(np.float32)
    mf = models.BiasedMF(30, 25, dim=4, global_mean=float(er[:300].mean()), init_std=0.1, seed=0)
    h = training.fit_explicit(
        mf, eu[:300], ei[:300], er[:300], valid=(eu[300:], ei[300:], er[300:]), epochs=60,
        batch_size=32, lr=0.01, reg=0.01, patience=3, seed=0, progress=False,
    )  # fmt: skip
    assert (h["best_epoch"], h["stopped_epoch"]) == (55, 58)
    assert h["valid_rmse"][54] == pytest.approx(0.5806763422385862, rel=RTOL)
    np.testing.assert_allclose(
        _sums(mf.get_weights()),
        [27.59227612335235, -9.982374144718051, 1.6250571198761463, -1.43025216832757],
        rtol=RTOL,
    )


def test_fit_gan_keeps_the_best_epoch_as_before():
    (u, i), (hu, hi) = _pairs(3, 20, 30, 0.3)
    lg = models.lightgcn_from_interactions(u, i, 20, 30, dim=8, n_layers=2, seed=0)
    G = gan.PolicyGenerator(lg, temperature=0.5, exclude=(u, i))
    D = gan.Discriminator(20, 30, dim=8, seed=0)
    ev = RankingEvaluator((hu, hi), 20, 30, exclude=[(u, i)], ks=(5,))
    h = gan.fit_gan(
        G, D, u, i, epochs=4, n_samples=4, g_batch_users=8, d_batch_size=64, evaluator=ev,
        monitor="ndcg@5", top_k=5, seed=0, progress=False,
    )  # fmt: skip
    assert h["best_epoch"] == 3
    assert h["best_value"] == pytest.approx(0.20267590268729477, rel=RTOL)
    np.testing.assert_allclose(_sums(G.model.get_weights()), [0.7554239037272055], rtol=RTOL)


def test_full_batch_trainer_stops_as_before():
    rng = np.random.default_rng(0)
    cls = np.repeat(np.arange(3), 20)
    prob = np.where(cls[:, None] == cls[None, :], 0.25, 0.02)
    uu, ii = np.nonzero(rng.random(prob.shape) < prob)
    A = nc.user_item_adjacency(uu, ii, 60, 60)
    task = nc.build_node_task(
        "t", "multiclass", A, 60, "item", cls, ("a", "b", "c"),
        rng.normal(size=(60, 4)), [f"u{k}" for k in range(4)],
        rng.normal(size=(60, 4)), [f"i{k}" for k in range(4)],
    )  # fmt: skip
    split = nc.scarcity_splits(task, [0.2], seed=0)[0.2]
    gcn = ng.GNNMethod("gcn", hidden=8, max_epochs=300, patience=20)
    gcn(task, split, 0)
    fit = gcn.last_fit
    assert (fit.best_epoch, fit.epochs, fit.stopped_early) == (112, 132, True)
    assert fit.history["valid_loss"].iloc[111] == pytest.approx(0.9288134574890137, rel=RTOL)
    np.testing.assert_allclose(
        _sums(gcn.trainer(task).model.get_weights()),
        [2.4426992358639836, 0.9033432714641094, 0.7272130753844976, 0.2530774176120758],
        rtol=RTOL,
    )
    sage = ng.GNNMethod("sage", hidden=8, max_epochs=300, patience=20)
    sage(task, split, 1)
    assert (sage.last_fit.best_epoch, sage.last_fit.epochs) == (56, 76)
    valid = sage.last_fit.history["valid_loss"]
    assert valid.iloc[55] == pytest.approx(1.0385981798171997, rel=RTOL)
