"""gnnrec_utils.graph: builders, normalisations against a plain dense NumPy version of each
formula, spectra, the TensorFlow propagation kernels against SciPy, and their gradients
against finite differences. Small seeded random graphs only: the whole module takes seconds.
"""

from __future__ import annotations

from gnnrec_utils import graph as G

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.unit

EIG_TOL = 1e-10


# --------------------------------------------------------------------------------------------
# Small random graphs and the dense reference, written straight from the formulas
# --------------------------------------------------------------------------------------------


def random_graph(seed, n=14, p=0.3, n_isolated=0, n_loops=0, weighted=True):
    """Symmetric non-negative adjacency with some isolated nodes and some self-loops."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 2.0, (n, n)) if weighted else np.ones((n, n))
    upper = np.triu((rng.random((n, n)) < p) * weights, k=1)
    A = upper + upper.T
    nodes = rng.permutation(n)
    isolated, looped = nodes[:n_isolated], nodes[n_isolated : n_isolated + n_loops]
    A[isolated, :] = 0.0
    A[:, isolated] = 0.0
    A[looped, looped] = rng.uniform(0.5, 2.0, len(looped))
    return A


def random_bipartite(seed, n_users=7, n_items=9, p=0.35):
    rng = np.random.default_rng(seed)
    R = (rng.random((n_users, n_items)) < p).astype(float)
    R[0, :] = 0.0  # a user without interactions
    R[:, 1] = 0.0  # an item without interactions
    return R


def dense_reference(A, kind, w=0.0, loop_mode="add"):
    """D~^-1/2 A~ D~^-1/2 / D~^-1 A~ / A~ in dense NumPy, A~ = A + wI or diag set to w."""
    A = np.array(A, dtype=float)
    if w > 0:
        if loop_mode == "set":
            np.fill_diagonal(A, 0.0)
        A = A + w * np.eye(len(A))
    if kind == "none":
        return A
    d = A.sum(axis=1)
    safe = np.where(d > 0, d, 1.0)
    if kind == "symmetric":
        s = np.where(d > 0, 1.0 / np.sqrt(safe), 0.0)
        return s[:, None] * A * s[None, :]
    return np.where(d > 0, 1.0 / safe, 0.0)[:, None] * A


GRAPHS = {
    "plain": dict(seed=1),
    "isolated": dict(seed=2, n_isolated=3),
    "self_loops": dict(seed=3, n_loops=4),
    "isolated+loops": dict(seed=4, n_isolated=2, n_loops=3),
    "unweighted": dict(seed=5, weighted=False),
}


def eigenvalues(M):
    return np.linalg.eigvalsh(M.toarray() if sp.issparse(M) else M)


# --------------------------------------------------------------------------------------------
# interaction_matrix, bipartite_adjacency, degrees
# --------------------------------------------------------------------------------------------


def test_interaction_matrix_values_and_shape():
    R = G.interaction_matrix([2, 0, 1], [3, 1, 0], n_users=4, n_items=5, values=[5, 4, 3])
    assert isinstance(R, sp.csr_matrix)
    assert R.shape == (4, 5) and R.dtype == np.float64
    expected = np.zeros((4, 5))
    expected[[2, 0, 1], [3, 1, 0]] = [5, 4, 3]
    np.testing.assert_array_equal(R.toarray(), expected)
    assert R.has_sorted_indices


def test_interaction_matrix_implicit_ones_and_empty():
    R = G.interaction_matrix(np.array([0, 1]), np.array([1, 1]), 2, 3)
    np.testing.assert_array_equal(R.toarray(), [[0, 1, 0], [0, 1, 0]])
    assert G.interaction_matrix([], [], 3, 4).nnz == 0


@pytest.mark.parametrize(
    "users, items, match",
    [
        ([0, 1, 0], [2, 2, 2], "duplicate"),
        ([0, 3], [0, 0], "users must lie in"),
        ([0, -1], [0, 0], "users must lie in"),
        ([0, 1], [0, 4], "items must lie in"),
        ([0, 1], [0], "differ in length"),
        ([0.5, 1], [0, 1], "integer"),
    ],
)
def test_interaction_matrix_errors(users, items, match):
    with pytest.raises(ValueError, match=match):
        G.interaction_matrix(users, items, n_users=3, n_items=4)


def test_interaction_matrix_values_length_checked():
    with pytest.raises(ValueError, match="values"):
        G.interaction_matrix([0, 1], [0, 1], 2, 2, values=[1.0])


def test_interaction_matrix_collapse_is_the_binary_indicator():
    R = G.interaction_matrix([0, 1, 0, 2], [2, 0, 2, 1], 3, 4, duplicates="collapse")
    want = np.zeros((3, 4))
    want[[0, 1, 2], [2, 0, 1]] = 1.0
    assert R.dtype == np.float64 and R.has_sorted_indices and R.nnz == 3
    np.testing.assert_array_equal(R.toarray(), want)
    with pytest.raises(ValueError, match="values=None"):
        G.interaction_matrix([0], [0], 1, 1, values=[2.0], duplicates="collapse")
    with pytest.raises(ValueError, match="duplicates must be"):
        G.interaction_matrix([0], [0], 1, 1, duplicates="sum")


def test_interaction_union_of_pairs():
    a = (np.array([0, 1]), np.array([0, 1]))
    b = (np.array([1, 2]), np.array([1, 3]))
    U = G.interaction_union([a, b], 3, 4)
    want = np.zeros((3, 4))
    want[[0, 1, 2], [0, 1, 3]] = 1.0
    np.testing.assert_array_equal(U.toarray(), want)
    assert G.interaction_union([], 3, 4).nnz == 0 and G.interaction_union([], 3, 4).shape == (3, 4)
    with pytest.raises(ValueError, match="pair 1"):
        G.interaction_union([a, ([0, 1], [0])], 3, 4)


def test_bipartite_adjacency_blocks():
    R = random_bipartite(0)
    n_users, n_items = R.shape
    A = G.bipartite_adjacency(sp.csr_matrix(R))
    assert isinstance(A, sp.csr_matrix)
    assert A.shape == (n_users + n_items,) * 2
    D = A.toarray()
    np.testing.assert_array_equal(D[:n_users, :n_users], 0)
    np.testing.assert_array_equal(D[n_users:, n_users:], 0)
    np.testing.assert_array_equal(D[:n_users, n_users:], R)
    np.testing.assert_array_equal(D[n_users:, :n_users], R.T)
    np.testing.assert_array_equal(G.bipartite_adjacency(R).toarray(), D)  # dense input
    assert G.bipartite_adjacency(np.zeros((0, 3))).shape == (3, 3)


def test_degrees_are_row_sums():
    R = random_bipartite(1)
    A = G.bipartite_adjacency(R)
    d = G.degrees(A)
    assert d.dtype == np.float64 and d.shape == (sum(R.shape),)
    np.testing.assert_array_equal(d, np.concatenate([R.sum(1), R.sum(0)]))
    np.testing.assert_array_equal(G.degrees(A.toarray()), d)


# --------------------------------------------------------------------------------------------
# normalized_adjacency against the dense formula
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("kind", G.NORMALIZATIONS)
@pytest.mark.parametrize(
    "self_loops, loop_mode", [(False, "add"), (True, "add"), (True, "set"), (0.5, "add")]
)
def test_normalized_adjacency_matches_dense_formula(graph, kind, self_loops, loop_mode):
    A = random_graph(**GRAPHS[graph])
    got = G.normalized_adjacency(sp.csr_matrix(A), kind, self_loops, loop_mode)
    assert isinstance(got, sp.csr_matrix) and got.dtype == np.float64
    expected = dense_reference(A, kind, float(self_loops), loop_mode)
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-12, atol=1e-15)
    assert np.isfinite(got.data).all()
    # dense input gives the same result
    dense_in = G.normalized_adjacency(A, kind, self_loops, loop_mode)
    np.testing.assert_array_equal(dense_in.toarray(), got.toarray())


def test_existing_self_loops_add_versus_set():
    A = random_graph(seed=3, n_loops=4)
    diag = np.diag(A).copy()
    added = G.normalized_adjacency(A, "none", self_loops=True, loop_mode="add")
    set_ = G.normalized_adjacency(A, "none", self_loops=True, loop_mode="set")
    np.testing.assert_array_equal(added.diagonal(), diag + 1.0)
    np.testing.assert_array_equal(set_.diagonal(), np.ones(len(A)))
    kept = G.normalized_adjacency(A, "none")
    np.testing.assert_array_equal(kept.diagonal(), diag)


def test_isolated_nodes_get_zero_rows_and_columns():
    A = random_graph(seed=2, n_isolated=3)
    isolated = np.flatnonzero(A.sum(1) == 0)
    assert len(isolated) == 3
    for kind in ("symmetric", "row"):
        M = G.normalized_adjacency(A, kind).toarray()
        assert np.isfinite(M).all()
        np.testing.assert_array_equal(M[isolated], 0.0)
        np.testing.assert_array_equal(M[:, isolated], 0.0)


def test_row_normalised_rows_sum_to_one_or_zero():
    A = random_graph(seed=4, n_isolated=2, n_loops=3)
    sums = np.asarray(G.normalized_adjacency(A, "row").sum(1)).ravel()
    expected = np.where(A.sum(1) > 0, 1.0, 0.0)
    np.testing.assert_allclose(sums, expected, atol=1e-12)
    with_loops = np.asarray(G.normalized_adjacency(A, "row", self_loops=True).sum(1)).ravel()
    np.testing.assert_allclose(with_loops, 1.0, atol=1e-12)


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_symmetric_operators_are_exactly_symmetric(graph):
    A = random_graph(**GRAPHS[graph])
    for M in (G.lightgcn_operator(A), G.gcn_operator(A)):
        assert abs(M - M.T).max() == 0.0


@pytest.mark.parametrize("graph", list(GRAPHS))
def test_spectra(graph):
    A = random_graph(**GRAPHS[graph])
    lam = eigenvalues(G.lightgcn_operator(A))
    assert lam.min() >= -1 - EIG_TOL and lam.max() <= 1 + EIG_TOL
    lam_gcn = eigenvalues(G.gcn_operator(A))
    assert lam_gcn.min() > -1 + 1e-9, "renormalised GCN operator must stay away from -1"
    assert lam_gcn.max() <= 1 + EIG_TOL
    np.testing.assert_allclose(lam_gcn.max(), 1.0, atol=1e-10)  # eigenvector D~^1/2 1
    shifted = eigenvalues(np.eye(len(A)) + G.lightgcn_operator(A).toarray())
    assert shifted.min() >= -EIG_TOL and shifted.max() <= 2 + EIG_TOL


def test_bipartite_lightgcn_spectrum_reaches_both_ends():
    A = G.bipartite_adjacency(random_bipartite(2))
    lam = eigenvalues(G.lightgcn_operator(A))
    np.testing.assert_allclose([lam.min(), lam.max()], [-1.0, 1.0], atol=1e-10)


def test_operators_are_the_documented_shorthands():
    A = random_graph(seed=3, n_loops=4)
    np.testing.assert_array_equal(
        G.gcn_operator(A).toarray(),
        G.normalized_adjacency(A, "symmetric", self_loops=True, loop_mode="add").toarray(),
    )
    np.testing.assert_array_equal(
        G.lightgcn_operator(A).toarray(), G.normalized_adjacency(A, "symmetric").toarray()
    )


def test_agrees_with_spektral():
    convolution = pytest.importorskip("spektral.utils.convolution")
    A = sp.csr_matrix(random_graph(seed=4, n_isolated=2, n_loops=3))
    np.testing.assert_allclose(
        G.gcn_operator(A).toarray(), convolution.gcn_filter(A.copy()).toarray(), rtol=1e-12
    )
    np.testing.assert_allclose(
        G.lightgcn_operator(A).toarray(),
        convolution.normalized_adjacency(A.copy()).toarray(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        G.normalized_adjacency(A, "row").toarray(),
        convolution.normalized_adjacency(A.copy(), symmetric=False).toarray(),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(A=np.ones((2, 3))), ValueError, "square"),
        (dict(A=np.eye(2), kind="laplacian"), ValueError, "kind"),
        (dict(A=np.eye(2), self_loops=True, loop_mode="replace"), ValueError, "loop_mode"),
        (dict(A=np.eye(2), self_loops=-1.0), ValueError, "self_loops"),
        (dict(A=np.eye(2), self_loops="add"), TypeError, "loop_mode"),
        (dict(A=-np.eye(2)), ValueError, "negative"),
    ],
)
def test_normalized_adjacency_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        G.normalized_adjacency(**kwargs)


# --------------------------------------------------------------------------------------------
# Synthetic power-law graph, propagate
# --------------------------------------------------------------------------------------------


def test_powerlaw_bipartite_edges():
    kw = dict(min_user_degree=5, max_user_degree=40, rng=7)
    users, items = G.powerlaw_bipartite_edges(60, 80, 1000, **kw)
    assert users.shape == items.shape == (1000,)
    deg = np.bincount(users, minlength=60)
    assert deg.min() >= 5 and deg.max() <= 40 and deg.sum() == 1000
    R = G.interaction_matrix(users, items, 60, 80)  # raises on duplicates
    assert R.nnz == 1000
    again = G.powerlaw_bipartite_edges(60, 80, 1000, **kw)
    np.testing.assert_array_equal(np.stack(again), np.stack([users, items]))
    with pytest.raises(ValueError, match="impossible"):
        G.powerlaw_bipartite_edges(10, 5, 51)


def test_propagate_numpy():
    A_hat = G.lightgcn_operator(random_graph(seed=1))
    H = np.random.default_rng(0).standard_normal((A_hat.shape[0], 3))
    outs = G.propagate(lambda X: A_hat @ X, H, 3)
    assert len(outs) == 4 and outs[0] is H
    np.testing.assert_allclose(outs[3], A_hat @ (A_hat @ (A_hat @ H)))
    assert G.propagate(lambda X: A_hat @ X, H, 0) == [H]
    with pytest.raises(ValueError, match="n_layers"):
        G.propagate(lambda X: X, H, -1)


def test_import_does_not_load_tensorflow():
    code = "import sys, gnnrec_utils.graph; sys.exit('tensorflow' in sys.modules)"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


# --------------------------------------------------------------------------------------------
# TensorFlow propagation operator
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def operators():
    """A symmetric (LightGCN, with isolated nodes) and a non-symmetric (row) operator."""
    A = G.bipartite_adjacency(random_bipartite(3, n_users=6, n_items=8))
    return {"symmetric": G.lightgcn_operator(A), "row": G.normalized_adjacency(A, "row")}


@pytest.mark.parametrize("kernel", (*G.KERNELS, "auto"))
@pytest.mark.parametrize("which", ["symmetric", "row"])
def test_tf_kernels_agree_with_scipy(tf, kernel, which):
    A_hat = operators()[which]
    op = G.to_tf_operator(A_hat, kernel=kernel)
    assert op.symmetric == (which == "symmetric")
    H = np.random.default_rng(1).standard_normal((A_hat.shape[0], 5)).astype(np.float32)
    expected = G.propagate(lambda X: A_hat @ X.astype(np.float64), H, 3)
    eager = G.propagate(op, tf.constant(H), 3)
    traced = tf.function(lambda X: G.propagate(op, X, 3))(tf.constant(H))
    for got in (eager, traced):
        for k in range(4):
            assert got[k].dtype == tf.float32
            np.testing.assert_allclose(got[k].numpy(), expected[k], atol=1e-5, rtol=1e-5)


def test_auto_kernel_is_csr(tf):
    assert G.to_tf_operator(operators()["symmetric"]).kernel == "csr"


def finite_difference_gradient(f, H, eps=1e-6):
    grad = np.zeros_like(H)
    for idx in np.ndindex(*H.shape):
        step = np.zeros_like(H)
        step[idx] = eps
        grad[idx] = (f(H + step) - f(H - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("kernel", G.KERNELS)
@pytest.mark.parametrize("which", ["symmetric", "row"])
def test_tf_gradient_matches_finite_differences(tf, kernel, which):
    A_hat = operators()[which]
    op = G.to_tf_operator(A_hat, kernel=kernel, dtype="float64")
    rng = np.random.default_rng(2)
    H = rng.standard_normal((A_hat.shape[0], 2))
    C = rng.standard_normal(H.shape)

    def loss(X):  # non-linear in H, mixes all layers like LightGCN
        layers = G.propagate(op, X, 2)
        return tf.reduce_sum(C * tf.sin(tf.add_n(layers)))

    X = tf.Variable(H)
    with tf.GradientTape() as tape:
        value = loss(X)
    analytic = tape.gradient(value, X).numpy()
    numeric = finite_difference_gradient(lambda Y: loss(tf.constant(Y)).numpy(), H)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)

    # the same inside tf.function
    @tf.function
    def traced_grad(Y):
        with tf.GradientTape() as t:
            t.watch(Y)
            v = loss(Y)
        return t.gradient(v, Y)

    np.testing.assert_allclose(traced_grad(tf.constant(H)).numpy(), analytic, rtol=1e-12)


def test_gradient_uses_the_transpose(tf):
    A_hat = operators()["row"]
    op = G.to_tf_operator(A_hat)
    H = tf.constant(np.ones((A_hat.shape[0], 3), np.float32))
    U = np.random.default_rng(3).standard_normal((A_hat.shape[0], 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        tape.watch(H)
        y = op(H)
    grad = tape.gradient(y, H, output_gradients=tf.constant(U)).numpy()
    np.testing.assert_allclose(grad, A_hat.T @ U, atol=1e-5)
    np.testing.assert_allclose(op.T(tf.constant(U)).numpy(), A_hat.T @ U, atol=1e-5)


def test_operator_dtypes_and_shape_checks(tf):
    A_hat = operators()["symmetric"]
    op = G.to_tf_operator(A_hat)  # built for float32, float64 added on demand
    H = np.random.default_rng(4).standard_normal((A_hat.shape[0], 2))
    np.testing.assert_allclose(op(H).numpy(), A_hat @ H, rtol=1e-12)  # float64 array in
    assert op(H.astype(np.float32)).dtype == tf.float32
    with pytest.raises(ValueError, match="rows"):
        op(np.ones((A_hat.shape[0] + 1, 2), np.float32))
    with pytest.raises(ValueError, match="shape"):
        op(np.ones(A_hat.shape[0], np.float32))
    with pytest.raises(ValueError, match="kernel"):
        G.to_tf_operator(A_hat, kernel="coo")
    with pytest.raises(ValueError, match="dense"):
        G.to_tf_operator(sp.identity(2**14 + 1, format="csr"), kernel="dense")


def test_enable_onednn_spmm_respects_explicit_choice(monkeypatch):
    monkeypatch.setenv(G.ONEDNN_SPMM_FLAG, "0")
    assert G.enable_onednn_spmm() is False
    monkeypatch.delenv(G.ONEDNN_SPMM_FLAG)
    assert G.enable_onednn_spmm() is True
    assert os.environ[G.ONEDNN_SPMM_FLAG] == "1"
