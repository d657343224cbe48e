"""gnnrec_utils.closed_form on small synthetic matrices: EASE's closed form against the constrained
ridge regression solved column by column, GF-CF's two filters against dense NumPy versions, the
model interface, and the errors a user can hit."""

from __future__ import annotations

from gnnrec_utils import closed_form as cf

import numpy as np
import pytest

pytestmark = pytest.mark.unit

N_USERS, N_ITEMS = 30, 12


def tiny(seed=0, p=0.3):
    rng = np.random.default_rng(seed)
    R = rng.random((N_USERS, N_ITEMS)) < p
    R[np.arange(N_USERS), rng.integers(0, N_ITEMS - 1, N_USERS)] = True  # every user has one
    R[:, N_ITEMS - 1] = False  # an item nobody has seen
    users, items = np.nonzero(R)
    return R.astype(np.float64), users.astype(np.int64), items.astype(np.int64)


@pytest.mark.parametrize("reg", [0.5, 10.0, 300.0])
def test_ease_equals_ridge_regression_per_column(reg):
    # diag(B) = 0 decouples the problem over columns: column j of B is the ridge regression of
    # item j's column on all other columns, with 0 at row j.
    R, _, _ = tiny()
    B = cf.ease_weights(R, reg)
    for j in range(N_ITEMS):
        others = np.delete(np.arange(N_ITEMS), j)
        X = R[:, others]
        b = np.linalg.solve(X.T @ X + reg * np.eye(N_ITEMS - 1), X.T @ R[:, j])
        assert B[j, j] == 0.0
        np.testing.assert_allclose(B[others, j], b, rtol=1e-9, atol=1e-12)


def test_ease_model_scores_are_R_times_B():
    R, users, items = tiny(1)
    model = cf.EASE(N_USERS, N_ITEMS, reg=5.0).fit(users, items)
    S = model.score_all_users()
    assert S.shape == (N_USERS, N_ITEMS) and S.dtype == np.float32
    np.testing.assert_allclose(S, R @ cf.ease_weights(R, 5.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score_all_users([3, 0]), S[[3, 0]])
    u, i = np.array([0, 5, 5, 29]), np.array([2, 0, 11, 7])
    np.testing.assert_allclose(model.score_pairs(u, i), S[u, i])


def test_ease_rejects_bad_input():
    _, users, items = tiny()
    with pytest.raises(ValueError, match="reg"):
        cf.ease_weights(np.eye(3), 0.0)
    with pytest.raises(ValueError, match="users must lie in"):
        cf.EASE(N_USERS - 5, N_ITEMS).fit(users, items)
    with pytest.raises(ValueError, match="differ in length"):
        cf.EASE(N_USERS, N_ITEMS).fit(users, items).score_pairs([0, 1], [0])


def test_normalized_interactions_matches_dense_formula():
    R, _, _ = tiny(2)
    R_tilde, d_i = cf.normalized_interactions(R)
    d_u = R.sum(1)
    with np.errstate(divide="ignore"):
        s_u = np.where(d_u > 0, d_u**-0.5, 0.0)
        s_i = np.where(R.sum(0) > 0, R.sum(0) ** -0.5, 0.0)
    np.testing.assert_allclose(R_tilde.toarray(), s_u[:, None] * R * s_i[None, :])
    np.testing.assert_array_equal(d_i, R.sum(0))
    assert np.all(R_tilde.toarray()[:, -1] == 0)  # the unseen item stays zero, no NaN


def test_gfcf_linear_filter_alone():
    R, users, items = tiny(3)
    model = cf.GFCF(N_USERS, N_ITEMS, alpha=0.0).fit(users, items)
    R_tilde, _ = cf.normalized_interactions(R)
    P = (R_tilde.T @ R_tilde).toarray()
    np.testing.assert_allclose(model.score_all_users(), R @ P, rtol=1e-5, atol=1e-6)


def test_gfcf_ideal_filter_matches_dense_svd():
    R, users, items = tiny(4)
    k, alpha = 4, 0.7
    model = cf.GFCF(N_USERS, N_ITEMS, alpha=alpha, k=k, seed=0).fit(users, items)
    R_tilde, d_i = cf.normalized_interactions(R)
    _, _, Vt = np.linalg.svd(R_tilde.toarray())
    V = Vt[:k].T  # top-k right singular vectors (the sign of each cancels in V V^T)
    sq = np.sqrt(d_i)
    inv = np.where(sq > 0, 1.0 / np.where(sq > 0, sq, 1.0), 0.0)
    ideal = inv[:, None] * (V @ V.T) * sq[None, :]
    expected = R @ ((R_tilde.T @ R_tilde).toarray() + alpha * ideal)
    np.testing.assert_allclose(model.score_all_users(), expected, rtol=1e-4, atol=1e-5)
    again = cf.GFCF(N_USERS, N_ITEMS, alpha=alpha, k=k, seed=0).fit(users, items)
    np.testing.assert_array_equal(model.score_all_users(), again.score_all_users())


def test_gfcf_rejects_bad_settings():
    _, users, items = tiny()
    with pytest.raises(ValueError, match="alpha"):
        cf.GFCF(N_USERS, N_ITEMS, alpha=-1.0)
    with pytest.raises(ValueError, match="positive integer"):
        cf.GFCF(N_USERS, N_ITEMS, k=0)
    with pytest.raises(ValueError, match="must be <"):
        cf.GFCF(N_USERS, N_ITEMS, k=N_ITEMS).fit(users, items)


def test_cli_registry_uses_the_class_defaults():
    # One setting, one value: the CLI's registry must not drift from the classes' defaults,
    # which notebook 03 chose on validation and notebook 06 uses.
    from gnnrec_utils import recipes

    import inspect

    for name, cls in (("ease", cf.EASE), ("gf-cf", cf.GFCF)):
        params = inspect.signature(cls).parameters
        for key, value in recipes.MODEL_DEFAULTS[name]["model"].items():
            assert params[key].default == value, (name, key)
