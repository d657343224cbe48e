"""Benchmark the propagation kernels of :mod:`gnnrec_utils.graph` on an ML-100K-sized graph.

Times ``n_layers`` of LightGCN propagation, ``E = mean_k(A_hat^k H)``, k = 0..K, at
``dim`` features, forward only and forward + backward (gradient of
``||E - G||^2 / 2`` w.r.t. the embedding table ``H``; a loss that needs
the forward values, as BPR does — with a loss linear in ``E`` graph pruning drops the
forward pass), for each TensorFlow kernel inside ``tf.function`` and for SciPy
(single-threaded CSR SpMM, backward written by hand: the reference). All in float32.

The training graph is a seeded 70 % per-user random sample of MovieLens-100K (the course's
``splits.random_split``) when the data load, else a synthetic power-law bipartite graph of
the same size; the output says which. Timings are medians over ``--repeats`` calls after
``--warmup`` calls, with the kernels interleaved call by call so that load from other
processes hits all of them alike. The Eigen (non-oneDNN) CSR row comes from a child process
started with ``TF_ENABLE_ONEDNN_SPMM=0``, because TensorFlow reads that flag once per process.

    python benchmarks/bench_propagation.py [--dim 64 --layers 3 --repeats 30]

Prints a markdown table for ``docs/benchmarks.md`` ("Propagation kernels").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gnnrec_utils import graph as G  # noqa: E402
from gnnrec_utils.constants import ML100K_N_ITEMS, ML100K_N_USERS  # noqa: E402

SYNTHETIC = dict(n_users=ML100K_N_USERS, n_items=ML100K_N_ITEMS, n_edges=70_000)
SYNTHETIC_SHAPE = dict(min_user_degree=14, max_user_degree=516)


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


def movielens_train_graph(seed: int):
    """R of the 70 % per-user random training sample of MovieLens-100K, and a description."""
    from gnnrec_utils.data import load_movielens
    from gnnrec_utils.splits import random_split

    ml = load_movielens(verbose=False)
    train = random_split(ml.ratings, (0.7, 0.1, 0.2), seed=seed).train
    R = G.interaction_matrix(
        train["user_id"].to_numpy() - 1,  # MovieLens ids are 1-based
        train["item_id"].to_numpy() - 1,
        ML100K_N_USERS,
        ML100K_N_ITEMS,
    )
    return R, (
        f"MovieLens-100K (source: {ml.source}), 70 % per-user random training sample "
        f"(`splits.random_split`, seed {seed})"
    )


def synthetic_graph(seed: int):
    users, items = G.powerlaw_bipartite_edges(**SYNTHETIC, **SYNTHETIC_SHAPE, rng=seed)
    R = G.interaction_matrix(users, items, SYNTHETIC["n_users"], SYNTHETIC["n_items"])
    return R, (
        "synthetic power-law bipartite graph (`graph.powerlaw_bipartite_edges`, "
        f"user degree 14–516, seed {seed})"
    )


def training_graph(data: str, seed: int):
    """(R, description, data actually used)."""
    if data in ("auto", "movielens"):
        try:
            R, what = movielens_train_graph(seed)
            return R, what, "movielens"
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back
            if data == "movielens":
                raise
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
            R, what = synthetic_graph(seed)
            return R, f"{what} — MovieLens unavailable ({reason})", "synthetic"
    R, what = synthetic_graph(seed)
    return R, what, "synthetic"


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def time_interleaved(fns: dict, repeats: int, warmup: int, seed: int = 0) -> dict:
    """Median, 25th and 75th percentile wall time (ms) of each callable.

    Each repeat calls every callable once, in a fresh random order, so that a burst of load
    from another process, or a callable that leaves the caches cold, favours none of them.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    order_rng = np.random.default_rng(seed)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for k in order_rng.permutation(len(names)):
            t0 = time.perf_counter()
            fns[names[k]]()
            times[names[k]].append(time.perf_counter() - t0)
    return {
        name: tuple(float(np.percentile(ts, q)) * 1e3 for q in (50, 25, 75))
        for name, ts in times.items()
    }


def scipy_callables(A_hat, H, Gup, n_layers: int, dtype=np.float32):
    A32 = A_hat.astype(dtype)
    AT32 = A32.T.tocsr()
    scale = dtype(1.0 / (n_layers + 1))

    def forward():
        layers = G.propagate(lambda X: A32 @ X, H, n_layers)
        return np.add.reduce(layers) * scale

    def forward_backward():
        # d ||E - G||^2 / 2 / dH = scale * sum_k (A^T)^k (E - G), by Horner's rule
        upstream = (forward() - Gup) * scale
        acc = upstream
        for _ in range(n_layers):
            acc = AT32 @ acc + upstream
        return acc

    return forward, forward_backward


