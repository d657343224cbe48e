"""gnnrec_utils.training: the negative sampler, the BPR loss against a hand computation, and
the training loops (one trace, early stopping restores the best epoch, checkpoints,
determinism, and a planted-preference data set on which BPR-MF beats popularity)."""

from __future__ import annotations

from gnnrec_utils import graph as G
from gnnrec_utils import metrics

import numpy as np
import pytest

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")
models = pytest.importorskip("gnnrec_utils.models")
training = pytest.importorskip("gnnrec_utils.training")


def random_pairs(seed=0, n_users=30, n_items=25, p=0.3):
    rng = np.random.default_rng(seed)
    R = rng.random((n_users, n_items)) < p
    R[:, 0] = True  # a very popular item
    users, items = np.nonzero(R)
    return users, items, n_users, n_items


# --------------------------------------------------------------------------------------------
# Negative sampling
# --------------------------------------------------------------------------------------------


def test_negative_sampler_never_returns_positives_and_is_deterministic():
    users, items, n_users, n_items = random_pairs()
    s = training.NegativeSampler(users, items, n_users, n_items)
    q = np.repeat(np.arange(n_users), 400)
    neg = s.sample(q, rng=np.random.default_rng(1))
    positives = set(zip(users.tolist(), items.tolist(), strict=True))
    assert not any((u, j) in positives for u, j in zip(q.tolist(), neg.tolist(), strict=True))
    assert neg.min() >= 0 and neg.max() < n_items
    assert np.array_equal(neg, s.sample(q, rng=1))  # same seed, same draws
    assert not np.array_equal(neg, s.sample(q, rng=2))
    assert np.array_equal(s.is_positive(users, items), np.ones(users.size, bool))


def test_negative_sampler_is_uniform_over_the_non_positives():
    s = training.NegativeSampler([0, 0, 1], [0, 2, 1], 2, 4)
    neg = s.sample(np.zeros(40_000, dtype=int), rng=0)
    counts = np.bincount(neg, minlength=4)
    assert counts[0] == counts[2] == 0
    assert abs(counts[1] / counts[3] - 1) < 0.05  # 20,000 each, binomial sd 0.7 %


def test_negative_sampler_rejects_a_user_with_every_item():
    with pytest.raises(ValueError, match="every item"):
        training.NegativeSampler([0, 0, 1], [0, 1, 0], 2, 2)


def test_epoch_triples_cover_every_pair_n_negatives_times():
    users, items, n_users, n_items = random_pairs(3)
    s = training.NegativeSampler(users, items, n_users, n_items)
    u, p, n = training.epoch_triples(users, items, s, np.random.default_rng(0), n_negatives=3)
    assert u.dtype == p.dtype == n.dtype == np.int32 and u.size == 3 * users.size
    got = sorted(zip(u.tolist(), p.tolist(), strict=True))
    want = sorted(3 * list(zip(users.tolist(), items.tolist(), strict=True)))
    assert got == want
    assert not s.is_positive(u, n).any()


# --------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------


def test_bpr_loss_matches_hand_computation():
    pos = np.array([2.0, 0.5, -1.0, 30.0], dtype=np.float32)
    neg = np.array([1.0, 0.5, 1.0, -30.0], dtype=np.float32)
    want = -np.mean(np.log(1.0 / (1.0 + np.exp(-(pos.astype(float) - neg)))))
    got = float(training.bpr_loss(tf.constant(pos), tf.constant(neg)))
    assert np.isclose(got, want, rtol=1e-6)
    assert np.isclose(float(training.bpr_loss(tf.constant([0.0]), tf.constant([0.0]))), np.log(2))
    big = float(training.bpr_loss(tf.constant([-100.0]), tf.constant([100.0])))
    assert np.isfinite(big) and np.isclose(big, 200.0)  # stable where log(sigmoid) underflows


# --------------------------------------------------------------------------------------------
# Loops
# --------------------------------------------------------------------------------------------


