r"""The recipe registry: every model the course fits, with its settings, how to build it and
how to train it — the one place notebooks 03, 05 and 06, the command line and the benchmarks
read, so no notebook copies a setting.

========  =================  ==============================================  ============
key       model              trained by                                      chosen in
========  =================  ==============================================  ============
pop       most popular       counting                                        03
item-knn  item-kNN (cosine)  counting; ``k`` on validation                   03, 06
ease      EASE               closed form; :math:`\lambda` on validation      03 §5.1
gf-cf     GF-CF              closed form + sparse SVD                        03 §5.2
mf        biased MF          squared error, :func:`training.fit_explicit`    03 §2
bpr       BPR-MF             BPR, :func:`training.fit_bpr`                   03 §3
lightgcn  LightGCN           BPR, :func:`training.fit_bpr`                   03 §4
gcnmf     GCN + MF           BPR, :func:`training.fit_bpr`                   03 §4
gan       GAN generator      :func:`gan.fit_gan`, from ``bpr`` + ``lightgcn``  05 §5.1
========  =================  ==============================================  ============

:data:`MODEL_DEFAULTS` holds the settings (``"model"``: constructor arguments; ``"fit"``: the
training function's), :func:`build_model` builds a model with them and :func:`train_model`
trains it with early stopping on the validation split. Give :func:`train_model` a
:class:`gnnrec_utils.store.ModelStore` and a model trained before for the same recipe,
settings, split and seed is loaded instead of trained again ("train once").

Randomness: the initialisers, the negative sampler and the GAN's draws are seeded with
``seed``; :func:`train_model` does not touch the global generators. GCN + MF's dropout layers
draw from TensorFlow's global generator, so the caller seeds it first (the notebooks call
``seed_everything(seed)``, the command line does too).

Taught in ``notebooks/03_mf_recommendation.ipynb`` (the settings are tuned there on the
validation split; ``docs/recommenders.md``); 05 chooses the GAN's; 06 reads them all.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils.metrics import RankingEvaluator

from collections.abc import Callable

import numpy as np

__all__ = [
    "MODEL_DEFAULTS",
    "MODEL_NAMES",
    "LABELS",
    "CLOSED_FORM_MODELS",
    "CLI_MODELS",
    "TRAINED_MODELS",
    "settings_of",
    "describe",
    "build_model",
    "train_model",
]

#: Hyperparameters tuned on the validation split of notebook 01's random split (notebook 03
#: tunes and uses the same values; ``docs/recommenders.md`` shows the tuning; the GAN's come
#: from notebook 05 §5.1). ``model`` entries go to the model's constructor, ``fit`` entries to
#: the training function (:func:`~gnnrec_utils.training.fit_bpr`,
#: :func:`~gnnrec_utils.training.fit_explicit`, :func:`~gnnrec_utils.gan.fit_gan`).
MODEL_DEFAULTS: dict[str, dict] = {
    # BPR-MF and LightGCN: batch 8,192 (9 steps an epoch) with the learning rate scaled by
    # sqrt(4) and, for BPR-MF, patience 4: the same validation and test NDCG@20 as batch 2,048
    # (lr 2e-3 / 5e-3, patience 8) in about half / two thirds of the time, chosen on validation
    # over three seeds in docs/speed.md (issue 13).
    "bpr": {
        "model": {"dim": 64, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 8192,
            "lr": 4e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 4,
        },
    },
    "lightgcn": {
        "model": {"dim": 64, "n_layers": 3, "init_std": 0.1},
        "fit": {
            "epochs": 300,
            "batch_size": 8192,
            "lr": 1e-2,
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
        # batch 8,192, lr 2e-3, patience 4 (was 2,048, 1e-3, 8): validation NDCG@20 0.2423 vs
        # 0.2427 over seeds 42-44 in two thirds of the time (docs/speed.md, section 4).
        "fit": {
            "epochs": 300,
            "batch_size": 8192,
            "lr": 2e-3,
            "reg": 1e-2,
            "eval_every": 5,
            "patience": 4,
        },
    },
    # Explicit biased MF on ratings (early stopping on validation RMSE).
    "mf": {
        "model": {"dim": 64},
        "fit": {"epochs": 100, "batch_size": 1024, "lr": 3e-3, "reg": 0.1, "patience": 5},
    },
    # The graph GAN (notebook 05): G starts from the trained LightGCN, D from BPR-MF. Chosen in
    # notebook 05 §5.1 on the validation split only: one value at a time, the generator's
    # learning rate g_lr (5e-4, 1e-3, 5e-3), then the temperature (0.5, 1, 2), then the draws
    # per user n_samples (4, 16, 64); one seed, 15 epochs, the kept epoch's validation NDCG@20
    # as the criterion — a flat grid (the notebook prints its spread), not a clear optimum. The
    # discriminator's d_lr, d_reg and the leave-one-out baseline were not tuned. The players
    # are the registry's BPR-MF and LightGCN (the grid was run again when they moved to batch
    # 8,192: docs/speed.md §4). "model" goes to gan.PolicyGenerator (exclude=train when
    # exclude_train), "fit" to gan.fit_gan.
    "gan": {
        "model": {"temperature": 1.0, "exclude_train": False},
        "fit": {
            "epochs": 15,
            "n_samples": 64,
            "g_lr": 5e-3,
            "d_lr": 1e-2,
            "d_reg": 1e-3,
            "baseline": "loo",
        },
        "players": {"generator": "lightgcn", "discriminator": "bpr"},
    },
    # Fitted in one step, no "fit" entry (gnnrec_utils.closed_form, experiments.ItemKNN).
    "ease": {"model": {"reg": 500.0}},
    "gf-cf": {"model": {"alpha": 0.3, "k": 64}},
    "item-knn": {"model": {"k": 50}},
    "pop": {"model": {}},
}

#: Display names (tables, progress bars, store messages).
LABELS = {
    "pop": "Popularity",
    "item-knn": "Item-kNN",
    "ease": "EASE",
    "gf-cf": "GF-CF",
    "mf": "MF (explicit)",
    "bpr": "BPR-MF",
    "lightgcn": "LightGCN",
    "gcnmf": "GCN+MF",
    "gan": "GAN generator",
}
#: Models fitted in closed form or by counting: no epochs, no early stopping, no TensorFlow.
CLOSED_FORM_MODELS = ("pop", "item-knn", "ease", "gf-cf")
#: Models trained with BPR by :func:`gnnrec_utils.training.fit_bpr`.
TRAINED_MODELS = ("bpr", "lightgcn", "gcnmf")
#: The models the command line offers (implicit feedback in, rankings out).
CLI_MODELS = CLOSED_FORM_MODELS + TRAINED_MODELS
#: Every recipe: also explicit MF (needs ratings) and the GAN (built from two trained models).
MODEL_NAMES = CLI_MODELS + ("mf", "gan")


def _check(name: str) -> None:
    if name not in MODEL_DEFAULTS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def settings_of(
    name: str,
    epochs: int | None = None,
    model_kwargs: dict | None = None,
    fit_kwargs: dict | None = None,
) -> dict:
    """The full settings of recipe ``name`` with overrides: ``{"model": …, "fit": …}``.

    ``epochs`` caps the training epochs (``fit["epochs"]``). The GAN's settings include its
    players' (``"players"``), so a store entry changes when theirs do.
    """
    _check(name)
    entry = MODEL_DEFAULTS[name]
    out = {"model": {**entry["model"], **(model_kwargs or {})}}
    if "fit" in entry:
        out["fit"] = {**entry["fit"], **(fit_kwargs or {})}
        if epochs is not None:
            out["fit"]["epochs"] = int(epochs)
    elif fit_kwargs:
        raise ValueError(f"{name!r} is fitted in closed form: it takes no fit settings")
    return out


def _changes(name: str, settings: dict) -> list[str]:
    """The settings that differ from the registry's, as ``key=value`` strings."""
    default = settings_of(name)
    return [
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for part in ("model", "fit")
        for k, v in settings.get(part, {}).items()
        if default.get(part, {}).get(k) != v
    ]


