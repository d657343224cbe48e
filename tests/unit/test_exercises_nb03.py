"""Notebook 03's exercise checks accept right answers and explain typical wrong ones.

Tiny synthetic inputs and NumPy stand-ins for the models (no TensorFlow, no training).
"""

from __future__ import annotations

from gnnrec_utils import exercises

import numpy as np
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.unit

N_USERS, N_ITEMS = 12, 30

# --------------------------------------------------------------------------------------------
# Shared synthetic data: a power-law-ish interaction set, every user with a few items
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def interactions():
    rng = np.random.default_rng(0)
    popularity = 1.0 / np.arange(1, N_ITEMS + 1)
    pairs = set()
    for u in range(N_USERS):
        n = rng.integers(3, 9)
        for i in rng.choice(N_ITEMS, size=n, replace=False, p=popularity / popularity.sum()):
            pairs.add((u, int(i)))
    users, items = (np.array(a, dtype=np.int64) for a in zip(*sorted(pairs), strict=True))
    return users, items


# --------------------------------------------------------------------------------------------
# Exercise 3.1
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rating_data(interactions):
    rng = np.random.default_rng(1)
    P, Q = rng.normal(size=(N_USERS, 3)), rng.normal(size=(N_ITEMS, 3))
    b_u, b_i = rng.normal(0, 0.3, N_USERS), rng.normal(0, 0.3, N_ITEMS)
    users, items = interactions
    truth = 3.5 + b_u[users] + b_i[items] + np.einsum("nd,nd->n", P[users], Q[items])
    return (users, items), truth, (P, Q, b_u, b_i)


def _dot_model(params, mu=3.5):
    P, Q, b_u, b_i = params

    def model(inputs):
        u, i = (np.asarray(a).reshape(-1) for a in inputs)
        return mu + b_u[u] + b_i[i] + np.einsum("nd,nd->n", P[u], Q[i])

    return model


def test_listing_repair_right_answer(rating_data, capsys):
    test, truth, params = rating_data
    assert exercises.check_listing_repair(_dot_model(params), test, truth, truth + 0.1)
    assert "✓ Exercise 3.1" in capsys.readouterr().out


def test_listing_repair_accepts_ids_of_shape_b1(rating_data):
    test, truth, params = rating_data
    inner = _dot_model(params)

    def model(inputs):
        u, i = inputs
        if np.asarray(u).ndim != 2:
            raise ValueError("expected ids of shape (b, 1)")
        return inner(inputs)[:, None]

    assert exercises.check_listing_repair(model, test, truth, truth)


def test_listing_repair_vector_output_is_explained(rating_data):
    test, truth, params = rating_data

    def model(inputs):
        return np.repeat(_dot_model(params)(inputs)[:, None], 10, axis=1)

    with pytest.raises(exercises.ExerciseFeedback, match="reduce_sum"):
        exercises.check_listing_repair(model, test, truth, truth)


def test_listing_repair_additive_model_is_explained(rating_data):
    test, truth, (P, Q, b_u, b_i) = rating_data

    def model(inputs):  # user term + item term: the listing's pooling quirk
        u, i = (np.asarray(a).reshape(-1) for a in inputs)
        return 3.5 + b_u[u] + b_i[i]

    with pytest.raises(exercises.ExerciseFeedback, match="same ranking"):
        exercises.check_listing_repair(model, test, truth, truth)


def test_listing_repair_without_global_mean_is_explained(rating_data):
    test, truth, params = rating_data
    with pytest.raises(exercises.ExerciseFeedback, match="global mean"):
        exercises.check_listing_repair(_dot_model(params, mu=0.0), test, truth, truth)


# --------------------------------------------------------------------------------------------
# Exercise 3.2
# --------------------------------------------------------------------------------------------


class PopularitySampler:
    """The reference answer: (c_j + 1)^alpha, rejection of positives from the same law.

    (The notebook subclasses ``training.NegativeSampler``; its ``is_positive`` is copied here
    so that the test does not import TensorFlow.)
    """

    def __init__(self, users, items, n_users, n_items, alpha=0.75):
        self.n_items = n_items
        self.keys = np.unique(np.asarray(users) * n_items + np.asarray(items))
        self.weights = self._weights(np.bincount(items, minlength=n_items).astype(float), alpha)
        self.cdf = np.cumsum(self.weights) / self.weights.sum()

    def is_positive(self, users, items):
        q = np.asarray(users) * self.n_items + np.asarray(items)
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        return self.keys[pos] == q

    @staticmethod
    def _weights(counts, alpha):
        return (counts + 1.0) ** alpha

    def _draw(self, rng, size):
        return np.minimum(
            np.searchsorted(self.cdf, rng.random(size), side="right"), self.n_items - 1
        )

    def sample(self, users, rng=None):
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        neg = self._draw(rng, users.shape)
        bad = np.flatnonzero(self.is_positive(users, neg))
        while bad.size:
            neg[bad] = self._draw(rng, bad.size)
            bad = bad[self.is_positive(users[bad], neg[bad])]
        return neg


