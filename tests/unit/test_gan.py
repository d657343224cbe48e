"""gnnrec_utils.gan: shapes, the REINFORCE estimator on a toy problem with a known optimum,
the discriminator on a planted graph, graph generation and graph statistics.

Small seeded synthetic problems only; the whole module takes seconds.
"""

from __future__ import annotations

from gnnrec_utils import gan, models

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------------------------
# Planted graph: two communities of users, each interacting only with its own block of items
# --------------------------------------------------------------------------------------------


def planted_graph(seed=0, n_users=40, n_items=60, per_user=10):
    """Users ``< n_users/2`` pick items ``< n_items/2`` and the others the rest.

    Returns ``(train, held_out_real, fake)``, each ``(users, items)``: ``per_user`` training
    items and 4 held-out items per user from the own block, and 4 items per user from the
    other block (what a poor generator would propose).
    """
    rng = np.random.default_rng(seed)
    half_u, half_i = n_users // 2, n_items // 2
    tr_u, tr_i, ho_u, ho_i, fk_u, fk_i = [], [], [], [], [], []
    for u in range(n_users):
        own = np.arange(half_i) + (0 if u < half_u else half_i)
        other = np.arange(half_i) + (half_i if u < half_u else 0)
        picked = rng.choice(own, per_user + 4, replace=False)
        tr_u += [u] * per_user
        tr_i += picked[:per_user].tolist()
        ho_u += [u] * 4
        ho_i += picked[per_user:].tolist()
        fk_u += [u] * 4
        fk_i += rng.choice(other, 4, replace=False).tolist()
    as_arrays = lambda a, b: (np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    return as_arrays(tr_u, tr_i), as_arrays(ho_u, ho_i), as_arrays(fk_u, fk_i)


def auc_of(pos_scores, neg_scores):
    """Probability that a positive outscores a negative (ties count 1/2)."""
    p = np.asarray(pos_scores)[:, None]
    n = np.asarray(neg_scores)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


# --------------------------------------------------------------------------------------------
# Discriminator and generator: shapes and basic identities
# --------------------------------------------------------------------------------------------


def test_discriminator_shapes_and_probability():
    disc = gan.Discriminator(5, 7, dim=3, seed=0)
    users = np.array([0, 1, 4], dtype=np.int32)
    items = np.array([2, 6, 0], dtype=np.int32)
    assert disc.logits(users, items).shape == (3,)
    assert disc.logits(users, np.zeros((3, 4), np.int32)).shape == (3, 4)
    prob = disc((users, items)).numpy()
    assert prob.shape == (3,) and ((prob > 0) & (prob < 1)).all()
    S = disc.score_all_users()
    assert S.shape == (5, 7) and S.dtype == np.float32
    np.testing.assert_allclose(
        disc.probability(users, items), 1 / (1 + np.exp(-S[users, items])), rtol=1e-5
    )


def test_discriminator_from_model_copies_embeddings():
    bpr = models.BPRMF(6, 8, dim=4, seed=1)
    disc = gan.Discriminator.from_model(bpr)
    np.testing.assert_array_equal(disc.user_embedding.numpy(), bpr.user_embeddings())
    np.testing.assert_array_equal(disc.item_embedding.numpy(), bpr.item_embeddings())
    np.testing.assert_allclose(disc.score_all_users(), bpr.score_all_users(), rtol=1e-6)


def test_generator_policy_is_a_masked_tempered_softmax():
    (tu, ti), _, _ = planted_graph()
    lg = models.lightgcn_from_interactions(tu, ti, 40, 60, dim=8, n_layers=2, seed=0)
    G = gan.PolicyGenerator(lg, temperature=0.5, exclude=(tu, ti))
    P = G.probabilities()
    assert P.shape == (40, 60)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert (P[tu, ti] == 0).all()  # training positives are excluded
    S = lg.score_all_users().astype(np.float64)
    z = np.where(G.mask, -np.inf, S / 0.5)
    ref = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(P, ref / ref.sum(1, keepdims=True), rtol=1e-5, atol=1e-12)
    logp = G.log_probs(np.arange(40, dtype=np.int32)).numpy()
    np.testing.assert_allclose(np.exp(logp), P, atol=1e-5)
    # the temperature spreads or sharpens the policy but leaves the ranking alone
    hot = gan.PolicyGenerator(lg, temperature=5.0, exclude=(tu, ti))
    assert (hot.entropy() > G.entropy()).all()
    np.testing.assert_array_equal(hot.score_all_users(), G.score_all_users())
    draws = G.sample(np.arange(40), np.random.default_rng(0), n_samples=25)
    assert draws.shape == (40, 25) and not G.mask[np.arange(40)[:, None], draws].any()


def test_sample_categorical_frequencies_and_zero_probabilities():
    rng = np.random.default_rng(0)
    probs = np.array([[0.0, 0.2, 0.0, 0.5, 0.3], [1.0, 0.0, 0.0, 0.0, 0.0], [0.25] * 4 + [0.0]])
    rows = np.repeat(np.arange(3), 20_000)
    draws = gan.sample_categorical(probs, rows, rng)
    for r in range(3):
        freq = np.bincount(draws[rows == r], minlength=5) / 20_000
        assert (freq[probs[r] == 0] == 0).all()  # never an impossible item
        np.testing.assert_allclose(freq, probs[r], atol=0.015)  # 3 standard errors is ~0.01


def test_reward_is_minus_log_one_minus_d():
    f = np.array([-30.0, -2.0, 0.0, 3.0, 40.0])
    d = 1 / (1 + np.exp(-f))
    np.testing.assert_allclose(gan.reward_from_logits(f)[1:4], -np.log(1 - d[1:4]), rtol=1e-12)
    assert gan.reward_from_logits(f)[-1] == pytest.approx(40.0)  # no overflow
    np.testing.assert_allclose(
        gan.reward_from_logits(tf.constant(f)).numpy(), gan.reward_from_logits(f), rtol=1e-12
    )


# --------------------------------------------------------------------------------------------
# REINFORCE on a softmax policy over a few arms with fixed rewards: known gradient and optimum
# --------------------------------------------------------------------------------------------

LOGITS = np.array([0.3, -0.2, 0.5, 0.0])
REWARDS = np.array([1.0, 2.0, 0.5, 3.0]) + 10.0  # arm 3 is best; the offset makes r > 0


def _estimates(n_groups, k, baseline, seed):
    """Per-group REINFORCE estimates of dJ/dlogits through the library's surrogate loss."""
    rng = np.random.default_rng(seed)
    pi = np.exp(LOGITS - LOGITS.max())
    pi /= pi.sum()
    actions = gan.sample_categorical(pi[None, :], np.zeros(n_groups * k, np.int64), rng)
    actions = actions.reshape(n_groups, k)
    r = REWARDS[actions]
    b = gan.baseline_values(r, baseline, ema=float(REWARDS.mean()))
    z = tf.Variable(np.tile(LOGITS, (n_groups, 1)))  # one copy per group: per-group gradients
    with tf.GradientTape() as tape:
        logp = tf.gather(tf.nn.log_softmax(z), actions, batch_dims=1)
        loss = gan.policy_gradient_surrogate(logp, r, b) * n_groups  # mean over k per group
    return -tape.gradient(loss, z).numpy()  # (n_groups, n_arms): each row one estimate


def test_exact_policy_gradient_matches_autodiff_and_ignores_a_constant_baseline():
    z = tf.Variable(LOGITS)
    with tf.GradientTape() as tape:
        J = tf.reduce_sum(tf.nn.softmax(z) * REWARDS)
    np.testing.assert_allclose(
        gan.exact_policy_gradient(LOGITS, REWARDS), tape.gradient(J, z), rtol=1e-10
    )
    pi = np.exp(LOGITS) / np.exp(LOGITS).sum()
    for b in (0.0, 5.0, 11.0):  # sum_a pi(a) (r(a) - b) grad log pi(a) does not depend on b
        score = np.eye(4) - pi  # row a: grad_z log pi(a)
        expected = (pi * (REWARDS - b)) @ score
        np.testing.assert_allclose(expected, gan.exact_policy_gradient(LOGITS, REWARDS), atol=1e-12)


@pytest.mark.parametrize("baseline", ["none", "loo", "ema"])
def test_reinforce_estimate_is_unbiased_and_points_to_the_best_arm(baseline):
    exact = gan.exact_policy_gradient(LOGITS, REWARDS)
    est = _estimates(n_groups=4000, k=8, baseline=baseline, seed=1)
    mean = est.mean(axis=0)
    stderr = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0])
    assert (np.abs(mean - exact) < 4 * stderr + 1e-9).all(), (mean, exact, stderr)
    # sign and scale: the best arm gets the largest positive component, as in the exact one
    assert np.argmax(exact) == np.argmax(mean) == np.argmax(REWARDS)
    assert np.dot(mean, exact) / (np.linalg.norm(mean) * np.linalg.norm(exact)) > 0.99


