"""Where the training time of notebook 03's recommenders and notebook 05's GAN goes, and cheaper
settings that reach the same validation quality (issue 13, item 4 "Speed where it is cheap").

    python benchmarks/bench_speed.py profile [--epochs 5] [--batches 8192]  # an epoch, by part
    python benchmarks/bench_speed.py tune    [--models bpr] [--seeds 42 43 44] [--only LABEL ...]
    python benchmarks/bench_speed.py optim   [--rounds 7]          # Adam vs lazy updates (BPR-MF)
    python benchmarks/bench_speed.py all --quick                   # a seconds-long smoke run

The measured tables, the recommendation and the exact commands are in ``docs/speed.md``.

``profile``: for BPR-MF, LightGCN and GCN+MF with ``recipes.MODEL_DEFAULTS``, one training
epoch of :class:`gnnrec_utils.training.BPREpochs` split into triple building (shuffle +
negative sampling, :func:`~gnnrec_utils.training.epoch_triples`), the TensorFlow steps (each
step's loss read back, so the time is the step's and not queued work), one validation
evaluation as :func:`~gnnrec_utils.training.fit_bpr` runs it (``score_all_users`` +
:class:`~gnnrec_utils.metrics.RankingEvaluator`), and the rest (Python loop, slicing); median
of ``--epochs`` interleaved epochs after a warm-up (tracing) epoch, at the default batch and at
``--batches``. Then ``--gan-epochs`` :func:`gnnrec_utils.gan.fit_gan`
epochs with ``MODEL_DEFAULTS['gan']`` split the same way (each part timed around its calls).

``tune``: each candidate setting (``fit`` overrides of ``MODEL_DEFAULTS``) trained with
:func:`gnnrec_utils.recipes.train_model` for every seed, early stopping on validation NDCG@20;
reports the best validation NDCG@20, test NDCG@20 / Recall@20 of the restored model (test only
reported, never used to choose), epochs run and wall seconds, mean ± sd over seeds, and the wall
time ratio to the current defaults measured in the same run (interleaved by seed).

``optim``: seconds per BPR-MF epoch with the package's step (Keras Adam on IndexedSlices
gradients) against a lazy Adam written here (moments and weights updated only on the touched
rows, ``scatter``), and against plain/sparse alternatives, interleaved.

Results go to ``outputs/bench_speed/`` (JSON) and print as markdown for ``docs/speed.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_training
import gnnrec_utils  # noqa: E402, F401  (selects tf-keras first)
from gnnrec_utils.metrics import RankingEvaluator  # noqa: E402
from gnnrec_utils.recipes import MODEL_DEFAULTS, build_model, train_model  # noqa: E402

import numpy as np  # noqa: E402
from bench_training import movielens_split  # noqa: E402  (notebook 01's random split)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "outputs" / "bench_speed"
NAMES = {"bpr": "BPR-MF", "lightgcn": "LightGCN", "gcnmf": "GCN+MF"}


def load_line() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} / {b:.2f} / {c:.2f} (1/5/15 min), {os.cpu_count()} CPUs"


def ms(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def fmt(values, digits=4) -> str:
    m, s = ms(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


# --------------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------------


def profile_epoch(runner, evaluator) -> dict:
    """One epoch of ``runner`` (a ``BPREpochs``) and one evaluation, split into parts."""
    from gnnrec_utils.training import epoch_triples

    t0 = time.perf_counter()
    u, p, n = epoch_triples(runner.users, runner.items, runner.sampler, runner.rng)
    t1 = time.perf_counter()
    step_s = 0.0
    for start in range(0, u.size, runner.batch_size):
        sl = slice(start, start + runner.batch_size)
        a, b, c = u[sl], p[sl], n[sl]
        ts = time.perf_counter()
        loss, _ = runner.step(a, b, c)
        float(loss)  # wait for the step
        step_s += time.perf_counter() - ts
    t2 = time.perf_counter()
    scores = runner.model.score_all_users()
    t3 = time.perf_counter()
    evaluator(scores)
    t4 = time.perf_counter()
    return {
        "triples": t1 - t0,
        "steps": step_s,
        "loop": (t2 - t1) - step_s,
        "score_all": t3 - t2,
        "ranking": t4 - t3,
        "n_steps": int(np.ceil(u.size / runner.batch_size)),
    }


def profile_models(args, data) -> dict:
    from gnnrec_utils.seeding import seed_everything
    from gnnrec_utils.training import BPREpochs

    train, valid, _, nu, ni = data
    evaluator = RankingEvaluator(valid, nu, ni, exclude=[train])
    runners = {}
    for name in args.models:
        fit = MODEL_DEFAULTS[name]["fit"]
        for batch in sorted({fit["batch_size"], *args.batches}):
            seed_everything(args.seed)
            model = build_model(name, train, nu, ni, args.seed)
            runners[name, batch] = r = BPREpochs(
                model, *train, batch_size=batch, lr=fit["lr"], reg=fit["reg"], seed=1
            )
            profile_epoch(r, evaluator)  # warm-up: tracing
    rows = {key: [] for key in runners}
    for _ in range(args.epochs):  # interleaved: every configuration sees the same load
        for key, r in runners.items():
            rows[key].append(profile_epoch(r, evaluator))
    out = {}
    for (name, batch), rs in rows.items():
        med = {k: float(np.median([r[k] for r in rs])) for k in rs[0]}
        # the optimizer's share of a step: apply_gradients alone, timed on a copy
        med["adam_apply"] = adam_apply_seconds(runners[name, batch]) * med["n_steps"]
        out[f"{name} {batch}"] = dict(med, model=name, batch=batch)
        print(f"  profiled {name} batch {batch}: {med}", file=sys.stderr)
    return out


def adam_apply_seconds(runner, reps: int = 20) -> float:
    """Seconds of one ``optimizer.apply_gradients`` with the step's gradient *types*."""
    import tensorflow as tf

    model, opt = runner.model, runner.optimizer
    variables = model.trainable_variables
    u, p, n = _batch(runner)

    @tf.function
    def grads_only(users, pos, neg):
        with tf.GradientTape() as tape:
            ps, ns, om = model.bpr_terms(users, pos, neg, training=True)
            loss = tf.reduce_mean(tf.math.softplus(ns - ps)) + 1e-3 * om
        return tape.gradient(loss, variables)

    g = grads_only(u, p, n)
    shadow = [tf.Variable(v) for v in variables]
    opt2 = type(opt)(learning_rate=1e-9)
    opt2.build(shadow)

    @tf.function
    def apply(gs):
        opt2.apply_gradients(zip(gs, shadow, strict=True))

    apply(g)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        apply(g)
        float(tf.reduce_sum(shadow[0][:1]))
        t.append(time.perf_counter() - t0)
    return float(np.median(t))


