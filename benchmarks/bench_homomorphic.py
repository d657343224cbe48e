r"""What homomorphic encryption costs for one recommendation: scoring every film for one user.

The article's §10.2 says homomorphic encryption "允许在加密状态下进行计算，保障数据隐私的同时
提高计算效率" (*allows computing on encrypted data, protecting privacy while improving
computational efficiency*). This script measures the opposite on the course's shapes: a server
holds the item matrix :math:`V \in \mathbb R^{1682 \times 64}` (a LightGCN's item vectors) and
receives the user's vector :math:`\mathbf e_u \in \mathbb R^{64}` **encrypted**; it returns
:math:`V\mathbf e_u` (the 1,682 scores) still encrypted, and only the user can decrypt them.

Three ways of computing the same scores, timed on one CPU core:

- plaintext NumPy: ``V @ e``;
- CKKS (approximate arithmetic on packed vectors; TenSEAL, Microsoft SEAL underneath):
  ``ts.ckks_vector(ctx, e).matmul(V.T)``, polynomial modulus degree 8192, scale 2^40;
- Paillier (additively homomorphic; python-paillier ``phe``, 2048-bit key): score
  :math:`\sum_k V_{ik}\,[e_k]` for a subset of items, extrapolated to all 1,682.

The notebook 07 (``notebooks/07_open_questions.ipynb``, §4.4) quotes the printed numbers. The
libraries are *not* course dependencies; run the script in a throw-away virtual environment::

    python3 -m venv /tmp/he-venv
    /tmp/he-venv/bin/pip install tenseal==0.3.18 phe==1.5.0 numpy
    /tmp/he-venv/bin/python benchmarks/bench_homomorphic.py

Random vectors stand in for trained ones: the cost of these operations does not depend on the
values. Output: a Markdown table on stdout and, with ``--json PATH``, the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

N_ITEMS, DIM = 1682, 64


def _best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls, in seconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_plain(V, e, repeats: int) -> dict:
    return {"score_s": _best_of(lambda: V @ e, repeats * 100), "bytes_sent": e.nbytes}


def bench_ckks(V, e, repeats: int) -> dict:
    import tenseal as ts

    ctx = ts.context(
        ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192, coeff_mod_bit_sizes=[60, 40, 40, 60]
    )
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    VT = V.T.tolist()
    enc = ts.ckks_vector(ctx, e.tolist())
    t_enc = _best_of(lambda: ts.ckks_vector(ctx, e.tolist()), repeats)
    t_score = _best_of(lambda: enc.matmul(VT), repeats)
    out = enc.matmul(VT)
    t_dec = _best_of(out.decrypt, repeats)
    err = float(np.max(np.abs(np.array(out.decrypt()) - V @ e)))
    return {
        "encrypt_s": t_enc,
        "score_s": t_score,
        "decrypt_s": t_dec,
        "max_abs_error": err,
        "bytes_sent": len(enc.serialize()),
        "bytes_returned": len(out.serialize()),
        "tenseal": ts.__version__,
    }


def bench_paillier(V, e, n_items: int, repeats: int) -> dict:
    from phe import paillier

    pub, priv = paillier.generate_paillier_keypair(n_length=2048)
    t0 = time.perf_counter()
    enc = [pub.encrypt(float(x)) for x in e]
    t_enc = time.perf_counter() - t0
    sub = V[:n_items]

    def score():
        return [
            sum((c * float(w) for c, w in zip(enc, row, strict=True)), pub.encrypt(0.0))
            for row in sub
        ]

    t_sub = _best_of(score, repeats)
    out = score()
    t0 = time.perf_counter()
    dec = np.array([priv.decrypt(c) for c in out])
    t_dec = (time.perf_counter() - t0) * N_ITEMS / n_items
    err = float(np.max(np.abs(dec - sub @ e)))
    return {
        "encrypt_s": t_enc,
        "score_s": t_sub * N_ITEMS / n_items,
        "decrypt_s": t_dec,
        "max_abs_error": err,
        "items_timed": n_items,
        "bytes_sent": DIM * 2 * 2048 // 8,
        "bytes_returned": N_ITEMS * 2 * 2048 // 8,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--paillier-items", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    V = rng.normal(0, 0.1, (N_ITEMS, DIM))
    e = rng.normal(0, 0.1, DIM)
    res = {
        "plain": bench_plain(V, e, args.repeats),
        "ckks": bench_ckks(V, e, args.repeats),
        "paillier": bench_paillier(V, e, args.paillier_items, 1),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "numpy": np.__version__,
    }
    base = res["plain"]["score_s"]
    print(f"Scoring {N_ITEMS} items for one user ({DIM}-dim vectors), best of {args.repeats}:")
    print("| method | score s | × plaintext | encrypt s | decrypt s | bytes sent | max |error| |")
    print("|---|---|---|---|---|---|---|")
    for name in ("plain", "ckks", "paillier"):
        r = res[name]
        print(
            f"| {name} | {r['score_s']:.3g} | {r['score_s'] / base:,.0f} | "
            f"{r.get('encrypt_s', 0):.3g} | {r.get('decrypt_s', 0):.3g} | "
            f"{r['bytes_sent']:,} | {r.get('max_abs_error', 0):.1e} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