def test_baseline_reduces_variance():
    var = {b: _estimates(4000, 8, b, seed=2).var(axis=0).sum() for b in ("none", "loo", "ema")}
    # With rewards near 11 to 13 the plain estimator's noise is dominated by the offset.
    assert var["loo"] < var["none"] / 20, var
    assert var["ema"] < var["none"] / 5, var


def test_policy_gradient_ascent_converges_to_the_best_arm():
    rng = np.random.default_rng(3)
    z = tf.Variable(np.zeros(4))
    opt = tf.keras.optimizers.SGD(learning_rate=0.05)

    @tf.function
    def step(actions, r):
        with tf.GradientTape() as tape:
            logp = tf.gather(tf.nn.log_softmax(z), actions)
            loss = gan.policy_gradient_surrogate(logp, r, gan.baseline_values(r, "loo"))
        opt.apply_gradients([(tape.gradient(loss, z), z)])

    for _ in range(300):
        pi = tf.nn.softmax(z).numpy()
        a = gan.sample_categorical(pi[None, :], np.zeros(16, np.int64), rng).reshape(1, 16)
        step(tf.constant(a), tf.constant(REWARDS[a]))
    assert tf.nn.softmax(z).numpy()[3] > 0.9


def test_baseline_values_numpy_and_tensorflow_agree():
    r = np.random.default_rng(0).random((5, 6))
    loo = gan.baseline_values(r, "loo")
    np.testing.assert_allclose(loo[2, 3], (r[2].sum() - r[2, 3]) / 5)
    np.testing.assert_allclose(gan.baseline_values(tf.constant(r), "loo").numpy(), loo)
    assert (gan.baseline_values(r, "none") == 0).all()
    assert (gan.baseline_values(r, "ema", ema=0.7) == 0.7).all()
    with pytest.raises(ValueError):
        gan.baseline_values(r[:, :1], "loo")
    with pytest.raises(ValueError):
        gan.baseline_values(r, "mean")