def _sampler_with(weights=None, sample=None):
    attrs = {}
    if weights is not None:
        attrs["_weights"] = staticmethod(weights)
    if sample is not None:
        attrs["sample"] = sample
    return type("Answer", (PopularitySampler,), attrs)


def _check_sampler(cls, interactions):
    return exercises.check_popularity_sampler(cls, *interactions, N_USERS, N_ITEMS)


def test_popularity_sampler_right_answer(interactions, capsys):
    assert _check_sampler(PopularitySampler, interactions)
    assert "✓ Exercise 3.2" in capsys.readouterr().out


def test_popularity_sampler_ignoring_alpha_is_explained(interactions):
    cls = _sampler_with(weights=lambda counts, alpha: np.ones_like(counts))
    with pytest.raises(exercises.ExerciseFeedback, match="alpha is ignored"):
        _check_sampler(cls, interactions)


def test_popularity_sampler_fixed_exponent_is_explained(interactions):
    cls = _sampler_with(weights=lambda counts, alpha: (counts + 1.0) ** 0.75)
    with pytest.raises(exercises.ExerciseFeedback, match=r"follow \(c_j \+ 1\)\^0.75"):
        _check_sampler(cls, interactions)


def test_popularity_sampler_inverse_popularity_is_explained(interactions):
    cls = _sampler_with(weights=lambda counts, alpha: (counts + 1.0) ** -alpha)
    with pytest.raises(exercises.ExerciseFeedback, match="rare items are drawn more often"):
        _check_sampler(cls, interactions)


def test_popularity_sampler_missing_smoothing_is_explained(interactions):
    cls = _sampler_with(weights=lambda counts, alpha: counts**alpha)
    with pytest.raises(exercises.ExerciseFeedback, match=r"\+1 is missing"):
        _check_sampler(cls, interactions)


def test_popularity_sampler_uniform_redraw_is_explained(interactions):
    def sample(self, users, rng=None):
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        neg = self._draw(rng, users.shape)
        bad = np.flatnonzero(self.is_positive(users, neg))
        while bad.size:  # the inherited uniform redraw
            neg[bad] = rng.integers(0, self.n_items, bad.size)
            bad = bad[self.is_positive(users[bad], neg[bad])]
        return neg

    with pytest.raises(exercises.ExerciseFeedback, match="redrawn uniformly"):
        _check_sampler(_sampler_with(sample=sample), interactions)


def test_popularity_sampler_returning_positives_is_explained(interactions):
    def sample(self, users, rng=None):
        return self._draw(np.random.default_rng(rng), np.asarray(users).shape)

    with pytest.raises(exercises.ExerciseFeedback, match="training positives"):
        _check_sampler(_sampler_with(sample=sample), interactions)


def test_popularity_sampler_global_random_state_is_explained(interactions):
    def sample(self, users, rng=None):
        return PopularitySampler.sample(self, users, np.random.randint(1 << 30))

    with pytest.raises(exercises.ExerciseFeedback, match="global state"):
        _check_sampler(_sampler_with(sample=sample), interactions)


def test_popularity_sampler_fixed_seed_is_explained(interactions):
    def sample(self, users, rng=None):
        return PopularitySampler.sample(self, users, 0)

    with pytest.raises(exercises.ExerciseFeedback, match="same negatives"):
        _check_sampler(_sampler_with(sample=sample), interactions)


def test_popularity_sampler_wrong_signature_is_explained(interactions):
    class NoAlpha(PopularitySampler):
        def __init__(self, users, items, n_users, n_items):
            super().__init__(users, items, n_users, n_items, 0.5)

    with pytest.raises(exercises.ExerciseFeedback, match="signature"):
        _check_sampler(NoAlpha, interactions)


# --------------------------------------------------------------------------------------------
# Exercise 3.3
# --------------------------------------------------------------------------------------------


