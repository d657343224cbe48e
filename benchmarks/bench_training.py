"""Benchmark the recommenders of notebook 03: speed, quality against public baselines, scaling.

    python benchmarks/bench_training.py speed    [--rounds 8]
    python benchmarks/bench_training.py quality  [--seeds 42 43 44] [--models pop bpr lightgcn]
    python benchmarks/bench_training.py scaling  [--edges 1e5 1e6 1e7] [--figure FILE.png]

``speed``: training seconds per epoch (negative sampling + all batch steps; evaluation
excluded) at batch 2048 with the default propagation operator (``graph.SparsePropagation``,
CSR kernel), on the MovieLens-100K training split of notebook 01 (70,058 pairs, 35 steps per
epoch). Models are interleaved epoch by epoch, after one warm-up epoch each (tracing); the
median and the 25th–75th percentiles are reported.

``quality``: trains each model with the tuned defaults (``recipes.MODEL_DEFAULTS``, chosen on
the validation split) for each seed, early stopping on validation NDCG@20; reports test
metrics (mean ± std over seeds) against the public baselines quoted in issue 4, and the
time-to-quality: training seconds until the *test* Recall@20 and NDCG@20 first both pass the
target (recorded at the evaluation points, never used for selection).

``scaling``: seconds per epoch versus number of interactions on synthetic power-law bipartite
graphs (``graph.powerlaw_bipartite_edges``; 20,000 items, 50 interactions per user on average)
at batch 2048 and at a batch of |E|/35 (35 steps per epoch, as on MovieLens). A full epoch
is timed when it is short; otherwise a few steps are timed and the epoch extrapolated as
``sampling + n_steps × median step`` (the table says which). Writes a log-log figure.

Every sub-command prints markdown for ``docs/recommenders.md``; ``--json`` keeps the raw data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import gnnrec_utils  # noqa: E402, F401  (selects tf-keras first)
from gnnrec_utils import graph as G  # noqa: E402
from gnnrec_utils import paths  # noqa: E402
from gnnrec_utils.metrics import RankingEvaluator  # noqa: E402
from gnnrec_utils.recipes import MODEL_DEFAULTS, build_model, train_model  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: Public results on this protocol quoted in issue 4 (test Recall@20, NDCG@20).
BASELINES = {
    "RecBole 1.2.1 BPR-MF": (0.332, 0.393),
    "RecBole 1.2.1 LightGCN": (0.338, 0.405),
    "RecBole 1.2.1 NGCF": (0.345, 0.413),
    "MS Recommenders LightGCN": (0.322, 0.362),
}
#: What each of our models has to reach (issue 4): LightGCN beats all, BPR-MF matches
#: RecBole's BPR, GCN+MF matches RecBole's NGCF.
TARGETS = {
    "lightgcn": ("best public (NGCF)", (0.345, 0.413)),
    "bpr": ("RecBole BPR-MF", (0.332, 0.393)),
    "gcnmf": ("RecBole NGCF", (0.345, 0.413)),
}
NAMES = {"pop": "Popularity", "bpr": "BPR-MF", "lightgcn": "LightGCN", "gcnmf": "GCN+MF"}


def machine_line() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    load = os.getloadavg()
    return (
        f"{dt.date.today().isoformat()}; {cpu}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, TensorFlow {tf.__version__}; load average "
        f"{load[0]:.1f}/{load[1]:.1f} (1/5 min) at the end (other processes share the machine)"
    )


def movielens_split():
    from gnnrec_utils.artefacts import load_artefacts

    a = load_artefacts(paths.data_dir() / "processed").arrays

    def pair(part):
        return (
            a[f"random_{part}_user"].astype(np.int64),
            a[f"random_{part}_item"].astype(np.int64),
        )

    return pair("train"), pair("valid"), pair("test"), 943, 1682


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------


def speed(args) -> dict:
    from gnnrec_utils.seeding import seed_everything
    from gnnrec_utils.training import BPREpochs

    train, _, _, nu, ni = movielens_split()
    runners = {}
    for name in args.models:
        seed_everything(args.seed)
        model = build_model(name, train, nu, ni, args.seed)
        fit = MODEL_DEFAULTS[name]["fit"]
        runners[name] = BPREpochs(
            model, *train, batch_size=args.batch_size, lr=fit["lr"], reg=fit["reg"], seed=args.seed
        )
        runners[name].run_epoch()  # warm-up: traces the step
    times = {name: [] for name in runners}
    order = np.random.default_rng(0)
    for _ in range(args.rounds):
        for k in order.permutation(len(runners)):
            name = list(runners)[k]
            times[name].append(runners[name].run_epoch()[2])
    out = {}
    for name, ts in times.items():
        out[name] = {
            "median": float(np.median(ts)),
            "p25": float(np.percentile(ts, 25)),
            "p75": float(np.percentile(ts, 75)),
            "tracing_count": runners[name].tracing_count,
            "n_epochs": len(ts),
        }
    lines = [
        f"Seconds per training epoch, batch {args.batch_size}, MovieLens-100K training split "
        f"({train[0].size:,} pairs, {int(np.ceil(train[0].size / args.batch_size))} steps), "
        f"median (25th–75th percentile) of {args.rounds} epochs per model, interleaved. "
        + machine_line(),
        "",
        "| model | s/epoch | target ≤ 0.73 s (half of RecBole LightGCN's 1.47 s) | traced |",
        "|---|---:|---|---:|",
    ]
    for name, r in out.items():
        ok = "met" if r["median"] <= 0.735 else "not met"
        lines.append(
            f"| {NAMES[name]} | {r['median']:.3f} ({r['p25']:.3f}–{r['p75']:.3f}) | "
            f"{ok if name == 'lightgcn' else '—'} | {r['tracing_count']}× |"
        )
    return {"speed": out, "markdown": "\n".join(lines)}


# --------------------------------------------------------------------------------------------
# quality + time-to-quality
# --------------------------------------------------------------------------------------------


def quality(args) -> dict:
    train, valid, test, nu, ni = movielens_split()
    test_eval = RankingEvaluator(test, nu, ni, exclude=[train, valid])
    runs: dict = {}
    for name in args.models:
        for seed in args.seeds:
            t0 = time.perf_counter()
            fit_kwargs = {"epochs": args.epochs} if args.epochs else None
            model, h = train_model(
                name,
                train,
                valid,
                nu,
                ni,
                seed=seed,
                progress=False,
                fit_kwargs=fit_kwargs,
                test_evaluator=test_eval,
            )
            wall = time.perf_counter() - t0
            metrics = test_eval(model)
            run = {"test": metrics, "wall_seconds": wall}
            if h is not None:
                r_t, n_t = TARGETS[name][1]
                hits = [k for k, (r, n) in enumerate(
                    zip(h["test"]["recall@20"], h["test"]["ndcg@20"], strict=True))
                    if r > r_t and n > n_t]  # fmt: skip
                run.update(
                    best_epoch=h["best_epoch"],
                    stopped_epoch=h["stopped_epoch"],
                    train_seconds=h["train_seconds"],
                    eval_seconds=h["eval_seconds"],
                    s_per_epoch=float(np.median(h["epoch_seconds"][1:])),
                    ttq_epoch=h["eval_epoch"][hits[0]] if hits else None,
                    ttq_seconds=h["eval_train_seconds"][hits[0]] if hits else None,
                    tracing_count=h["tracing_count"],
                )
            runs.setdefault(name, []).append(run)
            print(
                f"  {name} seed {seed}: R@20 {metrics['recall@20']:.4f} "
                f"N@20 {metrics['ndcg@20']:.4f} ({wall:.0f} s)",
                file=sys.stderr,
            )
    keys = ["recall@20", "ndcg@20", "recall@10", "ndcg@10", "precision@20", "hit_rate@20", "map@20"]

    def ms(name, key):
        v = np.array([r["test"][key] for r in runs[name]])
        return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0

    lines = [
        f"Test metrics (full ranking over 1,682 items, training and validation items "
        f"excluded), mean ± std over seeds {list(args.seeds)}; early stopping on validation "
        f"NDCG@20. " + machine_line(),
        "",
        "| model | " + " | ".join(k.replace("hit_rate", "hit") for k in keys) + " | target "
        "R@20 / N@20 | met |",
        "|---|" + "---:|" * len(keys) + "---|---|",
    ]
    summary = {}
    for name in runs:
        cells = [ms(name, k) for k in keys]
        summary[name] = {k: c for k, c in zip(keys, cells, strict=True)}
        if name in TARGETS:
            label, (r_t, n_t) = TARGETS[name]
            (rm, _), (nm, _) = cells[0], cells[1]
            met = "yes" if rm > r_t and nm > n_t else "no"
            if name == "bpr":  # "match within seed noise"
                rs, ns = cells[0][1], cells[1][1]
                met = "yes" if rm >= r_t - 2 * rs and nm >= n_t - 2 * ns else "no"
                met += " (within 2 std)" if not (rm > r_t and nm > n_t) else ""
            target = f"{label} {r_t:.3f} / {n_t:.3f}"
        else:
            target, met = "—", "—"
        lines.append(
            f"| {NAMES[name]} | "
            + " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in cells)
            + f" | {target} | {met} |"
        )
    for label, (r, n) in BASELINES.items():
        lines.append(
            f"| *{label}* | {r:.3f} | {n:.3f} | "
            + " | ".join("" for _ in keys[2:])
            + " | (issue 4) | |"
        )
    lines += [
        "",
        "| model | best epoch | stopped | s/epoch (median) | train s to early stop | "
        "time-to-quality: train s (epoch) | target < 120 s |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, rs in runs.items():
        if name == "pop":
            continue
        for seed, r in zip(args.seeds, rs, strict=True):
            ttq = (
                f"{r['ttq_seconds']:.1f} ({r['ttq_epoch']})"
                if r["ttq_seconds"] is not None
                else "not reached"
            )
            ok = "met" if r["ttq_seconds"] is not None and r["ttq_seconds"] < 120 else "not met"
            lines.append(
                f"| {NAMES[name]} seed {seed} | {r['best_epoch']} | {r['stopped_epoch']} | "
                f"{r['s_per_epoch']:.3f} | {r['train_seconds']:.1f} | {ttq} | {ok} |"
            )
    return {"runs": runs, "summary": summary, "markdown": "\n".join(lines)}


# --------------------------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------------------------

SCALING_MEAN_DEGREE = 50


def scaling_shape(n_edges: int) -> tuple[int, int]:
    """Users and items of the synthetic graph with ``n_edges`` interactions.

    Users grow with the interactions (50 per user on average); the catalogue grows more slowly,
    as the square root (2,000 items at 10^5 edges, 6,325 at 10^6, 20,000 at 10^7). This also
    keeps ``powerlaw_bipartite_edges`` affordable: it draws each user's items with
    ``rng.choice(n_items, p=…, replace=False)``, so it costs O(n_users × n_items).
    """
    return n_edges // SCALING_MEAN_DEGREE, int(round(2_000 * np.sqrt(n_edges / 1e5)))


def synthetic(n_edges: int, seed: int):
    n_users, n_items = scaling_shape(n_edges)
    users, items = G.powerlaw_bipartite_edges(
        n_users,
        n_items,
        n_edges,
        min_user_degree=10,
        max_user_degree=min(2_000, n_items),
        rng=seed,
    )
    return users, items, n_users, n_items


def _time_steps(runner, batch_size: int, n_steps: int, warmup: int = 1):
    """Seconds of one epoch's negative sampling, and of ``n_steps`` single steps."""
    from gnnrec_utils.training import epoch_triples

    t0 = time.perf_counter()
    u, p, n = epoch_triples(runner.users, runner.items, runner.sampler, runner.rng)
    sampling = time.perf_counter() - t0
    steps = []
    for k in range(warmup + n_steps):
        sl = slice(k * batch_size, (k + 1) * batch_size)
        if sl.start >= u.size:
            sl = slice(0, batch_size)
        t = time.perf_counter()
        loss, _ = runner.step(u[sl], p[sl], n[sl])
        float(loss)
        if k >= warmup:
            steps.append(time.perf_counter() - t)
    return sampling, steps