# --------------------------------------------------------------------------------------------
# Discriminator on a planted graph; the adversarial loop end to end
# --------------------------------------------------------------------------------------------


def test_discriminator_separates_planted_real_and_fake_edges():
    (tu, ti), (hu, hi), (fu, fi) = planted_graph(seed=0)
    disc = gan.Discriminator(40, 60, dim=8, seed=0)
    step = gan.discriminator_train_step(disc, tf.keras.optimizers.Adam(0.05), reg=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(150):  # fakes: random items from the other community
        other = np.where(tu < 20, 30, 0) + rng.integers(0, 30, tu.size)
        bce, d_real, d_fake = step(tu.astype(np.int32), ti.astype(np.int32), other.astype(np.int32))
    assert float(d_real) > 0.8 and float(d_fake) < 0.2
    # held-out real edges (never seen) against held-out fake edges
    auc = auc_of(disc.probability(hu, hi), disc.probability(fu, fi))
    assert auc > 0.9, auc


def test_fit_gan_runs_records_history_and_traces_once():
    from gnnrec_utils.metrics import RankingEvaluator

    (tu, ti), (hu, hi), _ = planted_graph(seed=1)
    lg = models.lightgcn_from_interactions(tu, ti, 40, 60, dim=8, n_layers=2, seed=0)
    G = gan.PolicyGenerator(lg, temperature=0.5, exclude=(tu, ti))
    D = gan.Discriminator(40, 60, dim=8, seed=0)
    ev = RankingEvaluator((hu, hi), 40, 60, exclude=[(tu, ti)], ks=(5,))
    h = gan.fit_gan(
        G,
        D,
        tu,
        ti,
        epochs=3,
        n_samples=4,
        g_batch_users=16,
        d_batch_size=64,
        evaluator=ev,
        monitor="ndcg@5",
        top_k=5,
        seed=0,
        progress=False,
    )
    assert h["epoch"] == [0, 1, 2, 3]
    for key in ("d_loss", "d_real", "d_fake", "g_reward", "g_loss", "adv_std", "epoch_seconds"):
        assert len(h[key]) == 3 and np.isfinite(h[key]).all(), key
    for key in ("sampled_distinct_share", "sampled_gini", "top_k_coverage", "entropy"):
        assert len(h[key]) == 4, key
    assert len(h["valid"]["ndcg@5"]) == 4 and len(h["valid_d"]["ndcg@5"]) == 4
    assert h["best_epoch"] in (1, 2, 3)
    np.testing.assert_allclose(h["g_loss"], -np.array(h["g_reward"]))
    assert h["tracing_count"] == 2  # one trace of the D step, one of the G step
    # the restored generator is the best adversarial epoch
    assert ev(G.score_all_users())["ndcg@5"] == pytest.approx(h["best_value"])


# --------------------------------------------------------------------------------------------
# Graph generation and statistics
# --------------------------------------------------------------------------------------------


def test_configuration_model_preserves_degrees_exactly():
    (tu, ti), _, _ = planted_graph(seed=2, per_user=20)
    u, i = gan.configuration_model(tu, ti, 40, 60, rng=0)
    assert u.size == tu.size
    np.testing.assert_array_equal(np.bincount(u, minlength=40), np.bincount(tu, minlength=40))
    np.testing.assert_array_equal(np.bincount(i, minlength=60), np.bincount(ti, minlength=60))
    assert np.unique(u * 60 + i).size == u.size  # a simple graph: no repeated pair
    assert not np.array_equal(np.sort(u * 60 + i), np.sort(tu * 60 + ti))
    u2, i2 = gan.configuration_model(tu, ti, 40, 60, rng=0)
    np.testing.assert_array_equal(i, i2)  # seeded
    # the communities are gone: about half the edges now cross
    cross = ((u < 20) != (i < 30)).mean()
    assert 0.3 < cross < 0.7


def test_ks_statistic():
    rng = np.random.default_rng(0)
    x = rng.poisson(5, 300)
    assert gan.ks_statistic(x, x) == 0.0
    assert gan.ks_statistic(x, rng.permutation(x)) == 0.0
    assert gan.ks_statistic([1, 2, 3], [10, 11]) == 1.0
    y = rng.poisson(6, 200)
    assert gan.ks_statistic(x, y) == scipy.stats.ks_2samp(x, y).statistic
    with pytest.raises(ValueError, match="non-empty"):
        gan.ks_statistic([], [1.0])


def test_ks_statistic_is_the_largest_ecdf_gap():
    """scipy's statistic equals the definition sup_t |F_x(t) - F_y(t)| (the package's former
    hand-written version) up to the last bit of a float64 (round-off of 1 - F: 1.1e-16)."""
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = rng.integers(0, 20, rng.integers(1, 200))  # ties, as in degree sequences
        y = rng.integers(0, 25, rng.integers(1, 200))
        a, b = np.sort(x), np.sort(y)
        t = np.concatenate([a, b])
        gap = np.searchsorted(a, t, "right") / a.size - np.searchsorted(b, t, "right") / b.size
        assert gan.ks_statistic(x, y) == pytest.approx(np.abs(gap).max(), abs=2.3e-16)


def test_sample_graph_keeps_user_degrees_and_respects_exclusion():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 50))
    deg = rng.integers(0, 20, 30)
    ex = np.zeros((30, 50), bool)
    ex[:, :5] = True
    u, i = gan.sample_graph(scores, deg, rng=1, exclude=ex)
    np.testing.assert_array_equal(np.bincount(u, minlength=30), deg)
    assert np.unique(u * 50 + i).size == u.size and (i >= 5).all()
    # very peaked scores: each user takes exactly its top-d items
    u, i = gan.sample_graph(scores, deg, rng=1, temperature=1e-6)
    for user in range(30):
        top = np.argsort(-scores[user])[: deg[user]]
        assert set(i[u == user]) == set(top)
    # equal scores: the uniform random graph, every item about equally often
    u, i = gan.sample_graph(np.zeros((400, 10)), np.full(400, 3), rng=2)
    freq = np.bincount(i, minlength=10) / i.size
    np.testing.assert_allclose(freq, 0.1, atol=0.02)


