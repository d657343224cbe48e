"""gnnrec_utils.models on tiny synthetic graphs: shapes, the common scoring interface, and each
model's forward pass against a dense NumPy version of its formula (LightGCN's layer mean of
Â^k E, GCN+MF's Spektral layers, the exact score decompositions and the fold-in)."""

from __future__ import annotations

from gnnrec_utils import graph as G

import numpy as np
import pytest

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")
models = pytest.importorskip("gnnrec_utils.models")

N_USERS, N_ITEMS, DIM = 7, 11, 5


def tiny_interactions(seed=0, n_users=N_USERS, n_items=N_ITEMS, p=0.35):
    rng = np.random.default_rng(seed)
    R = rng.random((n_users, n_items)) < p
    R[np.arange(n_users), rng.integers(0, n_items, n_users)] = True  # every user has one
    R[:, n_items - 1] = False  # an item without interactions (isolated node)
    users, items = np.nonzero(R)
    return users.astype(np.int64), items.astype(np.int64)


def dense_lightgcn_operator(users, items, n_users, n_items):
    A = np.zeros((n_users + n_items,) * 2)
    A[users, n_users + items] = 1.0
    A[n_users + items, users] = 1.0
    d = A.sum(1)
    s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    return s[:, None] * A * s[None, :]


@pytest.fixture(scope="module")
def data():
    return tiny_interactions()


@pytest.fixture(scope="module")
def lightgcn(data):
    return models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, dim=DIM, n_layers=3, seed=1)


@pytest.fixture(scope="module")
def gcnmf(data):
    return models.gcnmf_from_interactions(
        *data, N_USERS, N_ITEMS, dim=DIM, n_layers=2, dropout=0.5, seed=1
    )


@pytest.fixture(scope="module")
def bprmf():
    return models.BPRMF(N_USERS, N_ITEMS, dim=DIM, seed=1)


@pytest.mark.parametrize("which", ["bprmf", "lightgcn", "gcnmf"])
def test_common_interface_shapes_and_consistency(which, request):
    model = request.getfixturevalue(which)
    scores = model.score_all_users()
    assert scores.shape == (N_USERS, N_ITEMS) and scores.dtype == np.float32
    assert np.array_equal(model.user_item_scores(), scores)
    E_u, E_i = model.user_embeddings(), model.item_embeddings()
    assert E_u.shape[0] == N_USERS and E_i.shape[0] == N_ITEMS and E_u.shape[1] == E_i.shape[1]
    np.testing.assert_allclose(E_u @ E_i.T, scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score_all_users([4, 1]), scores[[4, 1]], rtol=1e-6)
    u, i = np.array([0, 3, 6]), np.array([10, 2, 5])
    np.testing.assert_allclose(model.score_pairs(u, i), scores[u, i], rtol=1e-5, atol=1e-6)
    keras_scores = model((tf.constant(u, tf.int32), tf.constant(i, tf.int32))).numpy()
    np.testing.assert_allclose(keras_scores, scores[u, i], rtol=1e-5, atol=1e-6)


def test_lightgcn_propagation_equals_dense_reference(data, lightgcn):
    A_hat = dense_lightgcn_operator(*data, N_USERS, N_ITEMS)
    np.testing.assert_allclose(lightgcn.A_hat.toarray(), A_hat, atol=1e-12)
    E0 = lightgcn.embedding.numpy().astype(np.float64)
    K = lightgcn.n_layers
    E = sum(np.linalg.matrix_power(A_hat, k) @ E0 for k in range(K + 1)) / (K + 1)
    np.testing.assert_allclose(lightgcn.user_embeddings(), E[:N_USERS], atol=1e-6)
    np.testing.assert_allclose(lightgcn.item_embeddings(), E[N_USERS:], atol=1e-6)
    layers = lightgcn.layer_embeddings()
    assert len(layers) == K + 1
    for k, layer in enumerate(layers):
        np.testing.assert_allclose(layer.numpy(), np.linalg.matrix_power(A_hat, k) @ E0, atol=1e-6)
    # the isolated item keeps only its ego embedding, divided by K + 1
    np.testing.assert_allclose(E[-1], E0[-1] / (K + 1), atol=1e-7)


def test_lightgcn_zero_layers_is_matrix_factorisation(data):
    m = models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, dim=DIM, n_layers=0, seed=3)
    E0 = m.embedding.numpy()
    np.testing.assert_allclose(m.score_all_users(), E0[:N_USERS] @ E0[N_USERS:].T, rtol=1e-6)