def scaling(args) -> dict:
    from gnnrec_utils.seeding import seed_everything
    from gnnrec_utils.training import BPREpochs

    rows = []
    for e in args.edges:
        n_edges = int(float(e))
        t0 = time.perf_counter()
        users, items, nu, ni = synthetic(n_edges, args.seed)
        gen = time.perf_counter() - t0
        print(
            f"  {n_edges:.0e} edges: {nu:,} users x {ni:,} items generated in {gen:.0f} s",
            file=sys.stderr,
        )
        for name in args.models:
            for mode in ("2048", "E/35"):
                batch = 2048 if mode == "2048" else int(np.ceil(n_edges / 35))
                seed_everything(args.seed)
                model = build_model(name, (users, items), nu, ni, args.seed)
                fit = MODEL_DEFAULTS[name]["fit"]
                runner = BPREpochs(
                    model,
                    users,
                    items,
                    batch_size=batch,
                    lr=fit["lr"],
                    reg=fit["reg"],
                    seed=args.seed,
                )
                n_batches = int(np.ceil(n_edges / batch))
                sampling, steps = _time_steps(runner, batch, min(args.steps, n_batches))
                estimate = sampling + n_batches * float(np.median(steps))
                measured = None
                if estimate < args.full_epoch_limit:
                    runner.run_epoch()  # warm, then time up to three real epochs
                    n_full = 3 if estimate < args.full_epoch_limit / 3 else 1
                    measured = float(np.median([runner.run_epoch()[2] for _ in range(n_full)]))
                rows.append(dict(
                    edges=n_edges, users=nu, items=ni, model=name, batch_mode=mode,
                    batch=batch, n_batches=n_batches, sampling_s=sampling,
                    step_s=float(np.median(steps)), n_steps_timed=len(steps),
                    epoch_estimate_s=estimate, epoch_measured_s=measured,
                ))  # fmt: skip
                print(
                    f"    {name:8s} batch {mode:5s}: step {np.median(steps) * 1e3:8.1f} ms, "
                    f"epoch ~{estimate:9.1f} s"
                    + (f" (measured {measured:.1f} s)" if measured else ""),
                    file=sys.stderr,
                )
                del runner, model
    fig_path = Path(args.figure)
    plot_scaling(rows, fig_path)
    lines = [
        f"Synthetic power-law bipartite graphs (`graph.powerlaw_bipartite_edges`, "
        f"{SCALING_MEAN_DEGREE} interactions per user on average, user degree 10–2,000, "
        f"2,000·sqrt(|E|/10^5) items), dim 64, default hyperparameters. Epoch = negative "
        f"sampling + all steps. *measured*: median of 1–3 full epochs; *extrapolated*: "
        f"sampling + n_steps × median of {args.steps} timed steps. " + machine_line(),
        "",
        "| edges | users | items | model | batch | steps/epoch | s/step | s/epoch | how |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        epoch = (
            r["epoch_measured_s"] if r["epoch_measured_s"] is not None else r["epoch_estimate_s"]
        )
        how = "measured" if r["epoch_measured_s"] is not None else "extrapolated"
        lines.append(
            f"| {r['edges']:.0e} | {r['users']:,} | {r['items']:,} | {NAMES[r['model']]} | "
            f"{r['batch']:,} | "
            f"{r['n_batches']:,} | {r['step_s']:.4f} | {epoch:,.1f} | {how} |"
        )
    slopes = scaling_slopes(rows)
    lines += ["", "Log-log slope of s/epoch against edges (1 = linear, 2 = quadratic):", ""]
    lines += [f"- {NAMES[m]}, batch {b}: {s:.2f}" for (m, b), s in slopes.items()]
    try:
        shown = fig_path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        shown = fig_path.name
    lines += ["", f"Figure: `{shown}`"]
    return {
        "rows": rows,
        "slopes": {f"{m} {b}": s for (m, b), s in slopes.items()},
        "markdown": "\n".join(lines),
    }


