"""gnnrec_utils.node_classification and node_gnn on small synthetic graphs (seconds, no real data).

The central test plants classes in a bipartite stochastic block model: users of class c
interact mostly with items of class c, and the node features are pure noise. A GCN must then
classify the items almost perfectly from the graph, while logistic regression on the features
must stay near chance.
"""

from __future__ import annotations

from gnnrec_utils import graph
from gnnrec_utils import node_classification as nc
from gnnrec_utils import node_gnn as ng

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, f1_score

pytestmark = pytest.mark.unit

N_CLASSES = 3
PER_CLASS = 40  # users and items per class
# Noise features carry no class information for a node on its own; but items of one class
# share their users, so the *average* of their neighbours' noise is similar within a class
# and differs between classes -- that is what the GCN picks up. With 16 random dimensions
# these class averages are far apart (with 4 they are not always).
NOISE_DIM = 16


def _sbm_task(seed: int = 0, p_in: float = 0.25, p_out: float = 0.01) -> nc.NodeTask:
    """Bipartite SBM: 120 users and 120 items in 3 planted classes, Gaussian noise features."""
    rng = np.random.default_rng(seed)
    cls_u = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    cls_i = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    prob = np.where(cls_u[:, None] == cls_i[None, :], p_in, p_out)
    users, items = np.nonzero(rng.random(prob.shape) < prob)
    n_users = n_items = N_CLASSES * PER_CLASS
    A = nc.user_item_adjacency(users, items, n_users, n_items)
    return nc.build_node_task(
        "sbm items",
        "multiclass",
        A,
        n_users,
        "item",
        cls_i,
        ("a", "b", "c"),
        rng.normal(size=(n_users, NOISE_DIM)),
        [f"u{k}" for k in range(NOISE_DIM)],
        rng.normal(size=(n_items, NOISE_DIM)),
        [f"i{k}" for k in range(NOISE_DIM)],
    )


@pytest.fixture(scope="module")
def sbm():
    return _sbm_task()


@pytest.fixture(scope="module")
def sbm_split(sbm):
    return nc.scarcity_splits(sbm, [0.2], seed=0)[0.2]


# --- the planted-class acceptance test -------------------------------------------------


def test_gcn_recovers_planted_classes_and_features_alone_cannot(sbm, sbm_split):
    gcn = ng.GNNMethod("gcn", hidden=16, learning_rate=0.05, max_epochs=100, patience=20)
    gcn_acc = nc.node_metrics(sbm, gcn(sbm, sbm_split, 0), sbm_split.test)["accuracy"]
    lr_acc = nc.node_metrics(sbm, nc.logistic_regression_scores(sbm, sbm_split), sbm_split.test)
    lp_acc = nc.node_metrics(sbm, nc.label_propagation_scores(sbm, sbm_split), sbm_split.test)
    majority = nc.node_metrics(sbm, nc.majority_scores(sbm, sbm_split), sbm_split.test)
    assert gcn_acc >= 0.95, gcn_acc
    assert lr_acc["accuracy"] <= 0.6, lr_acc  # chance is 1/3: noise features carry nothing
    assert lp_acc["accuracy"] >= 0.95, lp_acc  # the graph alone suffices
    assert majority["accuracy"] <= 0.5
    assert gcn.last[sbm.name].best_epoch >= 1


def test_sage_and_featureless_gcn_also_recover_the_classes(sbm, sbm_split):
    X, names = nc.structural_features(sbm.adjacency, sbm.n_users, "identity")
    featureless = sbm.with_features(X, names)
    gcn = ng.GNNMethod("gcn", hidden=16, learning_rate=0.05, max_epochs=100, patience=20)
    acc = nc.node_metrics(featureless, gcn(featureless, sbm_split, 0), sbm_split.test)
    assert acc["accuracy"] >= 0.9, acc
    sage = ng.GNNMethod("sage", hidden=16, learning_rate=0.05, max_epochs=100, patience=20)
    acc = nc.node_metrics(sbm, sage(sbm, sbm_split, 0), sbm_split.test)
    assert acc["accuracy"] >= 0.9, acc


def test_mlp_on_noise_features_stays_near_chance(sbm, sbm_split):
    mlp = ng.GNNMethod("mlp", hidden=16, learning_rate=0.05, max_epochs=100, patience=20)
    acc = nc.node_metrics(sbm, mlp(sbm, sbm_split, 0), sbm_split.test)["accuracy"]
    assert acc <= 0.6