def test_lightgcn_explanations_sum_to_the_score(data, lightgcn):
    scores = lightgcn.score_all_users()
    for user, item in [(0, 3), (2, 7), (5, 10)]:
        ex = lightgcn.explain(user, item)
        assert np.isclose(ex["score"], scores[user, item], rtol=1e-5, atol=1e-6)
        assert np.isclose(ex["own"] + ex["past_item_contrib"].sum(), ex["score"], atol=1e-9)
        assert np.isclose(ex["item_itself"] + ex["neighbour_contrib"].sum(), ex["score"], atol=1e-9)
        assert np.isclose(ex["layer_pairs"].sum(), ex["score"], atol=1e-9)
        assert ex["layer_pairs"].shape == (4, 4)
        users, items = data
        assert set(ex["past_items"]) == set(items[users == user])
        assert set(ex["neighbour_users"]) == set(users[items == item])


def test_lightgcn_fold_in_reproduces_existing_user_without_ego(data, lightgcn):
    users, items = data
    K = lightgcn.n_layers
    E0 = lightgcn.embedding.numpy()
    U = lightgcn.user_embeddings()
    for u in range(N_USERS):
        folded = lightgcn.fold_in(items[users == u], item_degree_correction=False)
        np.testing.assert_allclose(folded, U[u] - E0[u] / (K + 1), atol=1e-6)
    # with the +1 degree correction the vector changes a little, not a lot
    v = lightgcn.fold_in(items[users == 0])
    w = lightgcn.fold_in(items[users == 0], item_degree_correction=False)
    assert 0 < np.linalg.norm(v - w) < 0.5 * np.linalg.norm(w)
    with pytest.raises(ValueError):
        lightgcn.fold_in([])
    many = lightgcn.fold_in_many(users, items, N_USERS, item_degree_correction=False)
    np.testing.assert_allclose(many, U - E0[:N_USERS] / (K + 1), atol=1e-6)
    assert np.array_equal(lightgcn.fold_in_many([0], [3], 2)[1], np.zeros(DIM))


def test_gcnmf_forward_equals_numpy_reference(data, gcnmf):
    users, items = data
    A = dense_lightgcn_operator(users, items, N_USERS, N_ITEMS)  # structure only
    A = (A > 0).astype(float) + np.eye(N_USERS + N_ITEMS)
    d = A.sum(1)
    A_tilde = A / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]
    np.testing.assert_allclose(gcnmf.A_tilde.toarray(), A_tilde, atol=1e-12)
    h = gcnmf.embedding.numpy().astype(np.float64)
    outs = [h]
    for conv in gcnmf.convs:
        W, b = (w.numpy().astype(np.float64) for w in conv.weights)
        z = A_tilde @ h @ W + b
        h = np.where(z > 0, z, 0.2 * z)  # LeakyReLU(0.2)
        outs.append(h / np.linalg.norm(h, axis=1, keepdims=True))
    E = np.concatenate(outs, axis=1)
    assert gcnmf.user_embeddings().shape == (N_USERS, DIM * 3)
    np.testing.assert_allclose(gcnmf.user_embeddings(), E[:N_USERS], atol=1e-5)
    np.testing.assert_allclose(gcnmf.item_embeddings(), E[N_USERS:], atol=1e-5)


def test_gcnmf_fast_operator_equals_spektral_sparse_matmul(data, gcnmf):
    slow = models.gcnmf_from_interactions(
        *data, N_USERS, N_ITEMS, dim=DIM, n_layers=2, dropout=0.5, seed=1, kernel="spektral"
    )
    assert slow._op is None and gcnmf._op is not None
    from gnnrec_utils.layers import PropagatedGCNConv

    from spektral.layers import GCNConv

    assert isinstance(gcnmf.convs[0], GCNConv) and type(gcnmf.convs[0]) is PropagatedGCNConv
    slow_scores, fast_scores = slow.score_all_users(), gcnmf.score_all_users()  # builds both
    for a, b in zip(slow.get_weights(), gcnmf.get_weights(), strict=True):
        assert np.array_equal(a, b)  # same seeds, same initial weights
    np.testing.assert_allclose(slow_scores, fast_scores, atol=1e-5)


def test_gcnmf_dropout_only_in_training(gcnmf):
    a, b = (gcnmf.propagate(training=False)[0].numpy() for _ in range(2))
    assert np.array_equal(a, b)
    t = gcnmf.propagate(training=True)[0].numpy()
    assert not np.allclose(t, a)