def _epoch(r):
    return r["epoch_measured_s"] if r["epoch_measured_s"] is not None else r["epoch_estimate_s"]


def scaling_slopes(rows) -> dict:
    out = {}
    for key in sorted({(r["model"], r["batch_mode"]) for r in rows}):
        sel = [r for r in rows if (r["model"], r["batch_mode"]) == key]
        if len(sel) >= 2:
            x = np.log10([r["edges"] for r in sel])
            y = np.log10([_epoch(r) for r in sel])
            out[key] = float(np.polyfit(x, y, 1)[0])
    return out


def plot_scaling(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"lightgcn": "C0", "bpr": "C1", "gcnmf": "C2"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, mode, title in zip(
        axes, ("2048", "E/35"), ("batch 2,048", "batch |E|/35 (35 steps per epoch)"), strict=True
    ):
        sel_all = [r for r in rows if r["batch_mode"] == mode]
        for model in sorted({r["model"] for r in sel_all}):
            sel = [r for r in sel_all if r["model"] == model]
            x = [r["edges"] for r in sel]
            y = [_epoch(r) for r in sel]
            ax.plot(x, y, "-", color=colors.get(model, "k"), label=NAMES[model])
            for r, yy in zip(sel, y, strict=True):
                filled = r["epoch_measured_s"] is not None
                ax.plot(
                    r["edges"],
                    yy,
                    "o",
                    color=colors.get(model, "k"),
                    mfc=colors.get(model, "k") if filled else "white",
                )
        xs = np.array([min(r["edges"] for r in sel_all), max(r["edges"] for r in sel_all)], float)
        base = min(_epoch(r) for r in sel_all)
        ax.plot(xs, base * xs / xs[0], ":", color="grey", label="slope 1 (linear)")
        ax.plot(xs, base * (xs / xs[0]) ** 2, "-.", color="grey", label="slope 2 (quadratic)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="interactions (edges) in the training graph",
            title=title,
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("seconds per epoch (open marker: extrapolated)")
    fig.suptitle("Training epoch time vs graph size, synthetic power-law graphs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=42)
    common.add_argument("--json", type=Path, help="also write the raw results here")
    s = sub.add_parser("speed", parents=[common])
    s.add_argument("--models", nargs="+", default=["lightgcn", "bpr", "gcnmf"])
    s.add_argument("--rounds", type=int, default=8)
    s.add_argument("--batch-size", type=int, default=2048)
    q = sub.add_parser("quality", parents=[common])
    q.add_argument("--models", nargs="+", default=["pop", "bpr", "lightgcn", "gcnmf"])
    q.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    q.add_argument("--epochs", type=int, default=None, help="max epochs (default: tuned)")
    c = sub.add_parser("scaling", parents=[common])
    c.add_argument("--models", nargs="+", default=["lightgcn", "bpr", "gcnmf"])
    c.add_argument("--edges", nargs="+", default=["1e5", "1e6", "1e7"])
    c.add_argument("--steps", type=int, default=5, help="timed steps per size (5)")
    c.add_argument(
        "--full-epoch-limit",
        type=float,
        default=60.0,
        help="time a full epoch when the estimate is below this many seconds",
    )
    c.add_argument("--figure", default=str(ROOT / "docs" / "figures" / "scaling.png"))
    args = parser.parse_args(argv)
    result = {"speed": speed, "quality": quality, "scaling": scaling}[args.command](args)
    command = "python benchmarks/bench_training.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"Command: `{command}`\n")
    print(result["markdown"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
