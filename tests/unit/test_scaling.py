"""benchmarks/bench_scaling.py: the K-hop sub-graph propagation is exact on the batch's rows,
neighbour sampling with a fanout above every degree changes nothing, and the script's quick
mode runs end to end. Small seeded graphs: seconds.

The script is loaded from its file (``benchmarks/`` is not a package), so that no import of a
module called ``bench_scaling`` appears for ``test_environment``'s dependency scan.
"""

from __future__ import annotations

from gnnrec_utils import graph as G

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
#: Float64 throughout; the block products add the same terms as the full product but the
#: sub-matrices may order them differently, so equality holds to rounding: 1e-12 absolute on
#: embeddings of size ~0.1-1.
ATOL = 1e-12


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "bench_scaling_under_test", ROOT / "benchmarks" / "bench_scaling.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_problem(seed=0, n_users=40, n_items=60, n_edges=400, batch=16, dim=5):
    rng = np.random.default_rng(seed)
    users, items = G.powerlaw_bipartite_edges(n_users, n_items, n_edges, min_user_degree=2, rng=rng)
    R = G.interaction_matrix(users, items, n_users, n_items)
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))
    E0 = rng.standard_normal((n_users + n_items, dim))
    idx = rng.integers(0, n_edges, size=batch)
    neg = rng.integers(0, n_items, size=batch)
    return A_hat, E0, users[idx], items[idx], neg, n_users


def full_layer_mean(A_hat, E0, K):
    return sum(G.propagate(lambda X: A_hat @ X, E0, K)) / (K + 1)


@pytest.mark.parametrize("K", [0, 1, 2, 3])
def test_khop_subgraph_propagation_equals_full_propagation_on_the_batch_rows(bench, K):
    A_hat, E0, u, p, n, n_users = small_problem()
    seeds = bench.batch_nodes(u, p, n, n_users)
    nodes, blocks = bench.khop_blocks(A_hat, seeds, K)
    sub = bench.layer_mean_on_seeds(blocks, E0[nodes[-1]])
    full = full_layer_mean(A_hat, E0, K)[seeds]
    np.testing.assert_allclose(sub, full, rtol=0, atol=ATOL)


def test_khop_node_sets_are_nested_balls_with_the_seeds_first(bench):
    A_hat, _, u, p, n, n_users = small_problem(seed=1, batch=3)
    seeds = bench.batch_nodes(u, p, n, n_users)
    nodes, blocks = bench.khop_blocks(A_hat, seeds, 3)
    reach = np.zeros(A_hat.shape[0], dtype=bool)
    reach[seeds] = True
    for k in range(1, 4):
        reach |= (A_hat.T @ reach.astype(float)) > 0  # one more hop
        assert set(nodes[k]) == set(np.flatnonzero(reach))
        assert np.array_equal(nodes[k][: nodes[k - 1].size], nodes[k - 1])  # prefix
        assert blocks[k - 1].shape == (nodes[k - 1].size, nodes[k].size)


def test_sampling_with_a_fanout_above_every_degree_is_exact(bench):
    A_hat, E0, u, p, n, n_users = small_problem(seed=2)
    seeds = bench.batch_nodes(u, p, n, n_users)
    big = int(np.diff(A_hat.indptr).max())
    nodes, blocks = bench.khop_blocks(A_hat, seeds, 3, fanout=big, rng=0)
    sub = bench.layer_mean_on_seeds(blocks, E0[nodes[-1]])
    np.testing.assert_allclose(sub, full_layer_mean(A_hat, E0, 3)[seeds], rtol=0, atol=ATOL)


def test_sampled_rows_keep_at_most_fanout_entries_and_are_unbiased(bench):
    A_hat, E0, u, p, n, n_users = small_problem(seed=3)
    seeds = bench.batch_nodes(u, p, n, n_users)
    rows = A_hat[seeds]
    rng = np.random.default_rng(0)
    draws = [bench._sample_rows(A_hat, seeds, 2, rng) for _ in range(2000)]
    assert max(np.diff(d.indptr).max() for d in draws) <= 2
    estimates = np.stack([d @ E0 for d in draws])
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(len(draws))
    # unbiased: every entry within 5 Monte-Carlo standard errors (+1e-12 for exact rows)
    assert np.all(np.abs(estimates.mean(axis=0) - rows @ E0) <= 5 * standard_error + 1e-12)


def test_quick_run_writes_its_table_and_json(bench, tmp_path, capsys):
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "scaling.md").read_text()
    assert "Full-graph training" in text and "Log-log slopes" in text
    payload = json.loads((tmp_path / "scaling.json").read_text())
    assert [r["n_edges"] for r in payload["rows"]] == [2000, 6000]
    assert payload["rows"][0]["tracing_count"] == 1  # the step traced once for both batch sizes
    assert "Full-graph training" in capsys.readouterr().out


def test_graph_shapes_follow_the_movielens_anchors(bench):
    assert bench.graph_shape(10**5) == (943, 1682)
    n_users, n_items = bench.graph_shape(3 * 10**5)
    assert 943 < n_users < 6040 and 1682 < n_items < 3706