def test_co_interaction_and_graph_statistics():
    users = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([0, 1, 2, 1, 2, 3])
    overlap, jaccard = gan.co_interaction(users, items, 3, 4)
    np.testing.assert_array_equal(overlap, [2, 0, 0])  # pairs (0,1), (0,2), (1,2)
    np.testing.assert_allclose(jaccard, [2 / 3, 0, 0])
    stats = gan.graph_statistics(
        users, items, 3, 4, reference=(users, items), holdout=(np.array([2]), np.array([3]))
    )
    assert stats["edges"] == 6 and stats["distinct_items"] == 4 and stats["max_item_degree"] == 2
    assert stats["ks_item_degree"] == 0.0 and stats["edge_overlap"] == 1.0
    assert stats["jaccard_corr"] == pytest.approx(1.0)
    assert stats["holdout_hit"] == pytest.approx(1 / 6)


def test_sampled_item_statistics_limits():
    assert gan.sampled_item_statistics(np.zeros(50, int), 10) == {
        "distinct_share": 0.1,
        "gini": pytest.approx(0.9),
    }
    even = gan.sampled_item_statistics(np.arange(100) % 10, 10, np.arange(10))
    assert even["distinct_share"] == 1.0 and even["gini"] == 0.0
    assert even["mean_popularity"] == pytest.approx(4.5)


