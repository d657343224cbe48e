r"""The recipe registry: every model the course trains, with its settings, how to build it and
how to train it — one place that notebooks 03, 05 and 06, the command line and the benchmarks
all read.

Taught in ``notebooks/03_mf_recommendation.ipynb`` (the settings are tuned there on the
validation split; ``docs/recommenders.md``) and reused by 05 and 06.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils.metrics import RankingEvaluator

__all__ = [
    "MODEL_DEFAULTS",
    "MODEL_NAMES",
    "CLOSED_FORM_MODELS",
    "TRAINED_MODELS",
    "build_model",
    "train_model",
]

# --------------------------------------------------------------------------------------------

#: Hyperparameters tuned on the validation split of notebook 01's random split (notebook 03
#: uses the same values; ``docs/recommenders.md`` shows the tuning). ``model`` entries go to
#: the model's constructor, ``fit`` entries to :func:`gnnrec_utils.training.fit_bpr`.
MODEL_DEFAULTS: dict[str, dict] = {
    "bpr": {
        "model": {"dim": 64, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 2e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 8,
        },
    },
    "lightgcn": {
        "model": {"dim": 64, "n_layers": 3, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 5e-3,
            "reg": 1e-3,
            "eval_every": 5,
            "patience": 8,
        },
    },
    "gcnmf": {
        "model": {
            "dim": 64,
            "n_layers": 2,
            "dropout": 0.1,
            "init_std": 0.03,
            "kernel_init": "identity",
        },
        "fit": {
            "epochs": 300,
            "batch_size": 2048,
            "lr": 1e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 8,
        },
    },
    # Closed-form baselines (gnnrec_utils.closed_form): fitted in one step, no "fit" entry.
    "ease": {"model": {"reg": 500.0}},
    "gf-cf": {"model": {"alpha": 0.3, "k": 64}},
}

#: Models fitted in closed form or by counting: no epochs, no early stopping, no TensorFlow.
CLOSED_FORM_MODELS = ("pop", "ease", "gf-cf")
#: Models trained with BPR by :func:`gnnrec_utils.training.fit_bpr`.
TRAINED_MODELS = ("bpr", "lightgcn", "gcnmf")
MODEL_NAMES = CLOSED_FORM_MODELS + TRAINED_MODELS


def build_model(name: str, train: tuple, n_users: int, n_items: int, seed: int, **overrides):
    """The model ``name`` (one of :data:`MODEL_NAMES`) with :data:`MODEL_DEFAULTS`.

    ``"pop"``, ``"ease"`` and ``"gf-cf"`` come back fitted on ``train`` (``seed`` is GF-CF's
    SVD start vector); the others come back untrained, their initialisers seeded by ``seed``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if name == "pop":
        from gnnrec_utils.models import PopularityModel

        return PopularityModel(n_users, n_items).fit(*train)
    if name in ("ease", "gf-cf"):
        from gnnrec_utils import closed_form

        kwargs = {**MODEL_DEFAULTS[name]["model"], **overrides}
        if name == "ease":
            return closed_form.EASE(n_users, n_items, **kwargs).fit(*train)
        return closed_form.GFCF(n_users, n_items, **{**kwargs, "seed": seed}).fit(*train)
    from gnnrec_utils import models

    kwargs = {**MODEL_DEFAULTS[name]["model"], **overrides, "seed": seed}
    if name == "bpr":
        return models.BPRMF(n_users, n_items, **kwargs)
    if name == "lightgcn":
        return models.lightgcn_from_interactions(*train, n_users, n_items, **kwargs)
    return models.gcnmf_from_interactions(*train, n_users, n_items, **kwargs)


def train_model(
    name: str,
    train: tuple,
    valid: tuple,
    n_users: int,
    n_items: int,
    seed: int = 42,
    epochs: int | None = None,
    progress: bool = True,
    model_kwargs: dict | None = None,
    fit_kwargs: dict | None = None,
    test_evaluator=None,
):
    """Build model ``name`` with :data:`MODEL_DEFAULTS`, train it with early stopping on
    ``valid`` and return ``(model, history)`` (``history`` is None for the closed-form
    models ``"pop"``, ``"ease"`` and ``"gf-cf"``, which ignore ``epochs`` and ``valid``).

    Seeds the model's initialisers and the sampler with ``seed`` (and TensorFlow's global
    seed, for ops without their own), so the same call gives the same model.
    """
    from gnnrec_utils.seeding import seed_everything

    seed_everything(seed, tensorflow=name in TRAINED_MODELS)
    model = build_model(name, train, n_users, n_items, seed, **(model_kwargs or {}))
    if name in CLOSED_FORM_MODELS:
        return model, None
    from gnnrec_utils.training import fit_bpr

    fit = {**MODEL_DEFAULTS[name]["fit"], **(fit_kwargs or {})}
    if epochs is not None:
        fit["epochs"] = int(epochs)
    evaluator = RankingEvaluator(valid, n_users, n_items, exclude=[train])
    history = fit_bpr(
        model,
        *train,
        evaluator=evaluator,
        test_evaluator=test_evaluator,
        seed=seed,
        progress=progress,
        desc=name,
        **fit,
    )
    return model, history