def describe(name: str, settings: dict) -> str:
    """The model's display name plus what differs from the registry, e.g.
    ``"BPR-MF [patience=3]"`` or ``"LightGCN [epochs=10]"`` (the store's one-line reports)."""
    changed = _changes(name, settings)
    return LABELS[name] + (f" [{', '.join(changed)}]" if changed else "")


def build_model(
    name: str, train: tuple, n_users: int, n_items: int, seed: int, ratings=None, **overrides
):
    """The model ``name`` (one of :data:`MODEL_NAMES` but ``"gan"``) with :data:`MODEL_DEFAULTS`.

    The closed-form models come back fitted on ``train`` (``seed`` is GF-CF's SVD start
    vector); the trained ones come back untrained with every weight created (so
    ``set_weights`` works), their initialisers seeded by ``seed``. ``"mf"`` needs the training
    ``ratings`` (their mean is :math:`\\mu`).
    """
    _check(name)
    if name == "gan":
        raise ValueError("the GAN is built from two trained models: use train_model('gan', …)")
    kwargs = {**MODEL_DEFAULTS[name]["model"], **overrides}
    if name == "pop":
        from gnnrec_utils.models import PopularityModel

        return PopularityModel(n_users, n_items).fit(*train)
    if name == "item-knn":
        from gnnrec_utils.experiments import ItemKNN

        return ItemKNN(n_users, n_items, **kwargs).fit(*train)
    if name in ("ease", "gf-cf"):
        from gnnrec_utils import closed_form

        if name == "ease":
            return closed_form.EASE(n_users, n_items, **kwargs).fit(*train)
        return closed_form.GFCF(n_users, n_items, **{**kwargs, "seed": seed}).fit(*train)
    from gnnrec_utils import models

    import tensorflow as tf

    kwargs["seed"] = seed
    if name == "mf":
        if ratings is None:
            raise ValueError("model 'mf' (explicit MF) needs the training ratings: ratings=…")
        model = models.BiasedMF(n_users, n_items, global_mean=float(np.mean(ratings)), **kwargs)
        model.predict_ratings(np.zeros(1, np.int64), np.zeros(1, np.int64))
        return model
    if name == "bpr":
        model = models.BPRMF(n_users, n_items, **kwargs)
    elif name == "lightgcn":
        model = models.lightgcn_from_interactions(*train, n_users, n_items, **kwargs)
    else:
        model = models.gcnmf_from_interactions(*train, n_users, n_items, **kwargs)
    one = tf.zeros([1], dtype=tf.int32)
    model.bpr_terms(one, one, one, training=False)  # create every weight now
    return model


