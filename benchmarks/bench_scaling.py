"""How LightGCN training time grows with the number of edges, measured up to 10^7 edges.

Each LightGCN training step propagates the *whole* graph: ``K`` sparse products with the
normalised adjacency :math:`\\hat A` (``2|E|`` non-zeros on ``N = n_users + n_items`` nodes,
``d`` columns), so a step costs :math:`O(K d (|E| + N))` whatever the batch size ``B``, and an
epoch at a fixed ``B`` costs :math:`O(|E|/B \\cdot K d (|E| + N))`: quadratic in ``|E|``.
``docs/scaling.md`` explains the two remedies; this script measures, on synthetic power-law
bipartite graphs (:func:`gnnrec_utils.graph.powerlaw_bipartite_edges`) whose shapes follow the
MovieLens family (ML-100K, ML-1M, ML-10M: see ``ANCHORS``), for each size:

1. full-graph training: one forward propagation of :class:`gnnrec_utils.models.LightGCN`
   (``K`` products with the course's operator :class:`gnnrec_utils.graph.SparsePropagation`,
   mean of the layers, inside ``tf.function``), one training step (forward, backward and
   Adam update: the traced step of :class:`gnnrec_utils.training.BPREpochs`) at ``B = 2048``
   and at ``B`` scaled with ``|E|`` (constant steps per epoch), the implied epoch times, and
   the time to draw one epoch of triples (:func:`gnnrec_utils.training.epoch_triples`);
2. sub-graph propagation for one batch of 2048 triples: the ``K``-hop neighbourhood of the
   batch's nodes (exact: :func:`khop_blocks`, :func:`layer_mean_on_seeds`), its size, the time
   to extract it and to propagate on it, and the same with GraphSAGE-style neighbour sampling
   (at most ``--fanout`` neighbours per node and hop, re-weighted so that the propagated
   embeddings are unbiased). The sub-graph column and its full-graph comparison use SciPy
   (single-threaded CSR SpMM), so that they compare like with like.

Timings are medians over ``--repeats`` calls after one warm-up call; when one call takes long
(10^7 edges) fewer calls are made so that a cell stays within ``--cell-seconds``, and the table
says how many. The output records the machine, the load average before and after each size and
the peak resident memory, and fits the slope of each column on log-log axes.

    python benchmarks/bench_scaling.py            # 10^4 ... 10^7 edges, about 5-10 minutes
    python benchmarks/bench_scaling.py --quick    # two tiny graphs, seconds (a smoke test)

Writes ``outputs/bench_scaling/scaling.{md,json}`` (``--out``); the table is copied into
``docs/scaling.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gnnrec_utils import graph as G  # noqa: E402

#: Real shapes (users, items) the synthetic graphs copy, by number of edges: MovieLens-100K
#: (943 x 1,682, 6.3 % dense), ML-1M (6,040 x 3,706, 4.5 %), ML-10M (69,878 x 10,677, 1.3 %);
#: 10^4 edges get a proportionally smaller ML-100K-like shape. Other sizes interpolate in log-log.
ANCHORS = {10**4: (300, 600), 10**5: (943, 1682), 10**6: (6040, 3706), 10**7: (69878, 10677)}
#: Steps per epoch of the course's LightGCN (70,058 ML-100K training edges at B = 2048): the
#: scaled batch size keeps this number of steps per epoch at every size.
COURSE_EDGES, COURSE_BATCH = 70_058, 2048
STEPS_PER_EPOCH = math.ceil(COURSE_EDGES / COURSE_BATCH)  # 35


# --------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------


def graph_shape(n_edges: int) -> tuple[int, int]:
    """(n_users, n_items) for ``n_edges``: ``ANCHORS``, else interpolated in log-log."""
    if n_edges in ANCHORS:
        return ANCHORS[n_edges]
    x = np.log(sorted(ANCHORS))
    shape = []
    for col in (0, 1):
        y = np.log([ANCHORS[e][col] for e in sorted(ANCHORS)])
        k = int(np.clip(np.searchsorted(x, np.log(n_edges)) - 1, 0, len(x) - 2))
        slope = (y[k + 1] - y[k]) / (x[k + 1] - x[k])
        shape.append(int(round(math.exp(y[k] + slope * (math.log(n_edges) - x[k])))))
    n_users, n_items = shape
    return n_users, max(n_items, math.ceil(2 * n_edges / n_users))  # room for max degree


def synthetic_graph(n_edges: int, seed: int):
    """Edges and :math:`\\hat A` of a power-law bipartite graph with ``n_edges`` edges."""
    n_users, n_items = graph_shape(n_edges)
    users, items = G.powerlaw_bipartite_edges(
        n_users,
        n_items,
        n_edges,
        min_user_degree=min(14, n_edges // n_users),  # 14: the ML-100K training sample's
        max_user_degree=n_items // 2,
        rng=seed,
    )
    R = G.interaction_matrix(users, items, n_users, n_items)
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))
    return users, items, n_users, n_items, A_hat


# --------------------------------------------------------------------------------------------
# Sub-graph propagation
# --------------------------------------------------------------------------------------------


def batch_nodes(users, pos, neg, n_users: int) -> np.ndarray:
    """The distinct graph nodes of a batch of ``(u, i, j)`` triples (items at ``n_users + i``)."""
    nodes = [np.asarray(users), n_users + np.asarray(pos), n_users + np.asarray(neg)]
    return np.unique(np.concatenate(nodes).astype(np.int64))


def _sample_rows(A_hat: sp.csr_matrix, nodes, fanout: int, rng) -> sp.csr_matrix:
    r"""Rows ``nodes`` of ``A_hat``, each with at most ``fanout`` entries.

    A row with more than ``fanout`` entries keeps ``fanout`` of them, drawn uniformly with
    replacement and scaled by ``deg / fanout``; the other rows are kept whole. Unbiased:
    :math:`\mathbb E[\tilde a_v h] = a_v h` for every row :math:`a_v`. Read straight from the
    CSR arrays, so the cost is :math:`O(|\text{nodes}| \cdot \text{fanout})`, not the rows'
    degrees (a duplicate draw is a duplicate CSR entry, which SciPy's products add up).
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    start, deg = A_hat.indptr[nodes], np.diff(A_hat.indptr)[nodes]
    kept = np.minimum(deg, fanout)
    indptr = np.concatenate([[0], np.cumsum(kept)])
    row_of = np.repeat(np.arange(nodes.size), kept)
    offset = np.arange(indptr[-1]) - indptr[row_of]  # 0 .. kept-1 within each row
    big = deg[row_of] > fanout
    offset[big] = (rng.random(int(big.sum())) * deg[row_of[big]]).astype(np.int64)
    take = start[row_of] + offset
    scale = (deg / np.maximum(kept, 1))[row_of]
    data = (A_hat.data[take] * scale).astype(A_hat.dtype)
    return sp.csr_matrix((data, A_hat.indices[take], indptr), shape=(nodes.size, A_hat.shape[1]))


def khop_blocks(A_hat, seeds, n_layers: int, fanout: int | None = None, rng=None):
    r"""The ``K``-hop neighbourhood of ``seeds`` as nested node sets and bipartite blocks.

    .. math::
        S_0 = \text{seeds}, \qquad S_{k+1} = S_k \cup N(S_k), \qquad
        B_k = \hat A[S_k, S_{k+1}] \quad (k = 0, \dots, K-1)

    Every neighbour of :math:`S_k` lies in :math:`S_{k+1}`, so :math:`B_k h` is *exact* on
    :math:`S_k` when ``h`` is exact on :math:`S_{k+1}`; :func:`layer_mean_on_seeds` chains the
    blocks. Each :math:`S_{k+1}` lists :math:`S_k` first (then the new nodes), so the seeds are
    the first rows at every hop (DGL's "message flow graph" layout). Cost of a propagation on
    the blocks: :math:`d \sum_k \mathrm{vol}(S_k)` multiply-adds, the sum of the degrees.

    With ``fanout``, each node of :math:`S_k` with more than ``fanout`` neighbours keeps
    ``fanout`` of them, drawn uniformly with replacement, and their weights are multiplied by
    ``degree / fanout`` (:func:`_sample_rows`): :math:`\mathbb E[B_k h] = \hat A[S_k,:]\,h`,
    so the layer mean on the seeds is unbiased for a linear model such as LightGCN (not the
    loss, which is non-linear in it). Hamilton, Ying & Leskovec (2017), "Inductive
    Representation Learning on Large Graphs" (GraphSAGE), Algorithm 2.

    **Input**: ``A_hat`` CSR ``(N, N)``; ``seeds`` distinct node ids (e.g. :func:`batch_nodes`).
    **Output**: ``(nodes, blocks)``: ``nodes[k]`` int64 array :math:`S_k` (``K + 1`` arrays),
    ``blocks[k]`` CSR of shape ``(|S_k|, |S_{k+1}|)``.
    """
    A_hat = sp.csr_matrix(A_hat)
    rng = np.random.default_rng(rng)
    position = np.full(A_hat.shape[0], -1, dtype=np.int64)
    nodes = [np.asarray(seeds, dtype=np.int64)]
    position[nodes[0]] = np.arange(nodes[0].size)
    blocks = []
    reached = np.zeros(A_hat.shape[0], dtype=bool)
    for _ in range(int(n_layers)):
        if fanout is None:
            rows = A_hat[nodes[-1]]
        else:
            rows = _sample_rows(A_hat, nodes[-1], int(fanout), rng)
        reached[rows.indices] = True  # a mask, not np.unique: no sort of the block's entries
        new = np.flatnonzero(reached & (position < 0))
        position[new] = nodes[-1].size + np.arange(new.size)
        nodes.append(np.concatenate([nodes[-1], new]))
        blocks.append(
            sp.csr_matrix(
                (rows.data, position[rows.indices], rows.indptr),
                shape=(nodes[-2].size, nodes[-1].size),
            )
        )
    return nodes, blocks


def layer_mean_on_seeds(blocks, H0_on_last):
    r"""LightGCN's final embedding :math:`\frac{1}{K+1}\sum_k (\hat A^k E^{(0)})[S_0]` from blocks.

    ``H0_on_last`` is :math:`E^{(0)}` on :math:`S_K` (``E0[nodes[-1]]``); the blocks are
    applied from the outermost in: :math:`h_{j+1} = B_{K-1-j} h_j`, which is
    :math:`\hat A^{j+1} E^{(0)}` on :math:`S_{K-1-j}`, and the seeds are its first rows.
    **Output**: ``(|S_0|, d)``, equal to the full propagation's seed rows (exact blocks).
    """
    n_seeds = blocks[0].shape[0] if blocks else H0_on_last.shape[0]
    h = H0_on_last
    total = h[:n_seeds].copy()
    for block in reversed(blocks):
        h = block @ h
        total += h[:n_seeds]
    return total / (len(blocks) + 1)


# --------------------------------------------------------------------------------------------
# Timing and machine
# --------------------------------------------------------------------------------------------


def interleaved_medians(fns: dict, repeats: int, cell_seconds: float, seed: int = 0) -> dict:
    """``{name: (median seconds, calls)}`` of each callable, timed in interleaved rounds.

    One warm-up call each, then up to ``repeats`` rounds that call every callable once in a
    fresh random order, so that bursts of load from other processes hit all of them alike;
    fewer rounds when the warm-up times say that ``repeats`` rounds would take longer than
    ``cell_seconds`` per callable.
    """
    first = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        first[name] = time.perf_counter() - t0
    budget = cell_seconds * len(fns)
    n = max(1, min(repeats, int(budget // max(sum(first.values()), 1e-9))))
    names = list(fns)
    times = {name: [] for name in names}
    order = np.random.default_rng(seed)
    for _ in range(n):
        for k in order.permutation(len(names)):
            t0 = time.perf_counter()
            fns[names[k]]()
            times[names[k]].append(time.perf_counter() - t0)
    return {name: (float(np.median(ts)), n) for name, ts in times.items()}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {cpus} usable CPUs, {mem:.0f} GiB RAM, {platform.system()}"


# --------------------------------------------------------------------------------------------
# One size
# --------------------------------------------------------------------------------------------


def _time_into(res: dict, calls: dict, args) -> None:
    """Store ``interleaved_medians`` of ``calls`` as ``res[name + "_s"]`` and ``"_n"``."""
    timed = interleaved_medians(calls, args.repeats, args.cell_seconds, seed=args.seed)
    for name, (seconds, n_calls) in timed.items():
        res[f"{name}_s"], res[f"{name}_n"] = seconds, n_calls


def full_graph_training(res: dict, users, items, A_hat, args):
    """Time LightGCN's forward and training step on the whole graph; returns ``(E0, sampler)``.

    The model, its operator and the optimiser are locals: their memory is released on return.
    """
    from gnnrec_utils.models import LightGCN
    from gnnrec_utils.training import BPREpochs, epoch_triples

    import tensorflow as tf

    n_users, n_items, n_edges = res["n_users"], res["n_items"], res["n_edges"]
    op = G.SparsePropagation(A_hat)  # the course's operator (CSR kernel, oneDNN)
    model = LightGCN(n_users, n_items, op, dim=args.dim, n_layers=args.layers, seed=args.seed)
    trainer = BPREpochs(model, users, items, batch_size=COURSE_BATCH, seed=args.seed)
    forward = tf.function(model.node_embeddings)
    rng = np.random.default_rng(args.seed)
    res["batch_scaled"] = math.ceil(n_edges / STEPS_PER_EPOCH)
    calls = {"full_forward": lambda: forward().numpy()}
    for tag, batch in (("fixed", COURSE_BATCH), ("scaled", res["batch_scaled"])):
        idx = rng.integers(0, n_edges, size=batch)
        u, p = users[idx].astype(np.int32), items[idx].astype(np.int32)
        n = trainer.sampler.sample(u, rng).astype(np.int32)
        calls[f"step_{tag}"] = lambda u=u, p=p, n=n: float(trainer.step(u, p, n)[0])
    _time_into(res, calls, args)
    res["steps_fixed"] = math.ceil(n_edges / COURSE_BATCH)
    res["epoch_fixed_s"] = res["steps_fixed"] * res["step_fixed_s"]
    res["epoch_scaled_s"] = STEPS_PER_EPOCH * res["step_scaled_s"]
    t0 = time.perf_counter()
    epoch_triples(users, items, trainer.sampler, rng)
    res["triples_s"] = time.perf_counter() - t0
    res["tracing_count"] = trainer.tracing_count
    return model.embedding.numpy(), trainer.sampler


def subgraph_propagation(res: dict, users, items, A_hat, E0, sampler, args) -> None:
    """Time the exact and the sampled K-hop propagation of one batch against the full one."""
    K, n_users, n_edges = args.layers, res["n_users"], res["n_edges"]
    A32 = A_hat.astype(np.float32)
    rng = np.random.default_rng(args.seed + 1)
    idx = rng.integers(0, n_edges, size=COURSE_BATCH)
    seeds = batch_nodes(users[idx], items[idx], sampler.sample(users[idx], rng), n_users)
    res["seeds"] = int(seeds.size)
    calls = {"full_scipy": lambda: layer_mean_on_seeds([A32] * K, E0)}
    for tag, fanout in (("exact", None), ("sampled", args.fanout)):
        nodes, blocks = khop_blocks(A32, seeds, K, fanout=fanout, rng=args.seed)
        res[f"{tag}_nodes"] = [int(s.size) for s in nodes]
        res[f"{tag}_block_nnz"] = int(sum(b.nnz for b in blocks))
        calls[f"{tag}_extract"] = lambda f=fanout: khop_blocks(A32, seeds, K, fanout=f, rng=0)
        calls[f"{tag}_propagate"] = lambda b=blocks, h=E0[nodes[-1]]: layer_mean_on_seeds(b, h)
    _time_into(res, calls, args)


def measure_size(n_edges: int, args) -> dict:
    """Every column of the report for one graph size (see the module docstring)."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    users, items, n_users, n_items, A_hat = synthetic_graph(n_edges, args.seed)
    res = dict(n_edges=n_edges, n_users=n_users, n_items=n_items, n_nodes=n_users + n_items)
    res.update(nnz=int(A_hat.nnz), layers=args.layers, dim=args.dim)
    res["density"] = n_edges / (n_users * n_items)
    res["build_seconds"] = time.perf_counter() - t0
    E0, sampler = full_graph_training(res, users, items, A_hat, args)
    gc.collect()
    subgraph_propagation(res, users, items, A_hat, E0, sampler, args)
    res["load_before"], res["load_after"] = load_before, os.getloadavg()
    res["peak_rss_gib"] = peak_rss_gib()
    return res


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

SLOPE_COLUMNS = {
    "full_forward_s": "full forward (TF)",
    "step_fixed_s": "step, B = 2048",
    "epoch_fixed_s": "epoch, B = 2048",
    "step_scaled_s": "step, scaled B",
    "epoch_scaled_s": "epoch, scaled B",
    "triples_s": "epoch of triples",
    "full_scipy_s": "full forward (SciPy)",
    "exact_propagate_s": "K-hop sub-graph forward",
    "sampled_propagate_s": "sampled sub-graph forward",
}


def loglog_slopes(rows: list[dict]) -> dict:
    """Least-squares slope of log(time) on log(|E|) for each column of ``SLOPE_COLUMNS``."""
    if len(rows) < 2:
        return {}
    x = np.log10([r["n_edges"] for r in rows])
    return {c: float(np.polyfit(x, np.log10([r[c] for r in rows]), 1)[0]) for c in SLOPE_COLUMNS}


def ns_per_entry(r: dict, key: str = "full_forward_s") -> float:
    """Nanoseconds per multiply-add of the ``K`` products: seconds / (K * nnz(A_hat) * d)."""
    return r[key] / (r["layers"] * r["nnz"] * r["dim"]) * 1e9


def _t(seconds: float, n: int | None = None) -> str:
    text = f"{seconds * 1e3:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"
    return text if n is None or n >= 3 else f"{text} ({n}×)"


def report(rows: list[dict], args, header: dict) -> str:
    K, d = args.layers, args.dim
    out = [
        f"LightGCN scaling: K = {K}, d = {d}, float32; {header['date']}.",
        "",
        f"- machine: {header['machine']}; Python {header['python']}, TensorFlow "
        f"{header['tf']}, NumPy {np.__version__}; niceness {header['nice']}",
        f"- timing: median of up to {args.repeats} calls after one warm-up call "
        f"(fewer, shown as (n×), when a cell would exceed {args.cell_seconds:.0f} s); "
        f"load average (1/5/15 min) per size in the last column",
        f"- graphs: `graph.powerlaw_bipartite_edges` (seed {args.seed}, user degree >= 14, "
        f"<= n_items/2), shapes of the MovieLens family; scaled B = ceil(|E| / "
        f"{STEPS_PER_EPOCH}), i.e. the course's {STEPS_PER_EPOCH} steps per epoch",
        "",
        "Full-graph training (TensorFlow, `SparsePropagation` CSR/oneDNN, 2 threads):",
        "",
        "| \\|E\\| | users × items (density) | Â nnz | forward (ns per nnz·col) | step B=2048 "
        "| epoch B=2048 (steps) | scaled B | step scaled B | epoch scaled B | triples/epoch "
        "| peak RSS | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lb, la = r["load_before"], r["load_after"]
        out.append(
            f"| {r['n_edges']:.0e} | {r['n_users']:,} × {r['n_items']:,} "
            f"({100 * r['density']:.2g} %) | {r['nnz']:,} | "
            f"{_t(r['full_forward_s'], r['full_forward_n'])} ({ns_per_entry(r):.2f}) | "
            f"{_t(r['step_fixed_s'], r['step_fixed_n'])} | "
            f"{_t(r['epoch_fixed_s'])} ({r['steps_fixed']:,}) | {r['batch_scaled']:,} | "
            f"{_t(r['step_scaled_s'], r['step_scaled_n'])} | {_t(r['epoch_scaled_s'])} | "
            f"{_t(r['triples_s'])} | {r['peak_rss_gib']:.1f} GiB | "
            f"{lb[0]:.2f}/{lb[1]:.2f}/{lb[2]:.2f} → {la[0]:.2f}/{la[1]:.2f}/{la[2]:.2f} |"
        )
    out += [
        "",
        f"One batch of {COURSE_BATCH} triples, {K}-hop sub-graph vs the full graph (SciPy CSR, "
        f"1 thread, float32); nodes |S_0| → |S_1| → … → |S_K| (% of N), edges = block nnz:",
        "",
        "| \\|E\\| | N | full forward | exact K-hop nodes | exact edges | extract | "
        f"forward | sampled (fanout {args.fanout}) nodes | sampled edges | extract | forward |",
        "|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|",
    ]

    def sizes(r, tag):
        s = r[f"{tag}_nodes"]
        return " → ".join(f"{x:,}" for x in s) + f" ({100 * s[-1] / r['n_nodes']:.0f} %)"

    for r in rows:
        out.append(
            f"| {r['n_edges']:.0e} | {r['n_nodes']:,} | "
            f"{_t(r['full_scipy_s'], r['full_scipy_n'])} | {sizes(r, 'exact')} | "
            f"{r['exact_block_nnz']:,} | {_t(r['exact_extract_s'], r['exact_extract_n'])} | "
            f"{_t(r['exact_propagate_s'], r['exact_propagate_n'])} | {sizes(r, 'sampled')} | "
            f"{r['sampled_block_nnz']:,} | "
            f"{_t(r['sampled_extract_s'], r['sampled_extract_n'])} | "
            f"{_t(r['sampled_propagate_s'], r['sampled_propagate_n'])} |"
        )
    slopes = loglog_slopes(rows)
    if slopes:
        last = loglog_slopes(rows[-2:])
        out += [
            "",
            "Log-log slopes, time ∝ |E|^slope (1 = linear, 2 = quadratic): least squares over "
            f"all sizes, and between the two largest ({rows[-2]['n_edges']:.0e} → "
            f"{rows[-1]['n_edges']:.0e}):",
            "",
            "| | " + " | ".join(SLOPE_COLUMNS.values()) + " |",
            "|---|" + "---:|" * len(SLOPE_COLUMNS),
            "| all sizes | " + " | ".join(f"{slopes[c]:.2f}" for c in SLOPE_COLUMNS) + " |",
            "| last decade | " + " | ".join(f"{last[c]:.2f}" for c in SLOPE_COLUMNS) + " |",
        ]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# tf.distribute check (docs/scaling.md, section 4)
# --------------------------------------------------------------------------------------------


def mirrored_check(kernel: str = "csr", steps: int = 4, global_batch: int = 64) -> float:
    """Run ``docs/scaling.md``'s ``MirroredStrategy`` sketch on two logical CPUs and return
    the largest difference of its ego table from the single-device step on the global batch.

    Must run before TensorFlow initialises its devices (a fresh process). Plain SGD, so that
    the update is linear in the gradient and the two runs must agree to float32 rounding.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from gnnrec_utils.models import LightGCN
    from gnnrec_utils.training import bpr_loss

    n_users, n_items, reg = 50, 80, 1e-4
    users, items = G.powerlaw_bipartite_edges(n_users, n_items, 600, min_user_degree=2, rng=0)
    R = G.interaction_matrix(users, items, n_users, n_items)
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, users.size, size=steps * global_batch)
    neg = rng.integers(0, n_items, size=idx.size)
    triples = tuple(x.astype(np.int32) for x in (users[idx], items[idx], neg))

    def build():
        model = LightGCN(n_users, n_items, A_hat, dim=8, n_layers=3, seed=0, kernel=kernel)
        model.bpr_terms(*[tf.zeros([1], tf.int32)] * 3)
        return model, tf.keras.optimizers.SGD(0.5)

    single, opt1 = build()

    @tf.function
    def single_step(u, p, n):
        with tf.GradientTape() as tape:
            pos, negs, omega = single.bpr_terms(u, p, n)
            loss = bpr_loss(pos, negs) + reg * omega / global_batch
        grads = tape.gradient(loss, single.trainable_variables)
        opt1.apply_gradients(zip(grads, single.trainable_variables, strict=True))

    for k in range(steps):
        single_step(*(x[k * global_batch : (k + 1) * global_batch] for x in triples))

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model, opt2 = build()
    data = tf.data.Dataset.from_tensor_slices(triples).batch(global_batch)

    def replica_step(u, p, n):
        with tf.GradientTape() as tape:
            pos, negs, omega = model.bpr_terms(u, p, n)
            per_example = tf.math.softplus(negs - pos)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            loss += reg * omega / global_batch
        grads = tape.gradient(loss, model.trainable_variables)
        opt2.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    for batch in strategy.experimental_distribute_dataset(data):
        train_step(batch)
    print(
        f"MirroredStrategy, {strategy.num_replicas_in_sync} replicas (logical CPUs), kernel "
        f"{kernel!r}, ego table a {type(model.embedding).__name__}: {steps} SGD steps on "
        f"global batches of {global_batch}"
    )
    diff = float(np.abs(model.embedding.numpy() - single.embedding.numpy()).max())
    moved = float(np.abs(single.embedding.numpy() - build()[0].embedding.numpy()).max())
    print(f"max |mirrored - single device| = {diff:.1e} (the steps moved weights by {moved:.1e})")
    return diff


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1e4,1e5,1e6,1e7", help="numbers of edges, comma-separated"
    )
    parser.add_argument("--dim", type=int, default=64, help="embedding size d (64)")
    parser.add_argument("--layers", type=int, default=3, help="propagation layers K (3)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per cell (5)")
    parser.add_argument(
        "--cell-seconds", type=float, default=30.0, help="time budget of one cell (30 s)"
    )
    parser.add_argument("--fanout", type=int, default=10, help="neighbours per node and hop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="two tiny graphs: a smoke test")
    parser.add_argument(
        "--mirrored-check",
        choices=["csr", "sparse_tensor"],
        help="only run docs/scaling.md's MirroredStrategy sketch with this kernel",
    )
    parser.add_argument(
        "--out", type=Path, help="folder for scaling.md/.json (default outputs/bench_scaling; "
        "--quick writes only when given)"
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.mirrored_check:
        mirrored_check(args.mirrored_check)
        return 0
    if args.quick:
        args.sizes, args.dim, args.repeats, args.cell_seconds = "2e3,6e3", 8, 1, 5.0
    out_dir = args.out or (None if args.quick else ROOT / "outputs" / "bench_scaling")
    sizes = [int(float(s)) for s in args.sizes.split(",")]

    G.enable_onednn_spmm()  # before TensorFlow builds a graph (it reads the flag once)
    import tensorflow as tf

    header = dict(
        date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        python=platform.python_version(),
        tf=tf.__version__,
        nice=os.nice(0),
    )
    rows = []
    for n_edges in sizes:
        rows.append(measure_size(n_edges, args))
        print(f"{n_edges:.0e} edges done: peak RSS {rows[-1]['peak_rss_gib']:.1f} GiB", flush=True)
    text = report(rows, args, header)
    print(text)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "scaling.md").write_text(text + "\n")
        payload = dict(header=header, args=vars(args) | {"out": str(out_dir)}, rows=rows)
        payload["slopes"] = loglog_slopes(rows)
        payload["slopes_last_decade"] = loglog_slopes(rows[-2:])
        (out_dir / "scaling.json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