def tf_callables(tf, op, H: np.ndarray, Gup: np.ndarray, n_layers: int, builtin_grad=False):
    """forward() and forward_backward() around tf.functions, H a tf.Variable (embeddings)."""
    table = tf.Variable(H)
    target = tf.constant(Gup)
    if builtin_grad:  # TensorFlow's own SparseMatrixMatMul gradient, no custom gradient
        M = op._matrices(tf.float32)[0]
        apply = lambda X: tf.raw_ops.SparseMatrixMatMul(a=M, b=X)
    else:
        apply = op

    def mean_of_layers(X):
        return tf.add_n(G.propagate(apply, X, n_layers)) / (n_layers + 1)

    @tf.function
    def forward():
        return mean_of_layers(table)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_sum(tf.square(mean_of_layers(table) - target))
        return tape.gradient(loss, table)

    return (lambda: forward().numpy()), (lambda: forward_backward().numpy())


# --------------------------------------------------------------------------------------------
# Machine information
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int | str:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return "n/a"


def thread_report(tf) -> dict:
    from threadpoolctl import threadpool_info

    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    blas = ", ".join(
        f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info() if "num_threads" in p
    )
    return {
        "tf_intra_op": intra or f"0 (TF default: one per core = {os.cpu_count()})",
        "tf_inter_op": inter or "0 (TF default)",
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "native_pools": blas or "none loaded",
    }


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def measure(args, kernels: list[str], include_builtin: bool) -> dict:
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    R, what, used = training_graph(args.data, args.seed)
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))
    rng = np.random.default_rng(args.seed)
    H = (0.1 * rng.standard_normal((A_hat.shape[0], args.dim))).astype(np.float32)
    Gup = rng.standard_normal(H.shape).astype(np.float32)

    sc_fwd, sc_fb = scipy_callables(A_hat, H, Gup, args.layers)
    fwd, fb = {"scipy": sc_fwd}, {"scipy": sc_fb}
    ops = {}
    for kernel in kernels:
        ops[kernel] = G.to_tf_operator(A_hat, kernel=kernel)
        fwd[kernel], fb[kernel] = tf_callables(tf, ops[kernel], H, Gup, args.layers)
    if include_builtin:
        fwd["csr_builtin_grad"], fb["csr_builtin_grad"] = tf_callables(
            tf, ops["csr"], H, Gup, args.layers, builtin_grad=True
        )
    # correctness of every candidate against the float64 computation
    ref_fwd, ref_grad = (f().astype(np.float64) for f in scipy_callables(
        A_hat, H.astype(np.float64), Gup.astype(np.float64), args.layers, np.float64
    ))  # fmt: skip
    errors = {
        name: (
            float(np.abs(fwd[name]() - ref_fwd).max()),
            float(np.abs(fb[name]() - ref_grad).max()),
        )
        for name in fwd
    }
    load_before = os.getloadavg()
    calls = {(name, "fwd"): f for name, f in fwd.items()}
    calls.update({(name, "fb"): f for name, f in fb.items()})
    with threadpool_limits(limits=1):  # SciPy's SpMM is single-threaded; pin BLAS too
        timed = time_interleaved(calls, args.repeats, args.warmup)
        threads = thread_report(tf)
    t_fwd = {name: timed[(name, "fwd")] for name in fwd}
    t_fb = {name: timed[(name, "fb")] for name in fb}
    return {
        "graph": what,
        "data": used,
        "n_nodes": A_hat.shape[0],
        "nnz": int(A_hat.nnz),
        "n_edges": int(R.nnz),
        "forward": t_fwd,
        "forward_backward": t_fb,
        "errors": errors,
        "threads": threads,
        "tf_version": tf.__version__,
        "load": (load_before, os.getloadavg()),
        "onednn_spmm": os.environ.get(G.ONEDNN_SPMM_FLAG, "unset"),
    }