class _GANPair:
    """The generator and discriminator as one object with ``get_weights``/``set_weights``
    (the generator's LightGCN weights, then the discriminator's), for the store."""

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator

    def get_weights(self):
        return self.generator.model.get_weights() + self.discriminator.get_weights()

    def set_weights(self, weights):
        n = len(self.generator.model.get_weights())
        self.generator.model.set_weights(weights[:n])
        self.discriminator.set_weights(weights[n:])


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
    ratings: tuple | None = None,
    store=None,
    players: dict | None = None,
    say: Callable[[str], None] | None = print,
):
    """Build model ``name`` with :data:`MODEL_DEFAULTS` (plus overrides), train it with early
    stopping on ``valid`` and return ``(model, history)``.

    - closed-form models (``pop``, ``item-knn``, ``ease``, ``gf-cf``) ignore ``epochs`` and
      ``valid``; their history is None;
    - ``mf`` needs ``ratings = (train_ratings, valid_ratings)`` and early-stops on validation
      RMSE;
    - ``gan`` trains (or loads) its players first — ``players`` overrides their settings,
      e.g. ``{"epochs": 10}``, or per player ``{"lightgcn": {...}, "bpr": {...}}`` — then
      plays the game; the returned model is the
      :class:`~gnnrec_utils.gan.PolicyGenerator`, with its trained discriminator as
      ``model.discriminator``.

    ``store`` (a :class:`~gnnrec_utils.store.ModelStore`): load the model if it was trained
    before for the same recipe, settings, split and seed; otherwise train and save it, and say
    which in one line (``say``). ``test_evaluator`` (a test curve in the history) bypasses the
    store. Closed-form models are never stored (they are fitted in seconds).
    """
    settings = settings_of(name, epochs, model_kwargs, fit_kwargs)
    if name in CLOSED_FORM_MODELS:
        return build_model(name, train, n_users, n_items, seed, **settings["model"]), None
    from gnnrec_utils.store import split_fingerprint

    if name == "mf":
        if ratings is None:
            raise ValueError("model 'mf' needs ratings=(train_ratings, valid_ratings)")
        split = split_fingerprint(train, valid, n_users, n_items, ratings=ratings)
    else:
        split = split_fingerprint(train, valid, n_users, n_items)
    label = describe(name, settings)
    # early stopping on validation NDCG@20 (explicit MF stops on RMSE: no ranking evaluator)
    evaluator = None if name == "mf" else RankingEvaluator(valid, n_users, n_items, [train])

    if name == "gan":
        return _train_gan(
            settings,
            train,
            valid,
            n_users,
            n_items,
            seed,
            progress,
            store,
            players or {},
            say,
            evaluator,
            split,
        )

    def build():
        return build_model(
            name,
            train,
            n_users,
            n_items,
            seed,
            ratings=None if ratings is None else ratings[0],
            **settings["model"],
        )

    def fit(model):
        if name == "mf":
            from gnnrec_utils.training import fit_explicit

            return fit_explicit(
                model,
                *train,
                ratings[0],
                valid=(*valid, ratings[1]),
                seed=seed,
                progress=progress,
                desc=label,
                **settings["fit"],
            )
        from gnnrec_utils.training import fit_bpr

        return fit_bpr(
            model,
            *train,
            evaluator=evaluator,
            test_evaluator=test_evaluator,
            seed=seed,
            progress=progress,
            desc=label,
            **settings["fit"],
        )

    if store is None or test_evaluator is not None:
        model = build()
        return model, fit(model)
    model, history, _ = store.fit_or_load(
        name, settings, split, seed, build, fit, label=label, say=say
    )
    return model, history