class _FakeLightGCN:
    """LightGCN's attributes in NumPy; ``final`` maps the layer list to the final vectors."""

    def __init__(self, A_hat, E0, n_layers, n_users, final):
        self.A_hat, self.embedding, self.n_layers, self.n_users = A_hat, E0, n_layers, n_users
        layers = [E0]
        for _ in range(n_layers):
            layers.append(A_hat @ layers[-1])
        self._final = final(layers)

    def user_embeddings(self):
        return self._final[: self.n_users]

    def item_embeddings(self):
        return self._final[self.n_users :]


@pytest.fixture(scope="module")
def graph(interactions):
    users, items = interactions
    R = sp.csr_matrix((np.ones(users.size), (users, items)), shape=(N_USERS, N_ITEMS))
    A = sp.bmat([[None, R], [R.T, None]]).tocsr()
    d = np.asarray(A.sum(axis=1)).ravel()
    inv = np.where(d > 0, 1 / np.sqrt(np.maximum(d, 1e-12)), 0.0)
    A_hat = sp.diags(inv) @ A @ sp.diags(inv)
    E0 = np.random.default_rng(2).normal(size=(N_USERS + N_ITEMS, 4))
    return A_hat.tocsr(), E0


def _fake(graph, final, n_layers=3):
    return _FakeLightGCN(*graph, n_layers, N_USERS, final)


def test_last_layer_right_answer(graph, capsys):
    assert exercises.check_last_layer(_fake(graph, lambda layers: layers[-1]))
    assert "✓ Exercise 3.3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("final", "message"),
    [
        (lambda layers: sum(layers) / len(layers), "still the mean"),
        (lambda layers: sum(layers), "sum of the layers"),
        (lambda layers: layers[0], "ego embeddings"),
        (lambda layers: layers[-2], "one layer short"),
        (lambda layers: 2 * layers[-1], "not Â"),
    ],
    ids=["mean", "sum", "first", "off-by-one", "other"],
)
def test_last_layer_wrong_answers_are_explained(graph, final, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_last_layer(_fake(graph, final))


def test_last_layer_without_lightgcn_attributes_is_explained():
    with pytest.raises(exercises.ExerciseFeedback, match="subclass models.LightGCN"):
        exercises.check_last_layer(object())


# --------------------------------------------------------------------------------------------
# Exercise 3.4
# --------------------------------------------------------------------------------------------


def _random_subsets(users, items, ms=(1, 3, 5), seed=0):
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(users.size), users))
    rank = np.arange(users.size) - np.searchsorted(users[order], users[order])
    return {m: (users[order[rank < m]], items[order[rank < m]]) for m in ms}


def test_fold_in_subsets_right_answer(interactions, capsys):
    assert exercises.check_fold_in_subsets(_random_subsets(*interactions), interactions)
    assert "✓ Exercise 3.4" in capsys.readouterr().out


def test_fold_in_subsets_leakage_is_explained(interactions):
    users, items = interactions
    subsets = _random_subsets(users, items)
    su, si = subsets[3]
    known = set(zip(users.tolist(), items.tolist(), strict=True))
    foreign = next(i for i in range(N_ITEMS) if (int(su[0]), i) not in known)
    si = si.copy()
    si[0] = foreign  # a held-out item instead of a training one
    subsets[3] = (su, si)
    with pytest.raises(exercises.ExerciseFeedback, match="leak"):
        exercises.check_fold_in_subsets(subsets, interactions)


def test_fold_in_subsets_m_in_total_is_explained(interactions):
    users, items = interactions
    rng = np.random.default_rng(0)
    pick = rng.choice(users.size, size=5, replace=False)  # 5 pairs overall, not per user
    with pytest.raises(exercises.ExerciseFeedback, match="not m in total"):
        exercises.check_fold_in_subsets({5: (users[pick], items[pick])}, interactions)


def test_fold_in_subsets_duplicates_are_explained(interactions):
    users, items = interactions
    su, si = _random_subsets(users, items)[3]
    with pytest.raises(exercises.ExerciseFeedback, match="without replacement"):
        exercises.check_fold_in_subsets({3: (np.r_[su, su[:1]], np.r_[si, si[:1]])}, interactions)


def test_fold_in_subsets_first_items_are_explained(interactions):
    users, items = interactions  # sorted by user, then item
    first = {}
    for m in (1, 2):
        keep = np.concatenate([np.flatnonzero(users == u)[:m] for u in range(N_USERS)])
        first[m] = (users[keep], items[keep])
    with pytest.raises(exercises.ExerciseFeedback, match="at random"):
        exercises.check_fold_in_subsets(first, interactions)