def eigen_row(args, data: str) -> dict | None:
    """Scipy and CSR timings from a child process with TensorFlow's oneDNN SpMM switched off."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-eigen", "--data", data]
    for flag in ("dim", "layers", "repeats", "warmup", "seed", "threads"):
        cmd += [f"--{flag}", str(getattr(args, flag))]
    env = dict(os.environ, **{G.ONEDNN_SPMM_FLAG: "0"})
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"(Eigen CSR child failed: {done.stderr.strip()[-300:]})", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


LABELS = {
    "scipy": "SciPy CSR SpMM, 1 thread (reference; backward by hand)",
    "csr": "TF CSR `SparseMatrixMatMul`, oneDNN (**auto**)",
    "csr_eigen": "TF CSR `SparseMatrixMatMul`, Eigen (`TF_ENABLE_ONEDNN_SPMM=0`)†",
    "csr_builtin_grad": "TF CSR, oneDNN, TF's own gradient (no custom gradient)",
    "sparse_tensor": "TF `SparseTensor` `sparse_dense_matmul`",
    "dense": "TF dense `tf.matmul`",
}


def fmt(t) -> str:
    med, lo, hi = t
    return f"{med:.2f} ({lo:.2f}–{hi:.2f})"


def report(args, res: dict, eigen: dict | None) -> str:
    lines = []
    today = dt.date.today().isoformat()
    lines.append(
        f"Propagation: {args.layers} layers, dim {args.dim}, float32, mean of layers "
        f"(LightGCN); forward+backward = gradient of ½‖E − G‖² w.r.t. the embedding "
        f"table. {today}."
    )
    lines.append("")
    lines.append(f"- graph: {res['graph']}")
    lines.append(
        f"- size: {res['n_nodes']:,} nodes, {res['n_edges']:,} user–item edges, "
        f"{res['nnz']:,} non-zeros in Â = D^-1/2 A D^-1/2"
    )
    lines.append(
        f"- machine: {cpu_model()}, os.cpu_count() = {os.cpu_count()}, "
        f"usable CPUs = {usable_cpus()}, {platform.system()} "
        f"{platform.release()}"
    )
    lines.append(
        f"- software: Python {platform.python_version()}, TensorFlow {res['tf_version']}, "
        f"NumPy {np.__version__}, SciPy {scipy.__version__}"
    )
    th = res["threads"]
    lines.append(
        f"- threads: TF intra-op {th['tf_intra_op']}, inter-op {th['tf_inter_op']}; "
        f"OMP_NUM_THREADS {th['omp_num_threads']}; SciPy timed under "
        f"threadpoolctl limit 1 ({th['native_pools']}); "
        f"TF_ENABLE_ONEDNN_SPMM={res['onednn_spmm']}"
    )
    (b1, b5, _), (a1, a5, _) = res["load"]
    lines.append(
        f"- timing: median (25th–75th percentile) of {args.repeats} calls after "
        f"{args.warmup} warm-up calls, kernels interleaved; load average {b1:.2f}/{b5:.2f} "
        f"(1/5 min) before, {a1:.2f}/{a5:.2f} after"
    )
    lines.append("")
    lines.append(
        "| kernel | forward ms | forward+backward ms | forward / SciPy | "
        "fwd+bwd / SciPy | max abs err fwd / grad |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|")
    sc_f, sc_b = res["forward"]["scipy"][0], res["forward_backward"]["scipy"][0]
    rows = [(k, res["forward"][k], res["forward_backward"][k], res["errors"][k], sc_f, sc_b)
            for k in res["forward"]]  # fmt: skip
    if eigen is not None:
        e_sc_f, e_sc_b = eigen["forward"]["scipy"][0], eigen["forward_backward"]["scipy"][0]
        rows.insert(
            2,
            ("csr_eigen", eigen["forward"]["csr"], eigen["forward_backward"]["csr"],
             eigen["errors"]["csr"], e_sc_f, e_sc_b),
        )  # fmt: skip
    for name, tf_, tb, (ef, eb), ref_f, ref_b in rows:
        lines.append(
            f"| {LABELS.get(name, name)} | {fmt(tf_)} | {fmt(tb)} | {tf_[0] / ref_f:.2f}× | "
            f"{tb[0] / ref_b:.2f}× | {ef:.1e} / {eb:.1e} |"
        )
    lines.append("")
    if eigen is not None:
        lines.append(
            "† measured in a child process (TensorFlow reads `TF_ENABLE_ONEDNN_SPMM` once); "
            f"its ratios are to the SciPy time measured there ({eigen['forward']['scipy'][0]:.2f} "
            f"/ {eigen['forward_backward']['scipy'][0]:.2f} ms)."
        )
    auto = G.to_tf_operator(sp.identity(2, format="csr")).kernel
    ratio = res["forward"][auto][0] / sc_f
    verdict = "met" if ratio <= 2 else "NOT met"
    lines.append(
        f'Default kernel (`kernel="auto"`): `{auto}`; forward {ratio:.2f}× SciPy '
        f"(target ≤ 2×: {verdict})."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=64, help="embedding size (64)")
    parser.add_argument("--layers", type=int, default=3, help="propagation layers (3)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls, >= 20 (30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (5)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--threads", type=int, default=0, help="TF intra-op threads (0 = TF default)"
    )
    parser.add_argument(
        "--data",
        choices=["auto", "movielens", "synthetic"],
        default="auto",
        help="auto: MovieLens-100K if it loads, else synthetic",
    )
    parser.add_argument("--no-eigen", action="store_true", help="skip the Eigen CSR child run")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--child-eigen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 20:
        parser.error("--repeats must be >= 20")

    if args.child_eigen:
        res = measure(args, ["csr"], include_builtin=False)
        print(json.dumps(res))
        return 0

    G.enable_onednn_spmm()  # before TensorFlow builds any graph (it reads the flag once)
    res = measure(args, ["csr", "sparse_tensor", "dense"], include_builtin=True)
    eigen = None if args.no_eigen else eigen_row(args, res["data"])
    print(report(args, res, eigen))
    if args.json:
        args.json.write_text(json.dumps({"main": res, "eigen": eigen}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