# --------------------------------------------------------------------------------------------
# One step of each player against a step written out by hand (notebook 05 §4.1 in small)
# --------------------------------------------------------------------------------------------


def _players(seed=0):
    (tu, ti), _, _ = planted_graph(seed=seed)
    lg = models.lightgcn_from_interactions(tu, ti, 40, 60, dim=8, n_layers=2, seed=seed)
    D = gan.Discriminator(40, 60, dim=8, seed=seed)
    D.item_bias.assign(np.random.default_rng(seed).normal(0, 0.5, 60).astype(np.float32))
    return gan.PolicyGenerator(lg, temperature=0.7), D, (tu, ti)


def test_generator_train_step_is_the_reinforce_step_written_out():
    G, D, _ = _players()
    users = np.array([0, 3, 25, 39], dtype=np.int32)
    K, lr = 5, 0.1
    # uniforms in the middle of the CDF interval of items drawn in float64: no boundary ties
    p = G.probabilities(users)
    cdf = np.cumsum(p, axis=1)
    rng = np.random.default_rng(0)
    want_items = np.stack([rng.choice(60, K, p=row) for row in p])
    lo = np.take_along_axis(np.concatenate([np.zeros((4, 1)), cdf], axis=1), want_items, axis=1)
    uniforms = ((lo + np.take_along_axis(cdf, want_items, axis=1)) / 2).astype(np.float32)

    E0 = G.model.embedding.numpy().copy()
    D_before = [v.numpy().copy() for v in D.trainable_variables]
    with tf.GradientTape() as tape:  # the step by hand: surrogate with the leave-one-out baseline
        logp = tf.nn.log_softmax(G.logits(users), axis=-1)  # log p_theta(. | u), masked, / tau
        f = D.logits(users, want_items)
        r = tf.math.softplus(f)
        b = (tf.reduce_sum(r, 1, keepdims=True) - r) / (K - 1)
        loss = -tf.reduce_mean(tf.stop_gradient(r - b) * tf.gather(logp, want_items, batch_dims=1))
    grad = tape.gradient(loss, G.model.embedding).numpy()

    step = gan.generator_train_step(G, D, tf.keras.optimizers.SGD(learning_rate=lr))
    items, got_loss, mean_reward, adv_std = step(users, uniforms, tf.constant(0.0))
    np.testing.assert_array_equal(items.numpy(), want_items)
    assert float(got_loss) == pytest.approx(float(loss), rel=1e-6)
    assert float(mean_reward) == pytest.approx(float(tf.reduce_mean(r)), rel=1e-6)
    assert float(adv_std) == pytest.approx(float(tf.math.reduce_std(r - b)), rel=1e-5)
    np.testing.assert_allclose(G.model.embedding.numpy(), E0 - lr * grad, rtol=0, atol=1e-6)
    assert np.abs(lr * grad).max() > 1e-4  # the step is far larger than the tolerance
    for v, v0 in zip(D.trainable_variables, D_before, strict=True):  # D is not stepped
        np.testing.assert_array_equal(v.numpy(), v0)