def test_training_is_reproducible_and_restores_the_best_epoch(sbm, sbm_split):
    gcn = ng.GNNMethod("gcn", hidden=8, learning_rate=0.05, max_epochs=30, patience=5)
    first = gcn(sbm, sbm_split, 7)
    gcn(sbm, sbm_split, 8)  # another fit in between must not change the next one
    again = gcn(sbm, sbm_split, 7)
    np.testing.assert_array_equal(first, again)
    result = gcn.last[sbm.name]
    hist = result.history
    assert result.best_epoch == int(hist["valid_loss"].idxmin())
    assert len(hist) == result.epochs <= 30
    np.testing.assert_allclose(gcn.trainer(sbm).predict(), again, atol=1e-6)
    np.testing.assert_allclose(again.sum(axis=1), 1.0, atol=1e-5)  # softmax rows


# --- masked loss against plain NumPy ---------------------------------------------------


def _np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_masked_cross_entropy_matches_numpy_reference():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(10, 4))
    Y = np.eye(4)[rng.integers(0, 4, 10)]
    mask = np.zeros(10, bool)
    mask[[1, 4, 5, 8]] = True
    ref = -(Y * _np_log_softmax(logits)).sum(axis=1)[mask].mean()
    got = float(ng.masked_cross_entropy(Y, logits, mask, "multiclass"))
    assert got == pytest.approx(ref, rel=1e-6)

    Yml = (rng.random((10, 4)) < 0.3).astype(float)
    p = 1 / (1 + np.exp(-logits))
    ref = -(Yml * np.log(p) + (1 - Yml) * np.log(1 - p)).sum(axis=1)[mask].mean()
    got = float(ng.masked_cross_entropy(Yml, logits, mask, "multilabel"))
    assert got == pytest.approx(ref, rel=1e-6)
    assert float(ng.masked_cross_entropy(Y, logits, np.zeros(10), "multiclass")) == 0.0


def test_masked_cross_entropy_gives_no_gradient_to_unlabelled_nodes():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    logits = tf.Variable(rng.normal(size=(6, 3)))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    mask = np.array([1, 0, 1, 0, 0, 1], float)
    with tf.GradientTape() as tape:
        loss = ng.masked_cross_entropy(Y, logits, mask, "multiclass")
    grad = tape.gradient(loss, logits).numpy()
    assert np.all(grad[mask == 0] == 0) and np.all(np.abs(grad[mask == 1]).sum(axis=1) > 0)
    # d/dz of mean CE is (softmax(z) - y) / |M| on the labelled rows
    soft = np.exp(_np_log_softmax(logits.numpy()))
    np.testing.assert_allclose(grad[mask == 1], (soft - Y)[mask == 1] / 3, atol=1e-6)


# --- metrics against scikit-learn and their limits --------------------------------------


def test_accuracy_and_f1_match_sklearn_with_masks():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, 5, 200))
    mask = rng.random(200) < 0.5
    assert nc.accuracy(y, pred, mask) == pytest.approx(np.mean(y[mask] == pred[mask]))
    assert nc.accuracy(y, pred, np.flatnonzero(mask)) == nc.accuracy(y, pred, mask)
    f1 = nc.f1_scores(y, pred, mask, n_classes=5)
    assert f1["macro_f1"] == pytest.approx(f1_score(y[mask], pred[mask], average="macro"))
    assert f1["micro_f1"] == pytest.approx(nc.accuracy(y, pred, mask))  # multiclass identity

    T = rng.random((100, 6)) < 0.3
    P = np.where(rng.random((100, 6)) < 0.7, T, ~T)
    T[:, 5] = P[:, 5] = False  # a label absent from truth and prediction is left out
    f1 = nc.f1_scores(T, P)
    present = [0, 1, 2, 3, 4]
    assert f1["micro_f1"] == pytest.approx(f1_score(T, P, average="micro"))
    assert f1["macro_f1"] == pytest.approx(f1_score(T, P, average="macro", labels=present))