# --------------------------------------------------------------------------------------------
# Exercise 3.5
# --------------------------------------------------------------------------------------------


def _lse(z):
    top = z.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(z - top).sum(axis=1))


def _logits(pos, neg, tau):
    return np.concatenate([np.asarray(pos)[:, None], np.asarray(neg)], axis=1) / tau


def ssm_right(pos, neg, tau):  # the reference answer, in NumPy (the notebook's uses tf ops)
    z = _logits(pos, neg, tau)
    return np.mean(_lse(z) - z[:, 0])


HISTORY = [1.71, 1.27, 1.13]


def test_sampled_softmax_right_answer(capsys):
    assert exercises.check_sampled_softmax(ssm_right, HISTORY)
    out = capsys.readouterr().out
    assert "✓ Exercise 3.5" in out
    # the message shows the reduction to BPR: the two printed numbers agree
    one, bpr = (float(x) for x in out.split("tau = 1: ")[1].split(")")[0].split(" vs "))
    assert one == pytest.approx(bpr, abs=1e-6)


def test_sampled_softmax_accepts_tensor_like_outputs_and_history():
    class Scalar:  # stands in for a tf scalar: read through .numpy()
        def __init__(self, value):
            self.value = value

        def numpy(self):
            return np.float32(self.value)

    assert exercises.check_sampled_softmax(
        lambda p, n, t: Scalar(ssm_right(p, n, t)), [Scalar(h) for h in HISTORY]
    )


def _naive(pos, neg, tau):  # right formula, exp without the max subtracted
    with np.errstate(over="ignore", invalid="ignore"):
        e_pos = np.exp(np.asarray(pos, np.float32) / np.float32(tau))
        e_neg = np.exp(np.asarray(neg, np.float32) / np.float32(tau)).sum(axis=1)
        return np.mean(-np.log(e_pos / (e_pos + e_neg)))


@pytest.mark.parametrize(
    ("loss_fn", "message"),
    [
        (lambda p, n, t: _lse(_logits(p, n, t)) - _logits(p, n, t)[:, 0], "one value per pair"),
        (lambda p, n, t: np.sum(_lse(_logits(p, n, t)) - _logits(p, n, t)[:, 0]), "summed"),
        (lambda p, n, t: np.mean(_lse(np.asarray(n) / t) - np.asarray(p) / t), "leaves out"),
        (lambda p, n, t: ssm_right(p, n, 1.0), "temperature is ignored"),
        (lambda p, n, t: ssm_right(np.asarray(p) * t, np.asarray(n) * t, 1.0), "multiplied"),
        (lambda p, n, t: ssm_right(p, n, 1.0) / t, "divides the loss"),
        (lambda p, n, t: -ssm_right(p, n, t), "sign is flipped"),
        (
            lambda p, n, t: ssm_right(p, np.asarray(n) - t * np.log(np.asarray(n).shape[1]), t),
            "negatives are averaged",
        ),
        (_naive, "overflows"),
        (lambda p, n, t: np.mean(np.logaddexp(0, np.asarray(n)[:, 0] - p)), "should be"),
        (lambda p, n, t: _lse(_logits(p, n, t).T).mean(), "should be"),
    ],
    ids=[
        "per-pair",
        "sum",
        "no-positive",
        "no-tau",
        "tau-times",
        "tau-outside",
        "sign",
        "mean-negatives",
        "overflow",
        "bpr-first-negative",
        "wrong-axis",
    ],
)
def test_sampled_softmax_wrong_losses_are_explained(loss_fn, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_sampled_softmax(loss_fn, HISTORY)


def test_sampled_softmax_error_in_the_loss_is_reported():
    def loss_fn(pos, neg, tau):
        return np.concatenate([pos, neg], axis=1)  # (b,) and (b, M) do not stack this way

    with pytest.raises(
        exercises.ExerciseFeedback, match=r"(?s)raised AxisError.*pos_scores\[:, None\]"
    ):
        exercises.check_sampled_softmax(loss_fn, HISTORY)


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ([1.5], "1 epoch loss"),
        (None, "0 epoch loss"),
        ([1.7, float("nan"), 1.2], "became nan at epoch 2"),
        ([1.7, 1.8, 1.9], "did not go down"),
    ],
    ids=["one-epoch", "none", "nan", "rising"],
)
def test_sampled_softmax_bad_training_runs_are_explained(history, message):
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_sampled_softmax(ssm_right, history)
