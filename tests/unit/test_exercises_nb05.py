"""Exercise checks of notebook 05 accept right answers and explain typical wrong ones.

Tiny synthetic inputs, plain NumPy: no TensorFlow, no GAN training.
"""

from __future__ import annotations

from gnnrec_utils import exercises

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.unit

Feedback = exercises.ExerciseFeedback


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _gini(counts):
    x = np.sort(np.asarray(counts, dtype=float))
    n = x.size
    return ((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * x.sum())


# --------------------------------------------------------------------------------------------
# Exercise 5.1
# --------------------------------------------------------------------------------------------


class _Tensor:
    """Stands in for a tf.Variable: the checks read it through .numpy()."""

    def __init__(self, value):
        self._value = np.asarray(value)

    def numpy(self):
        return self._value


class _Discriminator:
    """D with a fixed logit table: ``logits(users, items)`` gathers ``table[u, i]``."""

    def __init__(self, table):
        self.table = table

    def logits(self, users, items):
        return _Tensor(self.table[np.asarray(users)[:, None], np.asarray(items)])


@pytest.fixture
def game():
    rng = np.random.default_rng(0)
    table = rng.normal(-0.5, 1.5, size=(12, 30)).astype(np.float32)
    drawn = rng.integers(0, 30, size=(12, 4))
    f = table[np.arange(12)[:, None], drawn]
    d = _sigmoid(f.astype(np.float64))
    return {
        "D": _Discriminator(table),
        "drawn": drawn,
        "f": f,
        "minimax": float(d.mean()),  # d softplus(f) / df = sigmoid(f)
        "nonsat": float((1 - d).mean()),  # d log sigmoid(f) / df = 1 - sigmoid(f)
        "d": d,
    }


def test_reward_gradients_right(game, capsys):
    assert exercises.check_reward_gradients(game["minimax"], game["nonsat"], game["f"])
    assert exercises.check_reward_gradients(
        np.float32(game["minimax"]), game["nonsat"], _Tensor(game["f"]), game["D"], game["drawn"]
    )
    assert "✓ Exercise 5.1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("minimax", "nonsat", "message"),
    [
        (lambda g: g["nonsat"], lambda g: g["minimax"], "swapped"),
        (lambda g: g["minimax"] / g["f"].size, lambda g: g["nonsat"], "48 times too small"),
        (lambda g: g["minimax"] / 4, lambda g: g["nonsat"], "over each user's draws"),
        (lambda g: g["minimax"] * g["f"].size, lambda g: g["nonsat"], "sum of the 48"),
        (lambda g: -g["minimax"], lambda g: g["nonsat"], r"wrong sign.*log\(1 − D\)"),
        (lambda g: g["minimax"], lambda g: -g["nonsat"], r"wrong sign.*−log D"),
        (lambda g: g["minimax"], lambda g: -g["minimax"], "saturating term"),
        (lambda g: (g["d"] * (1 - g["d"])).mean(), lambda g: g["nonsat"], "of D = σ"),
        (lambda g: (1 / (1 - g["d"])).mean(), lambda g: g["nonsat"], "with respect to D"),
        (lambda g: g["minimax"], lambda g: (1 / g["d"]).mean(), "with respect to D"),
        (lambda g: g["d"], lambda g: g["nonsat"], "one derivative per pair"),
        (lambda g: [0.1, 0.2], lambda g: g["nonsat"], "one float"),
        (lambda g: np.nan, lambda g: g["nonsat"], "watched"),
        (lambda g: g["minimax"], lambda g: None, "did not watch"),
        (lambda g: 0.123, lambda g: g["nonsat"], "mean of σ"),
    ],
)
def test_reward_gradients_mistakes_are_explained(game, minimax, nonsat, message):
    with pytest.raises(Feedback, match=message):
        exercises.check_reward_gradients(minimax(game), nonsat(game), game["f"])


def test_reward_gradients_wrong_logits_are_explained(game):
    probs = _sigmoid(game["f"])
    with pytest.raises(Feedback, match="probabilities D"):
        exercises.check_reward_gradients(0.5, 0.5, probs, game["D"], game["drawn"])
    other = game["D"].table[:, :4]  # logits of items 0-3, not of the drawn items
    with pytest.raises(Feedback, match="not the discriminator's logits"):
        exercises.check_reward_gradients(0.5, 0.5, other, game["D"], game["drawn"])
    with pytest.raises(Feedback, match="shape"):
        exercises.check_reward_gradients(0.5, 0.5, game["f"][:, :2], game["D"], game["drawn"])


# --------------------------------------------------------------------------------------------
# Exercise 5.2
# --------------------------------------------------------------------------------------------

TAUS = (0.1, 0.2, 0.5, 1.0, 2.0)