def test_f1_limits():
    y = np.array([0, 1, 2, 2, 1])
    assert nc.f1_scores(y, y, n_classes=3) == {"micro_f1": 1.0, "macro_f1": 1.0}
    assert nc.f1_scores(y, (y + 1) % 3, n_classes=3) == {"micro_f1": 0.0, "macro_f1": 0.0}
    assert np.isnan(nc.accuracy(y, y, np.zeros(5, bool)))


def test_average_precision_matches_sklearn_including_ties():
    rng = np.random.default_rng(4)
    y = rng.random(300) < 0.2
    scores = np.round(rng.random(300) + 0.5 * y, 1)  # many ties
    assert nc.average_precision(y, scores) == pytest.approx(average_precision_score(y, scores))
    assert nc.average_precision(y, y.astype(float)) == 1.0  # perfect ranking
    assert nc.average_precision(y, np.ones(300)) == pytest.approx(y.mean())  # constant score
    assert np.isnan(nc.average_precision(np.zeros(5), np.arange(5)))

    Y = rng.random((80, 4)) < 0.3
    Y[:, 3] = False
    S = rng.random((80, 4)) + Y
    mask = np.arange(80) % 2 == 0
    ref = np.mean([average_precision_score(Y[mask, c], S[mask, c]) for c in range(3)])
    assert nc.mean_average_precision(Y, S, mask) == pytest.approx(ref)


def test_predict_labels_rules():
    S = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(nc.predict_labels(S, "multiclass"), [1, 0])
    M = np.array([[0.2, 0.4, 0.1], [0.6, 0.9, 0.1]])
    np.testing.assert_array_equal(
        nc.predict_labels(M, "multilabel"), [[False, True, False], [True, True, False]]
    )  # first row: nothing >= 0.5, so its single most likely label


# --- tasks, features, splits -------------------------------------------------------------


def test_block_features_pad_each_type_with_zeros():
    X, names = nc.block_features(np.ones((2, 3)), 2 * np.ones((4, 1)), list("abc"), ["y"])
    assert X.shape == (6, 3 + 1 + 2) and X.dtype == np.float32
    assert names[-2:] == ("node=user", "node=item") and names[0] == "user:a"
    np.testing.assert_array_equal(X[:2, 3], 0)  # users have no item columns
    np.testing.assert_array_equal(X[2:, :3], 0)  # items have no user columns
    np.testing.assert_array_equal(X[:, 4:], np.r_[[[1, 0]] * 2, [[0, 1]] * 4])


def test_structural_features():
    A = nc.user_item_adjacency([0, 0, 1], [0, 1, 1], 2, 3)
    X, _ = nc.structural_features(A, 2, "degree")
    deg = graph.degrees(A)
    np.testing.assert_allclose(X[:, 0], np.log1p(deg) / np.log1p(deg).max(), rtol=1e-6)
    assert X[:, 1].tolist() == [1, 1, 0, 0, 0]
    eye, names = nc.structural_features(A, 2, "identity")
    assert sp.issparse(eye) and (eye != sp.identity(5)).nnz == 0 and len(names) == 5
    with pytest.raises(ValueError):
        nc.structural_features(A, 2, "other")


def test_build_node_task_refuses_leaking_features():
    A = nc.user_item_adjacency([0, 1, 2, 3], [0, 1, 0, 1], 4, 2)
    gender = np.array([0, 1, 1, 0])
    feats = np.c_[gender, [0.1, 0.2, 0.3, 0.4]]
    args = ("g", "multiclass", A, 4, "user", gender, ("M", "F"), feats, ["gender=F", "age"])
    items = (np.ones((2, 1)), ["year"])
    with pytest.raises(ValueError, match="leakage"):
        nc.build_node_task(*args, *items)
    with pytest.raises(ValueError, match="unknown"):
        nc.build_node_task(*args, *items, drop=["gendr=F"])
    task = nc.build_node_task(*args, *items, drop=["gender=F"])
    assert "user:gender=F" not in task.feature_names and "user:age" in task.feature_names
    assert task.targets().shape == (6, 2) and task.targets()[4:].sum() == 0  # items: no label
    np.testing.assert_array_equal(task.node_labels([3, 1]), [0, 1])