def test_bpr_terms_match_hand_computation(data, lightgcn, bprmf):
    u, p, n = (tf.constant(x, tf.int32) for x in ([0, 2, 2], [1, 3, 4], [5, 6, 10]))
    for model in (lightgcn, bprmf):
        S = model.score_all_users()
        pos, neg, omega = (x.numpy() for x in model.bpr_terms(u, p, n, training=False))
        np.testing.assert_allclose(pos, S[[0, 2, 2], [1, 3, 4]], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(neg, S[[0, 2, 2], [5, 6, 10]], rtol=1e-5, atol=1e-6)
        U0, I0 = (x.numpy() if hasattr(x, "numpy") else np.asarray(x) for x in model.ego())
        want = 0.5 * (
            (U0[[0, 2, 2]] ** 2).sum() + (I0[[1, 3, 4]] ** 2).sum() + (I0[[5, 6, 10]] ** 2).sum()
        )
        assert np.isclose(omega, want, rtol=1e-5)


def test_models_are_deterministic_given_seed(data):
    a = models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, dim=DIM, seed=7)
    b = models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, dim=DIM, seed=7)
    c = models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, dim=DIM, seed=8)
    assert np.array_equal(a.embedding.numpy(), b.embedding.numpy())
    assert not np.array_equal(a.embedding.numpy(), c.embedding.numpy())


def test_popularity_model():
    m = models.PopularityModel(3, 4).fit([0, 1, 2, 2], [1, 1, 3, 0])
    assert np.array_equal(m.counts, [1, 2, 0, 1])
    S = m.score_all_users()
    assert S.shape == (3, 4) and (S == [1, 2, 0, 1]).all()
    assert np.array_equal(m.score_pairs([0, 1], [1, 2]), [2, 0])
    with pytest.raises(ValueError):
        m.fit([0, 5], [0, 1])


def test_bias_baseline_closed_form():
    users = np.array([0, 0, 1, 1, 2])
    items = np.array([0, 1, 0, 2, 2])
    r = np.array([5.0, 3.0, 4.0, 2.0, 1.0])
    m = models.BiasBaseline(3, 4, reg_item=2.0, reg_user=1.0).fit(users, items, r)
    mu = r.mean()
    b_i = np.array([(5 - mu + 4 - mu) / 4, (3 - mu) / 3, (2 - mu + 1 - mu) / 4, 0.0])
    b_u = np.array(
        [
            (5 - mu - b_i[0] + 3 - mu - b_i[1]) / 3,
            (4 - mu - b_i[0] + 2 - mu - b_i[2]) / 3,
            (1 - mu - b_i[2]) / 2,
        ]
    )
    np.testing.assert_allclose(m.b_item, b_i)
    np.testing.assert_allclose(m.b_user, b_u)
    np.testing.assert_allclose(m.predict([2, 0], [3, 1]), [mu + b_u[2], mu + b_u[0] + b_i[1]])
    assert models.GlobalMeanModel().fit(users, items, r).predict([0, 1], [2, 3]).tolist() == [
        mu,
        mu,
    ]


def test_biased_mf_forward():
    m = models.BiasedMF(3, 4, dim=2, global_mean=3.5, seed=0)
    m.b_user.assign([0.1, -0.2, 0.0])
    m.b_item.assign([0.0, 0.3, 0.0, -0.1])
    P, Q = m.P.numpy(), m.Q.numpy()
    want = 3.5 + np.array([0.1, -0.2, 0.0])[:, None] + np.array([0.0, 0.3, 0.0, -0.1]) + P @ Q.T
    np.testing.assert_allclose(m.score_all_users(), want, rtol=1e-6)
    np.testing.assert_allclose(m.predict_ratings([1, 2], [1, 3]), want[[1, 2], [1, 3]], rtol=1e-6)


def test_constructor_checks(data):
    with pytest.raises(ValueError, match="shape"):
        models.LightGCN(N_USERS, N_ITEMS, np.eye(3))
    with pytest.raises(ValueError, match="n_layers"):
        models.lightgcn_from_interactions(*data, N_USERS, N_ITEMS, n_layers=-1)
    with pytest.raises(ValueError, match="combine"):
        models.gcnmf_from_interactions(*data, N_USERS, N_ITEMS, combine="sum")
    op = G.to_tf_operator(
        G.lightgcn_operator(G.bipartite_adjacency(G.interaction_matrix(*data, N_USERS, N_ITEMS)))
    )
    m = models.LightGCN(N_USERS, N_ITEMS, op, dim=DIM, seed=1)  # a ready operator works too
    assert m.score_all_users().shape == (N_USERS, N_ITEMS)