@pytest.fixture(scope="module")
def scores():
    """Scores of 300 users for 600 items: a shared item popularity plus a personal taste."""
    rng = np.random.default_rng(1)
    return 2.0 * rng.normal(size=(1, 600)) + 2.0 * rng.normal(size=(300, 600))


def _draws(scores, tau, n, rng):
    z = scores / tau
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.concatenate([rng.choice(p.shape[1], n, p=row) for row in p])


def _table(scores, taus=TAUS, n=16, drawn_only=False, seed=5):
    rng = np.random.default_rng(seed)
    rows = []
    for tau in taus:
        counts = np.bincount(_draws(scores, tau, n, rng), minlength=scores.shape[1])
        g = _gini(counts[counts > 0] if drawn_only else counts)
        rows.append({"distinct_share": (counts > 0).mean(), "gini": g})
    table = pd.DataFrame(rows)
    table.insert(0, "temperature", TAUS)
    return table


class _Model:
    def __init__(self, s):
        self.s = s

    def score_all_users(self):
        return self.s


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_temperature_table_right(scores, seed, capsys):
    assert exercises.check_temperature_table(_table(scores, seed=seed), _Model(scores))
    assert "✓ Exercise 5.2" in capsys.readouterr().out


def test_temperature_table_structure_mistakes_are_explained(scores):
    right = _table(scores)
    cases = [
        (right.drop(columns="gini"), r"\['gini'\] missing"),
        (right.iloc[:4], "one row per τ"),
        (right.iloc[::-1].reset_index(drop=True), "not in increasing τ"),
        (right.rename(columns={"gini": "distinct_share", "distinct_share": "gini"}), "swapped"),
        (right.assign(distinct_share=right["distinct_share"] * 600), "larger than 1"),
        (right.to_dict("list"), "pd.DataFrame"),
    ]
    for table, message in cases:
        with pytest.raises(Feedback, match=message):
            exercises.check_temperature_table(table, scores)


def test_temperature_table_value_mistakes_are_explained(scores):
    one_tau = _table(scores, taus=(1.0,) * 5)  # the same temperature in every row
    with pytest.raises(Feedback, match="does not grow with τ"):
        exercises.check_temperature_table(one_tau, scores)
    shifted = _table(scores, taus=(0.5, 0.6, 0.8, 1.0, 2.0))  # the first row at τ = 0.5
    with pytest.raises(Feedback, match="row τ = 0.1 has the share expected at τ = 0.5"):
        exercises.check_temperature_table(shifted, scores)
    with pytest.raises(Feedback, match="one draw per user"):
        exercises.check_temperature_table(_table(scores, n=1), scores)
    with pytest.raises(Feedback, match="counts only the items that were drawn"):
        exercises.check_temperature_table(_table(scores, drawn_only=True), scores)
    with pytest.raises(Feedback, match="pre-trained policy gives"):  # another model's draws
        exercises.check_temperature_table(_table(0.7 * scores), scores)


# --------------------------------------------------------------------------------------------
# Exercise 5.3
# --------------------------------------------------------------------------------------------

N_USERS, N_ITEMS = 60, 120


@pytest.fixture(scope="module")
def graphs():
    """A skewed training graph (items 100–119 without edges) and a disjoint test graph."""
    rng = np.random.default_rng(2)
    pop = 1.0 / np.arange(1, 101)
    pairs = set()
    for u in range(N_USERS):
        for i in rng.choice(100, rng.integers(10, 25), replace=False, p=pop / pop.sum()):
            pairs.add((u, int(i)))
    train = tuple(np.array(a) for a in zip(*sorted(pairs), strict=True))
    test_pairs = sorted({(int(u), int(i)) for u, i in rng.integers(0, [N_USERS, 100], (300, 2))})
    test_pairs = [p for p in test_pairs if p not in pairs]
    test = tuple(np.array(a) for a in zip(*test_pairs, strict=True))
    return train, test


def _degrees(train):
    return np.bincount(train[0], minlength=N_USERS), np.bincount(train[1], minlength=N_ITEMS)


def _sample(item_scores, user_degree, seed=3):
    """Gumbel top-k: user u takes the d_u items with the largest score + Gumbel noise."""
    rng = np.random.default_rng(seed)
    keys = item_scores[None, :] + rng.gumbel(size=(N_USERS, N_ITEMS))
    order = np.argsort(-keys, axis=1)
    users = np.repeat(np.arange(N_USERS), user_degree)
    items = np.concatenate([order[u, :d] for u, d in enumerate(user_degree)])
    return users, items


def _jaccard(users, items):
    R = np.zeros((N_USERS, N_ITEMS))
    R[users, items] = 1
    C = R @ R.T
    a, b = np.triu_indices(N_USERS, 1)
    union = np.diag(C)[a] + np.diag(C)[b] - C[a, b]
    return np.divide(C[a, b], union, out=np.zeros(a.size), where=union > 0)