def test_scarcity_splits_are_nested_disjoint_and_stratified(sbm):
    fr = [0.01, 0.05, 0.2, 0.6]
    splits = nc.scarcity_splits(sbm, fr, seed=3)
    n = sbm.nodes.size
    prev = set()
    for f in fr:
        s = splits[f]
        tr, va, te = set(s.train), set(s.valid), set(s.test)
        assert not (tr & va) and not (tr & te) and not (va & te)
        assert tr | va | te <= set(sbm.nodes)
        assert len(tr) == min(max(1, round(f * n)), n - len(va) - len(te))
        assert prev <= tr  # nested
        prev = tr
        np.testing.assert_array_equal(s.valid, splits[0.01].valid)
        np.testing.assert_array_equal(s.test, splits[0.01].test)
    assert len(splits[0.6].train) + len(splits[0.6].valid) + len(splits[0.6].test) == n
    counts = np.bincount(sbm.node_labels(splits[0.2].train), minlength=N_CLASSES)
    assert counts.max() - counts.min() <= 1  # 24 training nodes: 8 per class
    again = nc.scarcity_splits(sbm, fr, seed=3)
    assert all(np.array_equal(again[f].train, splits[f].train) for f in fr)
    other = nc.scarcity_splits(sbm, fr, seed=4)
    assert not np.array_equal(other[0.2].test, splits[0.2].test)
    with pytest.raises(ValueError):
        nc.scarcity_splits(sbm, [0.7], seed=0)


# --- label propagation --------------------------------------------------------------------


def test_label_propagation_converges_to_the_closed_form():
    rng = np.random.default_rng(5)
    R = (rng.random((8, 6)) < 0.4).astype(float)
    A = graph.bipartite_adjacency(R)
    S = graph.normalized_adjacency(A, "symmetric")
    Y0 = np.zeros((14, 2))
    Y0[[0, 9], 0] = 1
    Y0[[3], 1] = 1
    alpha = 0.8
    F, iterations = nc.label_propagation(S, Y0, alpha=alpha, tol=1e-12)
    closed = (1 - alpha) * np.linalg.solve(np.eye(14) - alpha * S.toarray(), Y0)
    np.testing.assert_allclose(F, closed, atol=1e-9)
    assert 1 < iterations < 1000
    with pytest.raises(ValueError):
        nc.label_propagation(S, Y0, alpha=1.0)


def test_gcn_classifier_is_the_two_layer_formula():
    import tensorflow as tf

    rng = np.random.default_rng(7)
    A = graph.bipartite_adjacency((rng.random((6, 4)) < 0.5).astype(float))
    a_hat = graph.gcn_operator(A).toarray()
    X = rng.normal(size=(10, 3)).astype(np.float32)
    model = ng.GCNClassifier(graph.to_tf_operator(graph.gcn_operator(A)), 2, hidden=5)
    logits = model(tf.constant(X)).numpy()
    W0, b0, W1, b1 = model.get_weights()
    ref = a_hat @ np.maximum(a_hat @ X @ W0 + b0, 0) @ W1 + b1
    np.testing.assert_allclose(logits, ref, atol=1e-5)
    mlp = ng.GCNClassifier(None, 2, hidden=5)  # no graph: the MLP
    logits = mlp(tf.constant(X)).numpy()
    W0, b0, W1, b1 = mlp.get_weights()
    np.testing.assert_allclose(logits, np.maximum(X @ W0 + b0, 0) @ W1 + b1, atol=1e-5)


# --- experiment runner and summaries -------------------------------------------------------


def test_run_experiment_and_summarise(sbm):
    methods = {"majority": nc.majority_scores, "LP": nc.label_propagation_scores}
    res = nc.run_experiment([sbm], methods, [0.05, 0.2], seeds=[0, 1], progress=False)
    assert len(res) == 2 * 2 * 2
    assert set(res.columns) >= {"task", "method", "fraction", "seed", "accuracy", "seconds"}
    summary = nc.summarise(res)
    assert summary.loc[("sbm items", "LP", 0.2), ("accuracy", "n")] == 2
    lp = res[(res.method == "LP") & (res.fraction == 0.2)].accuracy
    assert summary.loc[("sbm items", "LP", 0.2), ("accuracy", "mean")] == pytest.approx(lp.mean())
    assert summary.loc[("sbm items", "LP", 0.2), ("accuracy", "std")] == pytest.approx(lp.std())