def _batch(runner):
    from gnnrec_utils.training import epoch_triples

    u, p, n = epoch_triples(runner.users, runner.items, runner.sampler, np.random.default_rng(0))
    b = runner.batch_size
    return u[:b], p[:b], n[:b]


class _Timer:
    """Accumulated seconds of calls to wrapped functions (first call of a step kept apart)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, label, fn, sync=False, first_label=None):
        def timed(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            if sync:  # wait for TensorFlow, so the step and not queued work is timed
                [np.asarray(x) for x in out]
            key = first_label if first_label and not self.calls.get(label) else label
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
            self.calls[label] = self.calls.get(label, 0) + 1
            return out

        timed.experimental_get_tracing_count = getattr(
            fn, "experimental_get_tracing_count", lambda: 0
        )
        return timed


def profile_gan(args, data) -> dict:
    """``fit_gan`` epochs (``MODEL_DEFAULTS["gan"]``), each part of the epoch timed."""
    from gnnrec_utils import gan
    from gnnrec_utils.seeding import seed_everything

    train, valid, _, nu, ni = data
    evaluator = RankingEvaluator(valid, nu, ni, exclude=[train])
    seed_everything(args.seed)
    # Untrained players are enough for timing: the work per epoch does not depend on weights.
    lg = build_model("lightgcn", train, nu, ni, args.seed)
    bpr = build_model("bpr", train, nu, ni, args.seed)
    D = gan.Discriminator.from_model(bpr)
    settings = MODEL_DEFAULTS["gan"]  # notebook 05's choice (recipes registry)
    G = gan.PolicyGenerator(
        lg, temperature=settings["model"]["temperature"],
        exclude=train if settings["model"]["exclude_train"] else None,
    )  # fmt: skip
    fit = {k: v for k, v in settings["fit"].items() if k != "epochs"}
    timer = _Timer()
    saved = {
        k: getattr(gan, k)
        for k in ("discriminator_train_step", "generator_train_step", "_evaluate",
                  "sample_categorical")
    }  # fmt: skip
    saved_eval = RankingEvaluator.__call__

    def d_factory(*a, **k):
        return timer.wrap("D steps", saved["discriminator_train_step"](*a, **k), True,
                          "tracing (first D step)")  # fmt: skip

    def g_factory(*a, **k):
        return timer.wrap("G steps", saved["generator_train_step"](*a, **k), True,
                          "tracing (first G step)")  # fmt: skip

    gan.discriminator_train_step, gan.generator_train_step = d_factory, g_factory
    gan._evaluate = timer.wrap("evaluation + collapse statistics (_evaluate)", saved["_evaluate"])
    gan.sample_categorical = timer.wrap("sample_categorical (NumPy draws)",
                                        saved["sample_categorical"])  # fmt: skip
    RankingEvaluator.__call__ = timer.wrap("  of which RankingEvaluator (G and D)", saved_eval)
    try:
        t0 = time.perf_counter()
        h = gan.fit_gan(G, D, *train, epochs=args.gan_epochs, evaluator=evaluator, seed=1,
                        progress=False, **fit)  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        for k, v in saved.items():
            setattr(gan, k, v)
        RankingEvaluator.__call__ = saved_eval
    parts = dict(timer.seconds)
    parts["rest (Python loop, probabilities, setup)"] = wall - sum(
        v for k, v in parts.items() if not k.startswith("  ")
    )
    return {
        "epochs": args.gan_epochs,
        "wall": wall,
        "epoch_seconds": h["epoch_seconds"],
        "parts": parts,
        "calls": timer.calls,
    }


def profile_markdown(res) -> str:
    lines = [
        "| model | batch | steps/epoch | triples | TF steps | of which Adam apply (est.) | "
        "loop | epoch total | score_all | RankingEvaluator | eval total |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["models"].values():
        epoch = r["triples"] + r["steps"] + r["loop"]
        ev = r["score_all"] + r["ranking"]
        lines.append(
            f"| {NAMES[r['model']]} | {r['batch']} | {r['n_steps']:.0f} | {r['triples']:.3f} | "
            f"{r['steps']:.3f} | "
            f"{r['adam_apply']:.3f} | {r['loop']:.3f} | {epoch:.3f} | {r['score_all']:.3f} | "
            f"{r['ranking']:.3f} | {ev:.3f} |"
        )
    if "gan" in res:
        g = res["gan"]
        lines += [
            "",
            f"`fit_gan` with `MODEL_DEFAULTS['gan']`, {g['epochs']} epoch(s), "
            f"wall {g['wall']:.2f} s "
            f"(training seconds per epoch, median {np.median(g['epoch_seconds']):.3f}); "
            "each part timed around its calls, whole run and per epoch (epoch 0's evaluation "
            "and draws included):",
            "",
            "| part | seconds, whole run | per epoch | share |",
            "|---|---:|---:|---:|",
        ]
        for label, v in g["parts"].items():
            lines.append(f"| {label} | {v:.3f} | {v / g['epochs']:.3f} | {v / g['wall']:.0%} |")
    return "\n".join(lines)


def profile(args) -> dict:
    data = movielens_split()
    res = {"models": profile_models(args, data), "load": load_line()}
    if not args.no_gan:
        res["gan"] = profile_gan(args, data)
    res["markdown"] = profile_markdown(res) + "\n\n" + res["load"]
    return res


# --------------------------------------------------------------------------------------------
# tune
# --------------------------------------------------------------------------------------------

#: Candidate ``fit`` overrides per model ("current" = MODEL_DEFAULTS unchanged). Learning rates
#: grow with the batch (Adam: roughly with its square root or linearly); evaluation every 2
#: epochs with a patience of 5 evaluations stops 10 epochs after the best instead of 40.
CANDIDATES: dict[str, dict[str, dict]] = {
    "bpr": {
        "current": {},
        # round 1 (seed 42 screening; higher learning rates lose validation NDCG@20):
        "lr 5e-3, eval 2/5": {"lr": 5e-3, "eval_every": 2, "patience": 5},
        "lr 1e-2, eval 2/5": {"lr": 1e-2, "eval_every": 2, "patience": 5},
        "lr 2e-2, eval 2/5": {"lr": 2e-2, "eval_every": 2, "patience": 5},
        "b 8192, lr 1e-2, eval 2/5": {
            "batch_size": 8192, "lr": 1e-2, "eval_every": 2, "patience": 5},
        "b 8192, lr 2e-2, eval 2/5": {
            "batch_size": 8192, "lr": 2e-2, "eval_every": 2, "patience": 5},
        # round 2: keep the step size, cut the per-step and the waiting cost
        "eval 5/4": {"patience": 4},
        "lazy Adam": {"optimizer": "lazy"},
        "lazy Adam, eval 5/4": {"optimizer": "lazy", "patience": 4},
        "b 8192, lr 4e-3": {"batch_size": 8192, "lr": 4e-3},
        "b 8192, lr 4e-3, lazy Adam": {"batch_size": 8192, "lr": 4e-3, "optimizer": "lazy"},
        "lr 1e-2, reg 5e-2": {"lr": 1e-2, "reg": 5e-2, "eval_every": 2, "patience": 5},
        # round 3: larger batches, learning rate scaled with the square root of the batch
        "b 8192, lr 4e-3, eval 5/4": {"batch_size": 8192, "lr": 4e-3, "patience": 4},
        "b 16384, lr 6e-3": {"batch_size": 16384, "lr": 6e-3},
        "b 8192, lr 6e-3": {"batch_size": 8192, "lr": 6e-3},
    },
    "lightgcn": {
        "current": {},
        "b 8192, lr 1e-2": {"batch_size": 8192, "lr": 1e-2},
        "b 8192, lr 2e-2": {"batch_size": 8192, "lr": 2e-2},
    },
    "gcnmf": {
        "current": {},
        "b 8192, lr 2e-3": {"batch_size": 8192, "lr": 2e-3},
        "b 8192, lr 4e-3": {"batch_size": 8192, "lr": 4e-3},
    },
}  # fmt: skip
QUICK_CANDIDATES = {"current": {"epochs": 4, "eval_every": 2}, "fast": {
    "epochs": 4, "lr": 1e-2, "batch_size": 8192, "eval_every": 2}}  # fmt: skip


@contextlib.contextmanager
def lazy_adam_in_fit_bpr(active: bool):
    """Within the block, ``fit_bpr`` steps BPR-MF with :func:`lazy_adam_step` (benchmark only)."""
    from gnnrec_utils import training

    original = training._make_bpr_step
    if active:
        training._make_bpr_step = lambda model, optimizer, reg: lazy_adam_step(
            model, float(optimizer.learning_rate.numpy()), reg
        )
    try:
        yield
    finally:
        training._make_bpr_step = original


def tune(args) -> dict:
    from gnnrec_utils.seeding import seed_everything

    train, valid, test, nu, ni = movielens_split()
    test_eval = RankingEvaluator(test, nu, ni, exclude=[train, valid])
    runs: dict = {}
    for name in args.models:
        cands = QUICK_CANDIDATES if args.quick else CANDIDATES[name]
        if args.only:
            cands = {k: v for k, v in cands.items() if k in args.only or k == "current"}
        # untimed warm-up: TensorFlow's first trace in the process is slower than the rest
        train_model(name, train, valid, nu, ni, seed=0, epochs=1, progress=False)
        for seed in args.seeds:  # interleaved: every setting sees the same machine load
            for label, over in cands.items():
                over = dict(over)
                lazy = over.pop("optimizer", "adam") == "lazy"
                seed_everything(seed)  # GCN+MF's dropout draws from TF's global generator
                t0 = time.perf_counter()
                with lazy_adam_in_fit_bpr(lazy):
                    model, h = train_model(
                        name, train, valid, nu, ni, seed=seed, progress=False, fit_kwargs=over
                    )
                wall = time.perf_counter() - t0
                t = test_eval(model)
                run = dict(
                    seed=seed, wall=wall, valid_ndcg=h["best_value"], best_epoch=h["best_epoch"],
                    stopped=h["stopped_epoch"], train_s=h["train_seconds"],
                    eval_s=h["eval_seconds"], test_ndcg=t["ndcg@20"], test_recall=t["recall@20"],
                )  # fmt: skip
                runs.setdefault(name, {}).setdefault(label, []).append(run)
                print(
                    f"  {name} [{label}] seed {seed}: valid {h['best_value']:.4f} "
                    f"@{h['best_epoch']}/{h['stopped_epoch']}, test N@20 {t['ndcg@20']:.4f} "
                    f"R@20 {t['recall@20']:.4f}, {wall:.1f} s",
                    file=sys.stderr,
                )
    return {"runs": runs, "load": load_line(), "markdown": tune_markdown(runs) + "\n\n" +
            load_line()}  # fmt: skip


def tune_markdown(runs) -> str:
    lines = []
    for name, by_label in runs.items():
        base = np.array([r["wall"] for r in by_label["current"]])
        lines += [
            f"**{NAMES.get(name, name)}** (mean ± sd over seeds "
            f"{[r['seed'] for r in by_label['current']]}; time ratio = wall / current's wall, "
            "same seed, mean ± sd)",
            "",
            "| setting | valid NDCG@20 (best) | best / stopped epoch | wall s | ratio | "
            "test NDCG@20 | test Recall@20 |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label, rs in by_label.items():
            wall = np.array([r["wall"] for r in rs])
            ratio = wall / base
            be = "/".join(str(r["best_epoch"]) for r in rs)
            st = "/".join(str(r["stopped"]) for r in rs)
            lines.append(
                f"| {label} | {fmt([r['valid_ndcg'] for r in rs])} | {be} · {st} | "
                f"{fmt(wall, 1)} | {fmt(ratio, 2)} | {fmt([r['test_ndcg'] for r in rs])} | "
                f"{fmt([r['test_recall'] for r in rs])} |"
            )
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# optim: Adam's dense moment updates against lazy (row-sparse) updates, BPR-MF
# --------------------------------------------------------------------------------------------


def lazy_adam_step(model, lr: float, reg: float, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    r"""A BPR step for :class:`~gnnrec_utils.models.BPRMF` with a *lazy* Adam update.

    Keras' Adam decays both moments of every row at every step (``m <- beta_1 m``, dense)
    and moves every row; the lazy variant (TensorFlow Addons' ``LazyAdam``) updates only the
    rows the batch touched, with the summed gradient of each touched row :math:`g_r`:

    .. math::
        m_r \leftarrow \beta_1 m_r + (1-\beta_1) g_r,\quad
        v_r \leftarrow \beta_2 v_r + (1-\beta_2) g_r^2,\quad
        w_r \leftarrow w_r - \eta \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
        \frac{m_r}{\sqrt{v_r}+\epsilon}.

    Not the same algorithm as Adam (untouched rows keep stale moments and do not move), so
    its results differ; the quality check is the "lazy Adam" candidate of ``tune``.
    """
    from gnnrec_utils.training import _build, bpr_loss

    import tensorflow as tf

    _build(model)
    variables = model.trainable_variables
    ms_ = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    vs_ = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    t = tf.Variable(0.0, trainable=False)
    lam = tf.constant(reg, tf.float32)
    spec = tf.TensorSpec([None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec], autograph=False)
    def step(users, pos, neg):
        with tf.GradientTape() as tape:
            pos_s, neg_s, omega = model.bpr_terms(users, pos, neg, training=True)
            ranking = bpr_loss(pos_s, neg_s)
            loss = ranking + lam * omega / tf.cast(tf.shape(users)[0], tf.float32)
        grads = tape.gradient(loss, variables)
        t.assign_add(1.0)
        alpha = lr * tf.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        for var, g, m, v in zip(variables, grads, ms_, vs_, strict=True):
            rows, seg = tf.unique(g.indices)
            g_r = tf.math.unsorted_segment_sum(g.values, seg, tf.shape(rows)[0])
            m_r = beta_1 * tf.gather(m, rows) + (1.0 - beta_1) * g_r
            v_r = beta_2 * tf.gather(v, rows) + (1.0 - beta_2) * tf.square(g_r)
            m.scatter_update(tf.IndexedSlices(m_r, rows))
            v.scatter_update(tf.IndexedSlices(v_r, rows))
            var.scatter_sub(tf.IndexedSlices(alpha * m_r / (tf.sqrt(v_r) + epsilon), rows))
        return loss, ranking

    return step


def keras_step(model, optimizer, reg: float, dense: bool):
    """The package's step with another Keras optimizer, or with densified gradients."""
    from gnnrec_utils.training import _build, bpr_loss

    import tensorflow as tf

    _build(model)
    variables = model.trainable_variables
    optimizer.build(variables)
    lam = tf.constant(reg, tf.float32)
    spec = tf.TensorSpec([None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def step(users, pos, neg):
        with tf.GradientTape() as tape:
            pos_s, neg_s, omega = model.bpr_terms(users, pos, neg, training=True)
            ranking = bpr_loss(pos_s, neg_s)
            loss = ranking + lam * omega / tf.cast(tf.shape(users)[0], tf.float32)
        grads = tape.gradient(loss, variables)
        if dense:
            grads = [tf.convert_to_tensor(g) for g in grads]
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, ranking

    return step


def grads_only_step(model, reg: float):
    """Forward + backward, no update: the floor under any optimizer."""
    from gnnrec_utils.training import _build, bpr_loss

    import tensorflow as tf

    _build(model)
    variables = model.trainable_variables
    lam = tf.constant(reg, tf.float32)
    spec = tf.TensorSpec([None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def step(users, pos, neg):
        with tf.GradientTape() as tape:
            pos_s, neg_s, omega = model.bpr_terms(users, pos, neg, training=True)
            ranking = bpr_loss(pos_s, neg_s)
            loss = ranking + lam * omega / tf.cast(tf.shape(users)[0], tf.float32)
        grads = tape.gradient(loss, variables)
        return loss + 0.0 * tf.reduce_sum(grads[0].values[:1]), ranking

    return step


OPTIM_VARIANTS = (
    "package: Keras Adam, IndexedSlices grads",
    "Keras Adam, densified grads",
    "lazy Adam (touched rows only)",
    "Keras Adagrad, IndexedSlices grads",
    "Keras SGD, IndexedSlices grads",
    "no update (forward + backward only)",
)


def optim(args) -> dict:
    from gnnrec_utils.seeding import seed_everything
    from gnnrec_utils.training import BPREpochs

    import tensorflow as tf

    train, _, _, nu, ni = movielens_split()
    fit = MODEL_DEFAULTS["bpr"]["fit"]
    batches = (2048, 8192, 16384) if not args.quick else (2048,)
    rounds = 2 if args.quick else args.rounds
    out = {}
    for batch in batches:
        runners = {}
        for label in OPTIM_VARIANTS:
            seed_everything(args.seed)
            model = build_model("bpr", train, nu, ni, args.seed)
            r = BPREpochs(model, *train, batch_size=batch, lr=fit["lr"], reg=fit["reg"], seed=1)
            if label.startswith("Keras Adam, dense"):
                r.step = keras_step(model, tf.keras.optimizers.Adam(fit["lr"]), fit["reg"], True)
            elif label.startswith("lazy"):
                r.step = lazy_adam_step(model, fit["lr"], fit["reg"])
            elif label.startswith("Keras Adagrad"):
                r.step = keras_step(model, tf.keras.optimizers.Adagrad(0.05), fit["reg"], False)
            elif label.startswith("Keras SGD"):
                r.step = keras_step(model, tf.keras.optimizers.SGD(0.05), fit["reg"], False)
            elif label.startswith("no update"):
                r.step = grads_only_step(model, fit["reg"])
            r.run_epoch()  # warm-up: tracing
            runners[label] = r
        times = {label: [] for label in runners}
        order = np.random.default_rng(0)
        for _ in range(rounds):
            for k in order.permutation(len(runners)):
                label = OPTIM_VARIANTS[k]
                times[label].append(runners[label].run_epoch()[2])
        out[batch] = {label: float(np.median(ts)) for label, ts in times.items()}
        print(f"  batch {batch}: {out[batch]}", file=sys.stderr)
    lines = [
        f"Seconds per BPR-MF epoch (triples + steps), median of {rounds} interleaved epochs",
        "",
        "| step | " + " | ".join(f"batch {b}" for b in out) + " | "
        + " | ".join(f"ratio to package, {b}" for b in out) + " |",
        "|---|" + "---:|" * (2 * len(out)),
    ]  # fmt: skip
    base = {b: out[b][OPTIM_VARIANTS[0]] for b in out}
    for label in OPTIM_VARIANTS:
        lines.append(
            f"| {label} | "
            + " | ".join(f"{out[b][label]:.3f}" for b in out)
            + " | "
            + " | ".join(f"{out[b][label] / base[b]:.2f}" for b in out)
            + " |"
        )
    return {"seconds": out, "load": load_line(), "markdown": "\n".join(lines) + "\n\n" +
            load_line()}  # fmt: skip


def run_all(args) -> dict:
    """profile, optim and tune in one process (``--quick``: each cut to a few seconds)."""
    quick = args.quick
    out, md = {}, []
    args.models = ["bpr", "lightgcn", "gcnmf"]
    args.epochs, args.gan_epochs = (1, 2) if quick else (5, 5)
    args.batches = [8192]
    out["profile"] = profile(args)
    args.rounds = 2 if quick else 7
    out["optim"] = optim(args)
    args.models = ["bpr"] if quick else ["bpr", "lightgcn", "gcnmf"]
    args.seeds = [42] if quick else [42, 43, 44]
    args.only = None
    out["tune"] = tune(args)
    for key in ("profile", "optim", "tune"):
        md += [f"### {key}", "", out[key]["markdown"], ""]
    out["markdown"] = "\n".join(md)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=42)
    common.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    p = sub.add_parser("profile", parents=[common])
    p.add_argument("--models", nargs="+", default=["bpr", "lightgcn", "gcnmf"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batches", nargs="+", type=int, default=[8192], help="besides the default")
    p.add_argument("--gan-epochs", type=int, default=5)
    p.add_argument("--no-gan", action="store_true")
    t = sub.add_parser("tune", parents=[common])
    t.add_argument("--models", nargs="+", default=["bpr", "lightgcn", "gcnmf"])
    t.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    t.add_argument("--only", nargs="+", help="candidate labels to run (plus current)")
    o = sub.add_parser("optim", parents=[common])
    o.add_argument("--rounds", type=int, default=7)
    a = sub.add_parser("all", parents=[common])
    a.set_defaults(models=None, epochs=None, gan_epochs=None, no_gan=False, seeds=None,
                   only=None, rounds=None, batches=None)  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "all":
        result = run_all(args)
    else:
        if args.quick and args.command == "profile":
            args.epochs, args.gan_epochs = 1, 2
        result = {"profile": profile, "tune": tune, "optim": optim}[args.command](args)
    print(result["markdown"])
    OUT.mkdir(parents=True, exist_ok=True)
    stem = args.command + ("_" + "_".join(args.models) if args.command == "tune" else "")
    path = OUT / f"{stem}{'_quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