def _train_gan(
    settings, train, valid, n_users, n_items, seed, progress, store, players, say, evaluator, split
):
    """The GAN recipe: its two players from the registry (stored), then :func:`gan.fit_gan`."""
    from gnnrec_utils import gan

    roles = MODEL_DEFAULTS["gan"]["players"]
    overrides = {key: _player_overrides(players, key) for key in roles.values()}
    player_settings = {
        role: {key: settings_of(key, **overrides[key])} for role, key in roles.items()
    }
    trained = {}
    for role, key in roles.items():
        trained[role], _ = train_model(
            key,
            train,
            valid,
            n_users,
            n_items,
            seed=seed,
            progress=progress,
            store=store,
            say=say,
            **overrides[key],
        )
    full = {**settings, "players": player_settings}
    g_key = roles["generator"]

    def build():
        generator = gan.PolicyGenerator(
            build_model(
                g_key,
                train,
                n_users,
                n_items,
                seed,
                **player_settings["generator"][g_key]["model"],
            ),
            temperature=settings["model"]["temperature"],
            exclude=train if settings["model"]["exclude_train"] else None,
        )
        generator.model.set_weights(trained["generator"].get_weights())
        return _GANPair(generator, gan.Discriminator.from_model(trained["discriminator"]))

    def fit(pair):
        return gan.fit_gan(
            pair.generator,
            pair.discriminator,
            *train,
            evaluator=evaluator,
            seed=seed,
            progress=progress,
            desc=LABELS["gan"],
            **settings["fit"],
        )

    if store is None:
        pair = build()
        history = fit(pair)
    else:
        pair, history, _ = store.fit_or_load(
            "gan",
            full,
            split,
            seed,
            build,
            fit,
            label=_gan_label(settings, player_settings),
            say=say,
        )
    pair.generator.discriminator = pair.discriminator
    return pair.generator, history


def _gan_label(settings: dict, player_settings: dict) -> str:
    """``describe`` of the GAN, plus its players' settings where they differ from the registry
    (no colon inside: a store report reads "<name> (seed s): …")."""
    parts = [", ".join(_changes("gan", settings))]
    played = {
        ", ".join(_changes(key, ps))
        for role in player_settings.values()
        for key, ps in role.items()
    }
    parts.append("players " + "; ".join(sorted(played - {""})) if played - {""} else "")
    parts = [p for p in parts if p]
    return LABELS["gan"] + (f" [{'; '.join(parts)}]" if parts else "")


def _player_overrides(players: dict, key: str) -> dict:
    """``players`` as keyword arguments of :func:`train_model`/:func:`settings_of` for the
    player ``key``: one set for both (``{"epochs": 10}``) or one per player
    (``{"lightgcn": {"epochs": 15}, "bpr": {"epochs": 10}}``)."""
    if any(k in MODEL_DEFAULTS for k in players):
        unknown = set(players) - set(MODEL_DEFAULTS["gan"]["players"].values())
        if unknown:
            raise ValueError(
                f"players are {sorted(MODEL_DEFAULTS['gan']['players'].values())}, "
                f"got {sorted(unknown)}"
            )
        players = players.get(key, {})
    allowed = {"epochs", "model_kwargs", "fit_kwargs"}
    unknown = set(players) - allowed
    if unknown:
        raise ValueError(f"players takes {sorted(allowed)}, got {sorted(unknown)}")
    return dict(players)