def test_metric_by_degree_and_node_metrics_multilabel():
    rng = np.random.default_rng(8)
    users, items = np.nonzero(rng.random((5, 8)) < 0.5)
    A = nc.user_item_adjacency(users, items, 5, 8)
    Y = (rng.random((8, 3)) < 0.4).astype(int)
    Y[Y.sum(axis=1) == 0, 0] = 1
    task = nc.build_node_task(
        "ml", "multilabel", A, 5, "item", Y, list("xyz"), np.ones((5, 1)), ["u"],
        np.ones((8, 1)), ["i"],
    )  # fmt: skip
    perfect = task.targets().astype(float)
    m = nc.node_metrics(task, perfect, task.nodes)
    assert m == {"micro_f1": 1.0, "macro_f1": 1.0, "map": 1.0}
    table = nc.metric_by_degree(task, {"perfect": perfect}, task.nodes, [0, 2, np.inf])
    assert table["nodes"].sum() == 8 and (table["perfect"].dropna() == 1.0).all()


# --- threshold-free and balance-aware metrics (the gender audit of notebook 04) ------------


def test_balanced_accuracy_and_roc_auc_match_sklearn_and_their_limits():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(9)
    y = (rng.random(300) < 0.29).astype(int)  # 71/29, like gender
    p1 = np.clip(0.3 + 0.3 * (y - 0.29) + rng.normal(scale=0.25, size=300), 0, 1)
    S = np.c_[1 - p1, p1]
    mask = rng.random(300) < 0.6
    pred = S.argmax(axis=1)
    assert nc.balanced_accuracy(y, pred, mask) == pytest.approx(
        balanced_accuracy_score(y[mask], pred[mask])
    )
    assert nc.roc_auc(y, S, mask) == pytest.approx(roc_auc_score(y[mask], p1[mask]))
    # the majority vote: accuracy = share of the majority, balanced accuracy 1/2, AUC 1/2
    majority = np.tile([0.71, 0.29], (300, 1))
    assert nc.accuracy(y, majority.argmax(1)) == pytest.approx(np.mean(y == 0))
    assert nc.balanced_accuracy(y, majority.argmax(1)) == 0.5
    assert nc.roc_auc(y, majority) == 0.5
    # a perfect ranking with a bad threshold: AUC 1 although accuracy is the majority's
    assert nc.roc_auc(y, np.c_[1 - 0.1 * y, 0.1 * y]) == 1.0
    assert np.isnan(nc.roc_auc(np.zeros(5, int), np.ones((5, 2))))  # one class only

    y7 = rng.integers(0, 7, 400)
    S7 = rng.dirichlet(np.ones(7), 400) + 0.3 * np.eye(7)[y7]
    S7 /= S7.sum(axis=1, keepdims=True)
    assert nc.roc_auc(y7, S7) == pytest.approx(roc_auc_score(y7, S7, multi_class="ovr"))
    assert nc.balanced_accuracy(y7, S7.argmax(1)) == pytest.approx(
        balanced_accuracy_score(y7, S7.argmax(1))
    )


def test_node_metrics_multiclass_reports_balance_aware_metrics(sbm, sbm_split):
    m = nc.node_metrics(sbm, nc.majority_scores(sbm, sbm_split), sbm_split.test)
    assert set(m) == {"accuracy", "balanced_accuracy", "roc_auc", "macro_f1"}
    assert m["balanced_accuracy"] == pytest.approx(1 / N_CLASSES) and m["roc_auc"] == 0.5


# --- convergence bookkeeping and the featureless variant ----------------------------------


def test_run_experiment_records_epochs_and_whether_training_converged(sbm):
    capped = ng.GNNMethod("gcn", hidden=8, learning_rate=0.05, max_epochs=3, patience=100)
    methods = {"capped": capped, "majority": nc.majority_scores}
    res = nc.run_experiment([sbm], methods, [0.2], seeds=[0], progress=False).set_index("method")
    assert res.loc["capped", "epochs"] == 3 and not res.loc["capped", "stopped_early"]
    assert np.isnan(res.loc["majority", "epochs"])  # no training, nothing recorded
    early = ng.GNNMethod("gcn", hidden=8, learning_rate=0.05, max_epochs=500, patience=5)
    early(sbm, nc.scarcity_splits(sbm, [0.2], seed=0)[0.2], 0)
    fit = early.last_fit
    assert fit.stopped_early and fit.epochs == fit.best_epoch + 5 < 500