def test_discriminator_train_step_is_the_cross_entropy_step_written_out():
    _, D, _ = _players(seed=1)
    users = np.array([0, 1, 2, 30], dtype=np.int32)
    real = np.array([4, 5, 6, 40], dtype=np.int32)
    fake = np.array([50, 51, 7, 8], dtype=np.int32)
    lr, reg = 0.1, 0.01
    before = [v.numpy().copy() for v in D.trainable_variables]
    with tf.GradientTape() as tape:
        f_real, f_fake = D.logits(users, real), D.logits(users, fake)
        bce = -tf.reduce_mean(tf.math.log(tf.sigmoid(f_real))) - tf.reduce_mean(
            tf.math.log(1 - tf.sigmoid(f_fake))
        )
        loss = bce + reg * D.l2(users, [real, fake]) / 4
    grads = tape.gradient(loss, D.trainable_variables)
    step = gan.discriminator_train_step(D, tf.keras.optimizers.SGD(learning_rate=lr), reg=reg)
    got_bce, d_real, d_fake = step(users, real, fake)
    assert float(got_bce) == pytest.approx(float(bce), rel=1e-5)
    assert float(d_real) == pytest.approx(float(tf.reduce_mean(tf.sigmoid(f_real))), rel=1e-6)
    assert float(d_fake) == pytest.approx(float(tf.reduce_mean(tf.sigmoid(f_fake))), rel=1e-6)
    for v, b0, g in zip(D.trainable_variables, before, grads, strict=True):
        g = tf.convert_to_tensor(g).numpy()
        np.testing.assert_allclose(v.numpy(), b0 - lr * g, rtol=0, atol=1e-6)


def test_generator_train_step_rejects_an_unknown_baseline():
    G, D, _ = _players()
    with pytest.raises(ValueError, match="baseline must be one of"):
        gan.generator_train_step(G, D, tf.keras.optimizers.SGD(0.1), baseline="mean")


def test_gan_recipe_configures_the_generator_and_fit_gan():
    from gnnrec_utils.recipes import MODEL_DEFAULTS

    d = MODEL_DEFAULTS["gan"]
    assert set(d) == {"model", "fit", "players"}
    assert d["fit"]["baseline"] in gan.BASELINES and d["fit"]["epochs"] >= 1
    G, D, (tu, ti) = _players()
    G = gan.PolicyGenerator(
        G.model,
        temperature=d["model"]["temperature"],
        exclude=(tu, ti) if d["model"]["exclude_train"] else None,
    )
    h = gan.fit_gan(
        G,
        D,
        tu,
        ti,
        epochs=1,
        g_batch_users=16,
        d_batch_size=64,
        seed=0,
        progress=False,
        **{k: v for k, v in d["fit"].items() if k != "epochs"},
    )
    assert h["params"]["temperature"] == d["model"]["temperature"]
    fit = {k: v for k, v in d["fit"].items() if k != "epochs"}
    assert {k: h["params"][k] for k in fit} == fit