def _stats(graph, reference, holdout):
    keys = graph[0] * N_ITEMS + graph[1]
    return {
        "jaccard_corr": float(np.corrcoef(_jaccard(*graph), _jaccard(*reference))[0, 1]),
        "holdout_hit": float(np.isin(keys, holdout[0] * N_ITEMS + holdout[1]).mean()),
    }


def _popularity_graph(train, transform=None, seed=3):
    user_degree, item_degree = _degrees(train)
    with np.errstate(divide="ignore"):
        scores = np.log(item_degree + 1e-300) if transform is None else transform(item_degree)
    return _sample(scores, user_degree, seed)


def _check(graph, stats, graphs, **kw):
    train, test = graphs
    return exercises.check_popularity_graph(graph, stats, train, test, N_USERS, N_ITEMS, **kw)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_popularity_graph_right(graphs, seed, capsys):
    train, test = graphs
    graph = _popularity_graph(train, seed=seed)
    stats = pd.Series(_stats(graph, train, test))
    assert _check(graph, stats, graphs, generator_stats={"jaccard_corr": 0.8, "holdout_hit": 0.1})
    assert "for the generator" in capsys.readouterr().out


def test_popularity_graph_sampling_mistakes_are_explained(graphs):
    train, test = graphs
    user_degree, item_degree = _degrees(train)
    right = _popularity_graph(train)
    sixteen = _sample(np.log(item_degree + 1e-300), np.full(N_USERS, 16))
    moved = (np.where(np.arange(right[0].size) == 0, 1, right[0]), right[1])  # user 0 -> 1
    repeated = (right[0], right[1].copy())
    repeated[1][1] = repeated[1][0]  # user 0's second item = its first
    cases = [
        (sixteen, "edges, but the training graph has"),
        (moved, "user 0 has"),
        (repeated, "repeated"),
        (_popularity_graph(train, lambda d: np.zeros(N_ITEMS)), "drawn uniformly"),
        (_popularity_graph(train, lambda d: np.log1p(d)), "smoothed"),
        (_popularity_graph(train, lambda d: d.astype(float)), "too concentrated"),
        (_popularity_graph(train, lambda d: 0.3 * np.log(d + 1e-300)), "too even"),
        (train, "the training graph itself"),
        ((np.array([0.5]), np.array([1])), "integer"),
        ((right[0], right[1] + N_ITEMS), "out of range"),
    ]
    for graph, message in cases:
        with pytest.raises(Feedback, match=message):
            _check(graph, {"jaccard_corr": 0.5, "holdout_hit": 0.1}, graphs)


def _swap_edges(train):
    """A degree-preserving swap (u1, i1), (u2, i2) -> (u1, i2), (u2, i1): configuration-like."""
    u, i = (a.copy() for a in train)
    keys = set((u * N_ITEMS + i).tolist())
    for a in range(u.size):
        for b in range(a + 1, u.size):
            if u[a] != u[b] and i[a] != i[b]:
                if u[a] * N_ITEMS + i[b] not in keys and u[b] * N_ITEMS + i[a] not in keys:
                    i[a], i[b] = i[b], i[a]
                    return u, i
    raise AssertionError("no swap found")


def test_popularity_graph_configuration_model_is_explained(graphs):
    with pytest.raises(Feedback, match="configuration model"):
        _check(_swap_edges(graphs[0]), {"jaccard_corr": 0.5, "holdout_hit": 0.1}, graphs)


def test_popularity_graph_statistics_mistakes_are_explained(graphs):
    train, test = graphs
    graph = _popularity_graph(train)
    other = _popularity_graph(train, seed=11)
    cases = [
        ({"jaccard_corr": 0.5}, r"no \['holdout_hit'\]"),
        ([0.5, 0.1], "pop_stats is a list"),
        (_stats(graph, test, train), "reference and holdout are swapped"),
        ({**_stats(graph, test, test)}, "compares with the test graph"),
        (_stats(other, train, test), "do not describe pop_graph"),
    ]
    for stats, message in cases:
        with pytest.raises(Feedback, match=message):
            _check(graph, stats, graphs)


# --------------------------------------------------------------------------------------------
# Exercise 5.4
# --------------------------------------------------------------------------------------------