def test_run_experiment_hands_each_run_to_on_result_while_its_model_is_held(sbm):
    # notebook 04, section 6 keeps the sweep's seed-42 runs instead of training them again
    gcn = ng.GNNMethod("gcn", hidden=8, learning_rate=0.05, max_epochs=30, patience=5)
    methods = {"majority": nc.majority_scores, "GCN": gcn}
    kept = {}

    def keep(task, name, fraction, seed, split, scores):
        embedding = gcn.trainer(task).embed() if name == "GCN" else None
        kept[name, fraction, seed] = (split, scores, embedding)

    res = nc.run_experiment([sbm], methods, [0.05, 0.2], seeds=[0, 1], on_result=keep,
                            progress=False)  # fmt: skip
    assert set(kept) == {(m, f, s) for m in methods for f in (0.05, 0.2) for s in (0, 1)}
    split, scores, embedding = kept["GCN", 0.2, 1]
    row = res[(res.method == "GCN") & (res.fraction == 0.2) & (res.seed == 1)].iloc[0]
    assert row["accuracy"] == nc.node_metrics(sbm, scores, split.test)["accuracy"]
    again = ng.GNNMethod("gcn", hidden=8, learning_rate=0.05, max_epochs=30, patience=5)
    np.testing.assert_array_equal(again(sbm, split, 1), scores)  # the same run, trained again
    np.testing.assert_array_equal(again.trainer(sbm).embed(), embedding)


def test_identity_features_option_equals_the_featureless_task(sbm, sbm_split):
    X, names = nc.structural_features(sbm.adjacency, sbm.n_users, "identity")
    kw = dict(hidden=8, learning_rate=0.05, max_epochs=20, patience=5)
    by_hand = ng.GNNMethod("gcn", **kw)(sbm.with_features(X, names), sbm_split, 3)
    built_in = ng.GNNMethod("gcn", features="identity", **kw)(sbm, sbm_split, 3)
    np.testing.assert_allclose(built_in, by_hand, atol=1e-6)
    with pytest.raises(ValueError, match="features"):
        ng.GNNMethod("gcn", features="degree")


# --- the from-scratch step of notebook 04, section 3.3, equals the package's epoch 1 -------


def test_plain_tensorflow_gcn_step_equals_the_trainers_first_epoch(sbm, sbm_split):
    import tensorflow as tf

    lr, l2, hidden = 0.05, 5e-4, 8
    op = graph.to_tf_operator(graph.gcn_operator(sbm.adjacency))
    trainer = ng.FullBatchTrainer(
        lambda: ng.GCNClassifier(op, sbm.n_classes, hidden=hidden, dropout=0.0, l2=l2),
        sbm.features, sbm.kind, learning_rate=lr, max_epochs=1,
    )  # fmt: skip
    trainer.reset(11)
    params = [tf.Variable(w) for w in trainer.model.get_weights()]
    W0, b0, W1, b1 = params
    x, y = tf.constant(sbm.features), tf.constant(sbm.targets())
    m = np.zeros(sbm.n_nodes, np.float32)
    m[sbm_split.train] = 1.0
    with tf.GradientTape() as tape:
        h = tf.nn.relu(op(x @ W0) + b0)
        logits = op(h @ W1) + b1
        ce = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
        loss = tf.reduce_sum(ce * m) / tf.reduce_sum(m)
        total = loss + l2 * tf.reduce_sum(W0**2)
    grads = tape.gradient(total, params)
    tf.keras.optimizers.Adam(lr).apply_gradients(zip(grads, params, strict=True))

    fit = trainer.fit(sbm.targets(), sbm_split, 11)
    assert fit.epochs == 1 and not fit.stopped_early
    assert fit.history["train_loss"].iloc[0] == pytest.approx(float(loss), rel=1e-6)
    for ours, theirs in zip(params, trainer.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6)


def test_many_trainers_in_a_row_do_not_warn_about_retracing(sbm, sbm_split):
    import logging

    import tensorflow as tf

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    try:
        for _ in range(7):  # seven trainers, one trace each: not a retracing problem
            ng.GNNMethod("gcn", hidden=4, max_epochs=2, patience=1)(sbm, sbm_split, 0)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]


def test_numpy_half_imports_no_tensorflow():
    import subprocess
    import sys

    code = (
        "import sys, gnnrec_utils.node_classification; "
        "assert 'tensorflow' not in sys.modules and 'spektral' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