def planted(seed=0, n_per_group=30, n_items_per_group=20):
    """Two user groups, two item groups; group A items are more popular overall, but each
    user only likes the items of their own group."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, (p_own, n_users) in enumerate(((0.6, 2 * n_per_group), (0.6, n_per_group))):
        for u in range(n_users):
            uid = u if g == 0 else 2 * n_per_group + u
            liked = np.flatnonzero(rng.random(n_items_per_group) < p_own) + g * n_items_per_group
            rows += [(uid, i) for i in liked]
    pairs = np.array(rows)
    perm = rng.permutation(len(pairs))
    pairs = pairs[perm]
    test_mask = rng.random(len(pairs)) < 0.25
    n_users, n_items = 3 * n_per_group, 2 * n_items_per_group
    return pairs[~test_mask], pairs[test_mask], n_users, n_items


def test_bpr_mf_beats_popularity_on_planted_preferences():
    train, test, n_users, n_items = planted()
    tr = (train[:, 0], train[:, 1])
    evaluator = metrics.RankingEvaluator((test[:, 0], test[:, 1]), n_users, n_items, [tr])
    pop = evaluator(models.PopularityModel(n_users, n_items).fit(*tr))
    model = models.BPRMF(n_users, n_items, dim=8, seed=0)
    history = training.fit_bpr(
        model,
        *tr,
        epochs=60,
        batch_size=256,
        lr=0.05,
        reg=1e-4,
        evaluator=None,
        seed=0,
        progress=False,
    )
    bpr = evaluator(model)
    assert history["tracing_count"] == 1
    assert history["loss"][-1] < history["loss"][0]
    # Popularity fills every top-20 with group A items: group B users (1/3) get no hit.
    assert pop["recall@20"] < 0.75
    assert bpr["recall@20"] > 0.95, (bpr, pop)
    assert bpr["ndcg@20"] > pop["ndcg@20"] + 0.1


def test_lightgcn_step_traces_once_and_loss_falls():
    users, items, n_users, n_items = random_pairs(5)
    model = models.lightgcn_from_interactions(users, items, n_users, n_items, dim=8, seed=0)
    h = training.fit_bpr(
        model, users, items, epochs=6, batch_size=60, lr=0.01, seed=0, progress=False
    )  # 60 does not divide the pairs: a short last batch
    assert users.size % 60 != 0
    assert h["tracing_count"] == 1
    assert h["loss"][-1] < h["loss"][0]
    assert len(h["epoch_seconds"]) == 6 and h["stopped_epoch"] == 6


class Scripted:
    """An evaluator that returns scripted values and remembers the weights it saw."""

    def __init__(self, model, values):
        self.model, self.values, self.seen = model, list(values), []

    def __call__(self, scores):
        assert scores.shape == (self.model.n_users, self.model.n_items)
        self.seen.append([w.copy() for w in self.model.get_weights()])
        return {"ndcg@20": self.values[len(self.seen) - 1], "recall@20": 0.0}


def test_early_stopping_restores_the_best_epoch_and_checkpoints(tmp_path):
    users, items, n_users, n_items = random_pairs(6)
    model = models.BPRMF(n_users, n_items, dim=4, seed=0)
    ev = Scripted(model, [0.1, 0.3, 0.2, 0.25, 0.29, 0.9])
    ckpt = tmp_path / "best.npz"
    h = training.fit_bpr(
        model,
        users,
        items,
        epochs=50,
        batch_size=128,
        lr=0.01,
        evaluator=ev,
        eval_every=2,
        patience=3,
        seed=0,
        checkpoint_path=ckpt,
        progress=False,
    )
    assert h["eval_epoch"] == [2, 4, 6, 8, 10]  # stopped after 3 evaluations without gain
    assert h["best_epoch"] == 4 and h["best_value"] == 0.3 and h["stopped_epoch"] == 10
    assert h["valid"]["ndcg@20"] == [0.1, 0.3, 0.2, 0.25, 0.29]
    for got, want in zip(model.get_weights(), ev.seen[1], strict=True):
        assert np.array_equal(got, want)
    assert not np.array_equal(model.get_weights()[0], ev.seen[-1][0])
    for got, want in zip(training.load_weights_npz(ckpt), ev.seen[1], strict=True):
        assert np.array_equal(got, want)


def test_training_is_deterministic_given_seed():
    users, items, n_users, n_items = random_pairs(7)

    def run(seed):
        model = models.lightgcn_from_interactions(users, items, n_users, n_items, dim=8, seed=3)
        training.fit_bpr(
            model, users, items, epochs=3, batch_size=50, lr=0.01, seed=seed, progress=False
        )
        return model.get_weights()[0]

    a, b, c = run(0), run(0), run(1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gcnmf_trains_its_gcn_weights_and_traces_once():
    users, items, n_users, n_items = random_pairs(12)
    model = models.gcnmf_from_interactions(users, items, n_users, n_items, dim=8, seed=3)
    before = [v.numpy().copy() for v in model.trainable_variables]
    assert len(before) == 1 + 2 * 2  # ego table + (kernel, bias) per GCNConv layer
    h = training.fit_bpr(
        model, users, items, epochs=2, batch_size=50, lr=0.01, seed=0, progress=False
    )
    assert h["tracing_count"] == 1
    for v, b in zip(model.trainable_variables, before, strict=True):
        assert not np.array_equal(v.numpy(), b), f"{v.name} was not trained"


def test_fit_bpr_uses_a_custom_sampler():
    users, items, n_users, n_items = random_pairs(14)

    class LastItem:  # every negative is the last item (a deliberately bad sampler)
        calls = 0

        def sample(self, u, rng):
            LastItem.calls += 1
            return np.full(np.asarray(u).shape, n_items - 1)

    model = models.BPRMF(n_users, n_items, dim=4, seed=0)
    h = training.fit_bpr(
        model,
        users,
        items,
        epochs=10,
        batch_size=64,
        lr=0.05,
        sampler=LastItem(),
        seed=0,
        progress=False,
    )
    assert LastItem.calls == 10 and len(h["loss"]) == 10
    # trained to rank every positive above item n_items - 1: it ends last for most users
    scores = model.score_all_users()
    assert (scores.argmin(axis=1) == n_items - 1).mean() > 0.9
    with pytest.raises(TypeError, match="sample\\(users, rng\\) method"):
        training.fit_bpr(model, users, items, epochs=1, sampler=object(), progress=False)


def test_gcnmf_identity_init_and_kernel_regulariser_reach_the_loss():
    users, items, n_users, n_items = random_pairs(13)
    model = models.gcnmf_from_interactions(
        users, items, n_users, n_items, dim=8, seed=3, kernel_init="identity", kernel_reg=0.5
    )
    model.propagate()  # builds the GCNConv layers (Spektral creates weights on first call)
    for conv in model.convs:
        assert np.array_equal(conv.kernel.numpy(), np.eye(8, dtype=np.float32))
    # L2(0.5) on two 8 x 8 identity kernels: 0.5 * (8 + 8)
    assert np.isclose(float(tf.add_n(model.losses)), 0.5 * 16)
    h = training.fit_bpr(model, users, items, epochs=1, batch_size=50, seed=0, progress=False)
    unregularised = models.gcnmf_from_interactions(
        users, items, n_users, n_items, dim=8, seed=3, kernel_init="identity"
    )
    h0 = training.fit_bpr(
        unregularised, users, items, epochs=1, batch_size=50, seed=0, progress=False
    )
    assert h["loss"][0] > h0["loss"][0] + 1.0  # the penalty (about 8) is part of the loss
    with pytest.raises(ValueError, match="kernel_init must be 'glorot' or 'identity'"):
        models.gcnmf_from_interactions(users, items, n_users, n_items, kernel_init="zeros")


def test_gcnmf_training_with_dropout_is_deterministic_given_seed():
    from gnnrec_utils.seeding import seed_everything

    users, items, n_users, n_items = random_pairs(11)

    def run():
        seed_everything(5)  # dropout draws from TensorFlow's seeded random ops
        model = models.gcnmf_from_interactions(
            users, items, n_users, n_items, dim=8, seed=3, dropout=0.3
        )
        training.fit_bpr(
            model, users, items, epochs=2, batch_size=50, lr=0.01, seed=0, progress=False
        )
        return model.get_weights()

    for a, b in zip(run(), run(), strict=True):
        assert np.array_equal(a, b)


def test_max_seconds_and_test_evaluator_are_only_recorded():
    users, items, n_users, n_items = random_pairs(8)
    model = models.BPRMF(n_users, n_items, dim=4, seed=0)
    ev = metrics.RankingEvaluator(
        (users[:20], items[:20]), n_users, n_items, [(users[20:], items[20:])], ks=(5,)
    )
    test = Scripted(model, [0.5] * 100)
    h = training.fit_bpr(
        model,
        users[20:],
        items[20:],
        epochs=100,
        evaluator=ev,
        monitor="ndcg@5",
        test_evaluator=test,
        eval_every=1,
        patience=100,
        max_seconds=0.0,
        seed=0,
        progress=False,
    )
    assert h["stopped_epoch"] == 1 and h["eval_epoch"] == [1]
    assert h["test"]["ndcg@20"] == [0.5] and "recall@5" in h["valid"]


def test_fit_explicit_beats_the_global_mean_and_restores_best():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    P, Q = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    R = np.clip(3 + P @ Q.T + 0.1 * rng.normal(size=(n_users, n_items)), 1, 5)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.6)
    perm = rng.permutation(users.size)  # random hold-out, not the last users
    users, items = users[perm], items[perm]
    r = R[users, items]
    cut = int(0.8 * users.size)
    model = models.BiasedMF(n_users, n_items, dim=4, global_mean=float(r[:cut].mean()), seed=0)
    h = training.fit_explicit(
        model,
        users[:cut],
        items[:cut],
        r[:cut],
        valid=(users[cut:], items[cut:], r[cut:]),
        epochs=200,
        batch_size=64,
        lr=0.02,
        reg=0.01,
        patience=10,
        seed=0,
        progress=False,
    )
    assert h["tracing_count"] == 1
    best = h["epoch"].index(h["best_epoch"])
    assert h["valid_rmse"][best] == min(h["valid_rmse"])
    got = metrics.rating_errors(model.predict_ratings(users[cut:], items[cut:]), r[cut:])
    assert np.isclose(got["rmse"], h["valid_rmse"][best], rtol=1e-5)
    baseline = metrics.rating_errors(np.full(r.size - cut, r[:cut].mean()), r[cut:])
    assert got["rmse"] < 0.6 * baseline["rmse"]


def test_fit_checks_arguments():
    users, items, n_users, n_items = random_pairs(9)
    model = models.BPRMF(n_users, n_items, dim=4, seed=0)
    with pytest.raises(ValueError):
        training.fit_bpr(model, users, items[:-1], progress=False)
    with pytest.raises(ValueError):
        training.fit_bpr(model, users, items, eval_every=0, progress=False)


def test_propagation_operator_is_shared_not_rebuilt():
    users, items, n_users, n_items = random_pairs(10)
    A = G.lightgcn_operator(
        G.bipartite_adjacency(G.interaction_matrix(users, items, n_users, n_items))
    )
    op = G.to_tf_operator(A)
    m = models.LightGCN(n_users, n_items, op, dim=4, seed=0)
    assert m._op is op