class _LightGCN:
    """The attributes the check reads: ego table, normalised adjacency, layers, user count."""

    def __init__(self, rng, n_users=5, n_items=7, dim=3, n_layers=2):
        import scipy.sparse as sp

        R = (rng.random((n_users, n_items)) < 0.5).astype(float)
        R[np.arange(n_users), np.arange(n_users) % n_items] = 1.0  # no isolated user
        R[np.arange(n_items) % n_users, np.arange(n_items)] = 1.0  # no isolated item
        A = sp.bmat([[None, sp.csr_matrix(R)], [sp.csr_matrix(R.T), None]]).tocsr()
        d = np.asarray(A.sum(axis=1)).ravel() ** -0.5
        self.A_hat = sp.diags(d) @ A @ sp.diags(d)
        self.embedding = _Tensor(rng.normal(0, 0.5, (n_users + n_items, dim)))
        self.n_layers, self.n_users = n_layers, n_users


class _D:
    def __init__(self, rng, n_users=5, n_items=7, dim=3):
        self.user_embedding = rng.normal(0, 1, (n_users, dim))
        self.item_embedding = rng.normal(0, 1, (n_items, dim))
        self.item_bias = rng.normal(0, 1, n_items)


def _surrogate_gradient(model, D, users, items, tau, baseline, eps=1e-6):
    """Central differences of -(1/BK) sum (r - b) log softmax(s/tau)[j] in the ego table."""
    f = (D.user_embedding[users][:, None, :] * D.item_embedding[items]).sum(-1)
    r = np.logaddexp(0, f + D.item_bias[items])
    a = r - baseline(r)
    n_users = model.n_users

    def loss(E0):
        layers = [E0]
        for _ in range(model.n_layers):
            layers.append(model.A_hat @ layers[-1])
        E = sum(layers) / len(layers)
        z = E[users] @ E[n_users:].T / tau
        logp = (
            z
            - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
            - z.max(1, keepdims=True)
        )
        return -(a * np.take_along_axis(logp, items, axis=1)).mean()

    E0 = model.embedding.numpy()
    grad = np.zeros_like(E0)
    for idx in np.ndindex(E0.shape):
        step = np.zeros_like(E0)
        step[idx] = eps
        grad[idx] = (loss(E0 + step) - loss(E0 - step)) / (2 * eps)
    return grad


@pytest.fixture
def reinforce():
    rng = np.random.default_rng(3)
    model, D = _LightGCN(rng), _D(rng)
    users = np.array([0, 2, 4])
    items = rng.integers(0, 7, size=(3, 4))
    tau = 0.8
    grads = {
        name: _surrogate_gradient(model, D, users, items, tau, b)
        for name, b in {
            "mean": lambda r: r.mean(1, keepdims=True),
            "loo": lambda r: (r.sum(1, keepdims=True) - r) / (r.shape[1] - 1),
            "none": lambda r: 0.0,
            "batch": lambda r: r.mean(),
        }.items()
    }
    return {"args": (model, D, users, items), "tau": tau, **grads}


def _check54(g, grad_mean, grad_loo, items=None):
    model, D, users, drawn = g["args"]
    return exercises.check_baseline_gradients(
        grad_mean, grad_loo, model, D, users, drawn if items is None else items, g["tau"]
    )


def test_baseline_gradients_right(reinforce, capsys):
    assert _check54(reinforce, reinforce["mean"], reinforce["loo"])
    assert _check54(reinforce, _Tensor(reinforce["mean"].astype(np.float32)), reinforce["loo"])
    out = capsys.readouterr().out
    assert "✓ Exercise 5.4" in out and "0.7500" in out  # (K - 1) / K for K = 4


@pytest.mark.parametrize(
    ("grad_mean", "grad_loo", "message"),
    [
        ("loo", "loo", "grad_mean is the gradient with the leave-one-out"),
        ("none", "loo", "grad_mean is the gradient with no baseline"),
        ("batch", "loo", "whole batch"),
        ("-mean", "loo", "grad_mean has the wrong sign"),
        ("mean", "mean", "grad_loo is the gradient with the mean of the user's K rewards"),
        ("mean", "none", "grad_loo is the gradient with no baseline"),
        ("mean", "random", "grad_loo is not the gradient"),
        (None, "loo", "grad_mean is None"),
        ("row", "loo", "shape"),
    ],
)
def test_baseline_gradients_mistakes_are_explained(reinforce, grad_mean, grad_loo, message):
    def pick(key):
        if key is None:
            return None
        if key == "-mean":
            return -reinforce["mean"]
        if key == "random":
            return np.random.default_rng(0).normal(size=reinforce["mean"].shape)
        if key == "row":
            return reinforce["mean"][0]
        return reinforce[key]

    with pytest.raises(Feedback, match=message):
        _check54(reinforce, pick(grad_mean), pick(grad_loo))


def test_baseline_gradients_wrong_draws_are_explained(reinforce):
    with pytest.raises(Feedback, match="drawn has shape"):
        _check54(reinforce, reinforce["mean"], reinforce["loo"], items=np.zeros((2, 4), int))
