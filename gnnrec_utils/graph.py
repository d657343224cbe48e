"""Graph operators for recommenders: interaction matrices, adjacencies, normalisations.

Everything here is NumPy/SciPy except the propagation operator (:func:`to_tf_operator`,
:func:`propagate`), which imports TensorFlow lazily, inside the functions, so that
``import gnnrec_utils.graph`` stays light for data-only notebooks.

Conventions: node ids are 0-based integers; in a bipartite user-item graph the users come
first (nodes ``0 … n_users-1``) and the items after them (``n_users … n_users+n_items-1``).
All builders return ``scipy.sparse.csr_matrix`` in float64 unless told otherwise.

Taught in ``notebooks/02_gcn_propagation.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils._validate import index_array

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "interaction_matrix",
    "interaction_union",
    "bipartite_adjacency",
    "user_item_adjacency",
    "degrees",
    "normalized_adjacency",
    "gcn_operator",
    "lightgcn_operator",
    "powerlaw_bipartite_edges",
    "KERNELS",
    "SparsePropagation",
    "to_tf_operator",
    "propagate",
    "enable_onednn_spmm",
]

NORMALIZATIONS = ("symmetric", "row", "none")
LOOP_MODES = ("add", "set")


def interaction_matrix(
    users, items, n_users: int, n_items: int, values=None, duplicates: str = "raise"
) -> sp.csr_matrix:
    r"""The user-item interaction matrix :math:`R` — the one builder of the package.

    .. math::
        R_{ui} = \begin{cases} v_{ui} & \text{if } (u, i) \text{ is observed} \\
                 0 & \text{otherwise} \end{cases}

    **Input**

    - ``users``, ``items``: integer arrays of shape ``(n_interactions,)``, 0-based ids;
    - ``values``: array of shape ``(n_interactions,)`` (ratings, weights), or None for 1.

    **Output**

    - ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_items)``, float64.

    **Arguments**

    - ``n_users``, ``n_items``: number of users and items (ids must lie below them);
    - ``values``: the entries; None puts 1.0 for every observed pair (implicit feedback);
    - ``duplicates``: ``"raise"`` (default): a repeated ``(user, item)`` pair raises
      ``ValueError`` rather than being summed silently (scipy's default); ``"collapse"``: the
      binary indicator :math:`R \in \{0, 1\}^{n_u \times n_i}`, a repeated pair is one 1.0
      (``values`` must then be None). ``.astype(bool)`` gives the boolean masks of
      :class:`gnnrec_utils.metrics.RankingEvaluator`.

    Out-of-range or negative ids and mismatched lengths raise ``ValueError``.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    if duplicates not in ("raise", "collapse"):
        raise ValueError(f'duplicates must be "raise" or "collapse", got {duplicates!r}')
    n_users, n_items = int(n_users), int(n_items)
    if n_users < 0 or n_items < 0:
        raise ValueError(f"n_users and n_items must be >= 0, got {n_users}, {n_items}")
    u = index_array(users, n_users, "users")
    i = index_array(items, n_items, "items")
    if u.shape != i.shape:
        raise ValueError(f"users and items differ in length: {u.size} != {i.size}")
    if duplicates == "collapse":
        if values is not None:
            raise ValueError('duplicates="collapse" builds a 0/1 indicator; pass values=None')
        R = sp.csr_matrix((np.ones(u.size), (u, i)), shape=(n_users, n_items), dtype=np.float64)
        R.sum_duplicates()  # sorts the indices too
        R.data[:] = 1.0
        return R
    if values is None:
        v = np.ones(u.size, dtype=np.float64)
    else:
        v = np.asarray(values, dtype=np.float64)
        if v.shape != u.shape:
            raise ValueError(f"values has shape {v.shape}, expected {u.shape}")
    if u.size:
        key = u * max(n_items, 1) + i
        order = np.argsort(key, kind="stable")
        dup = key[order][1:] == key[order][:-1]
        if dup.any():
            pos = order[1:][dup]
            k = int(pos[0])
            raise ValueError(
                f"{int(dup.sum())} duplicate (user, item) pair(s); first: "
                f"({int(u[k])}, {int(i[k])}) at position {k}. Deduplicate or aggregate first."
            )
    R = sp.csr_matrix((v, (u, i)), shape=(n_users, n_items), dtype=np.float64)
    R.sort_indices()
    return R


def interaction_union(pairs, n_users: int, n_items: int) -> sp.csr_matrix:
    r"""The binary indicator of the union of several interaction sets.

    .. math:: K_{ui} = \mathbb 1\big[(u, i) \in P_1 \cup \dots \cup P_m\big]

    **Input**: ``pairs``, a sequence of ``(users, items)`` index arrays (e.g. the training and
    validation interactions that full ranking masks out).

    **Output**: ``scipy.sparse.csr_matrix`` ``(n_users, n_items)``, float64 0/1 — all zeros
    for an empty sequence. :func:`interaction_matrix` with ``duplicates="collapse"`` on the
    concatenated pairs.

    Taught in ``notebooks/06_evaluation.ipynb`` (the masks of full and sampled ranking).
    """
    users = [np.asarray(u) for u, _ in pairs]
    items = [np.asarray(i) for _, i in pairs]
    if not users:
        return sp.csr_matrix((int(n_users), int(n_items)), dtype=np.float64)
    for k, (u, i) in enumerate(zip(users, items, strict=True)):
        if u.shape != i.shape:
            raise ValueError(f"pair {k}: users and items differ in length: {u.size} != {i.size}")
    return interaction_matrix(
        np.concatenate(users), np.concatenate(items), n_users, n_items, duplicates="collapse"
    )


def bipartite_adjacency(R) -> sp.csr_matrix:
    r"""The adjacency matrix of the user-item bipartite graph, users first, then items.

    .. math::
        A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix}

    **Input**

    - ``R``: interaction matrix of shape ``(n_users, n_items)`` (sparse or dense).

    **Output**

    - ``scipy.sparse.csr_matrix`` of shape ``(n_users + n_items, n_users + n_items)``;
      node ``u`` is user ``u`` and node ``n_users + i`` is item ``i``.

    As used by NGCF and LightGCN (He et al., 2020, "LightGCN: Simplifying and Powering Graph
    Convolution Network for Recommendation", SIGIR).

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    R = sp.csr_matrix(R)
    n = R.shape[0] + R.shape[1]
    if 0 in R.shape:  # no edges possible; bmat cannot size empty blocks
        return sp.csr_matrix((n, n), dtype=np.float64)
    A = sp.bmat([[None, R], [R.T, None]], format="csr", dtype=np.float64)
    A.sort_indices()
    return A


def user_item_adjacency(users, items, n_users: int, n_items: int) -> sp.csr_matrix:
    r"""The bipartite adjacency of the given (training) interactions, users first:
    :func:`bipartite_adjacency` of :func:`interaction_matrix`.

    .. math::
        A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix}, \qquad R_{ui} = 1 \text{ if }
        (u, i) \text{ is a training interaction}

    **Input**: ``users``, ``items``: 0-based ids of shape ``(n_interactions,)``.
    **Output**: ``(n_users + n_items, n_users + n_items)`` CSR, float64, symmetric, binary.

    Pass the **training** interactions only: validation and test edges must stay invisible to
    a model that propagates along edges. Used by LightGCN, GCN + MF (notebook 03) and the node
    classifiers (notebook 04).
    """
    return bipartite_adjacency(interaction_matrix(users, items, n_users, n_items))


def degrees(A) -> np.ndarray:
    r"""Node degrees: the row sums of the (weighted) adjacency matrix.

    .. math::
        d_i = \sum_j A_{ij}

    **Input**: ``A`` of shape ``(n_nodes, n_nodes)`` (sparse or dense).
    **Output**: ``np.ndarray`` of shape ``(n_nodes,)``, float64. A self-loop counts once.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    if sp.issparse(A):
        return np.asarray(A.sum(axis=1), dtype=np.float64).ravel()
    return np.asarray(A, dtype=np.float64).sum(axis=1)


def _square_csr(A, name: str = "A") -> sp.csr_matrix:
    A = sp.csr_matrix(A, dtype=np.float64, copy=True)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be square, got shape {A.shape}")
    A.sum_duplicates()
    A.sort_indices()
    return A


def _loop_weight(self_loops: bool | float) -> float:
    if isinstance(self_loops, str):
        raise TypeError(
            "self_loops is the loop weight (bool or float); choose how existing self-loops "
            f"are treated with loop_mode='add'|'set', got self_loops={self_loops!r}"
        )
    w = float(self_loops)
    if not np.isfinite(w) or w < 0:
        raise ValueError(f"self_loops must be a finite weight >= 0, got {self_loops!r}")
    return w


def normalized_adjacency(
    A,
    kind: str = "symmetric",
    self_loops: bool | float = False,
    loop_mode: str = "add",
) -> sp.csr_matrix:
    r"""Normalise an adjacency matrix, optionally after adding self-loops.

    With :math:`M` the matrix after the self-loop step and
    :math:`D_M = \mathrm{diag}(M \mathbf 1)` its degree matrix:

    .. math::
        \text{symmetric:}\quad D_M^{-1/2} M D_M^{-1/2},
        \qquad \text{row:}\quad D_M^{-1} M,
        \qquad \text{none:}\quad M .

    Self-loops, with weight :math:`w` (``self_loops=True`` means :math:`w = 1`):

    - ``loop_mode="add"``: :math:`M = A + wI`. A node that already has a self-loop
      ends up with :math:`A_{ii} + w` — exactly what Spektral's ``gcn_filter`` (and so
      ``GCNConv.preprocess``) does;
    - ``loop_mode="set"``: :math:`M = A - \mathrm{diag}(A) + wI`: every node ends up
      with a self-loop of weight exactly :math:`w`, whatever ``A`` had on its diagonal;
    - ``self_loops=False`` (or 0): :math:`M = A`, existing self-loops are kept as they
      are (``loop_mode`` is then ignored).

    In the course's notation (notebook 02, "Notation"; :math:`D` is the degree matrix of a
    loop-free :math:`A`, :math:`\tilde D = D + I` that of :math:`A + I`):

    - ``normalized_adjacency(A)`` is :math:`\hat A = D^{-1/2} A D^{-1/2}`, LightGCN's operator
      (:func:`lightgcn_operator`);
    - ``normalized_adjacency(A, self_loops=True)`` is
      :math:`\tilde A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}`, Kipf & Welling's renormalised
      GCN operator (:func:`gcn_operator`);
    - ``normalized_adjacency(A, "row", self_loops=True)`` is
      :math:`P_\text{row} = \tilde D^{-1} (A + I)`.

    Nodes of degree 0 (isolated, only possible without self-loops) get an all-zero row and
    column: :math:`0^{-1/2}` and :math:`0^{-1}` are taken as 0, never NaN or inf. For a
    directed (non-symmetric) ``A`` the degrees are row sums (out-degrees) on both sides, as
    in Spektral. For a symmetric ``A`` with non-negative weights the symmetric operator is
    symmetric with eigenvalues in :math:`[-1, 1]`; with self-loops added, in :math:`(-1, 1]`
    (Kipf & Welling's "renormalisation trick"); the row operator is row-stochastic.

    **Input**

    - ``A``: adjacency matrix of shape ``(n_nodes, n_nodes)``, sparse or dense, weights
      :math:`\ge 0` (symmetric and row normalisation need non-negative degrees).

    **Output**

    - ``scipy.sparse.csr_matrix`` of shape ``(n_nodes, n_nodes)``, float64, sorted indices.

    **Arguments**

    - ``kind``: ``"symmetric"`` (GCN, LightGCN), ``"row"`` (mean aggregation, random walk)
      or ``"none"``;
    - ``self_loops``: weight :math:`w` of the self-loops to add (``True`` = 1.0);
    - ``loop_mode``: ``"add"`` or ``"set"``, see above.

    References: Kipf & Welling (2017), "Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR, eq. 2; He et al. (2020), "LightGCN: Simplifying and
    Powering Graph Convolution Network for Recommendation", SIGIR, eq. 7.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    if kind not in NORMALIZATIONS:
        raise ValueError(f"kind must be one of {NORMALIZATIONS}, got {kind!r}")
    if loop_mode not in LOOP_MODES:
        raise ValueError(f"loop_mode must be one of {LOOP_MODES}, got {loop_mode!r}")
    w = _loop_weight(self_loops)
    A = _square_csr(A)
    n = A.shape[0]
    if w > 0:
        if loop_mode == "set":
            A = A - sp.diags(A.diagonal(), format="csr")
        A = (A + sp.identity(n, dtype=np.float64, format="csr") * w).tocsr()
        A.eliminate_zeros()  # entries cancelled by "set" leave no explicit zeros
        A.sort_indices()
    if kind == "none":
        return A
    d = degrees(A)
    if (d < 0).any():
        raise ValueError(
            f"{kind} normalisation needs non-negative degrees; {int((d < 0).sum())} node(s) "
            "have a negative row sum (negative edge weights?)"
        )
    positive = d > 0
    inv = np.zeros(n, dtype=np.float64)
    rows = np.repeat(np.arange(n), np.diff(A.indptr))
    if kind == "symmetric":
        inv[positive] = 1.0 / np.sqrt(d[positive])
        # One product per entry, so that (i, j) and (j, i) get bit-identical scales and a
        # symmetric A gives an exactly symmetric result.
        A.data *= inv[rows] * inv[A.indices]
    else:
        inv[positive] = 1.0 / d[positive]
        A.data *= inv[rows]
    return A


def gcn_operator(A, loop_mode: str = "add") -> sp.csr_matrix:
    r"""Kipf & Welling's renormalised GCN propagation operator :math:`\tilde A`.

    .. math::
        \tilde A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}, \qquad
        \tilde D = \mathrm{diag}\big((A + I)\mathbf 1\big) = D + I

    The course's notation (notebook 02): the tilde marks the self-loops. Kipf & Welling's paper
    writes :math:`\tilde A` for :math:`A + I` and :math:`\hat A` for this operator.

    Same as ``normalized_adjacency(A, "symmetric", self_loops=True, loop_mode=loop_mode)``;
    with the default ``loop_mode="add"`` it equals Spektral's ``gcn_filter(A)`` (an existing
    self-loop of weight :math:`a` becomes :math:`a + 1`; ``"set"`` makes it 1).

    **Input**: ``A`` of shape ``(n_nodes, n_nodes)``, non-negative weights.
    **Output**: ``scipy.sparse.csr_matrix`` of shape ``(n_nodes, n_nodes)``, float64; for a
    symmetric ``A`` it is symmetric with eigenvalues in :math:`(-1, 1]`.

    Reference: Kipf & Welling (2017), "Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    return normalized_adjacency(A, "symmetric", self_loops=True, loop_mode=loop_mode)


def lightgcn_operator(A) -> sp.csr_matrix:
    r"""LightGCN's propagation operator :math:`\hat A`: symmetric normalisation, no self-loops.

    .. math::
        \hat A = D^{-1/2} A D^{-1/2}, \qquad
        A = \begin{pmatrix} 0 & R \\ R^\top & 0 \end{pmatrix}

    The course's notation (notebook 02); LightGCN's paper writes :math:`\tilde A` for it, and
    :func:`gcn_operator` builds the course's :math:`\tilde A` (with self-loops).

    Same as ``normalized_adjacency(A, "symmetric")``: self-loops already in ``A`` are kept,
    isolated nodes (users or items without training interactions) get zero rows.

    **Input**: ``A`` of shape ``(n_nodes, n_nodes)``, usually
    ``bipartite_adjacency(R)``.
    **Output**: ``scipy.sparse.csr_matrix`` of shape ``(n_nodes, n_nodes)``, float64; for a
    symmetric ``A`` it is symmetric with eigenvalues in :math:`[-1, 1]` (a bipartite graph
    always has both -1 and 1).

    Reference: He et al. (2020), "LightGCN: Simplifying and Powering Graph Convolution
    Network for Recommendation", SIGIR, eq. 7.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    return normalized_adjacency(A, "symmetric")


def powerlaw_bipartite_edges(
    n_users: int,
    n_items: int,
    n_edges: int,
    *,
    min_user_degree: int = 1,
    max_user_degree: int | None = None,
    user_exponent: float = 2.0,
    item_exponent: float = 0.5,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A synthetic user-item edge list with power-law degrees, without duplicate pairs.

    User degrees are :math:`d_u = d_{\min} + e_u` with :math:`e_u` proportional to Pareto
    draws (shape ``user_exponent``), scaled so that :math:`\sum_u d_u` is exactly
    ``n_edges`` and no user exceeds ``max_user_degree`` (default ``n_items``). Each user then
    picks :math:`d_u` distinct items with probability proportional to a Zipf popularity
    :math:`p_i \propto (\text{rank}_i)^{-\text{item\_exponent}}` over a random item order.
    Used as a stand-in for MovieLens when the real data are not at hand: 943 users, 1,682
    items, 70,000 edges, ``min_user_degree=14, max_user_degree=516`` mimic a 70 % training
    sample of MovieLens-100K (every user has 20 to 737 ratings there); the default exponents
    then give a median user degree of about 44 and a most popular item with about 450
    users, close to that sample (about 45 and 410).

    **Output**: ``(users, items)``, two int64 arrays of shape ``(n_edges,)``, sorted by
    user, ready for :func:`interaction_matrix`.

    **Arguments**

    - ``rng``: a ``np.random.Generator`` or a seed (the function never touches global state).
    """
    rng = np.random.default_rng(rng)
    n_users, n_items, n_edges = int(n_users), int(n_items), int(n_edges)
    if n_users <= 0 or n_items <= 0:
        raise ValueError("n_users and n_items must be positive")
    if not 0 <= min_user_degree <= n_items:
        raise ValueError(f"min_user_degree must lie in [0, n_items], got {min_user_degree}")
    max_deg = n_items if max_user_degree is None else int(max_user_degree)
    if not min_user_degree <= max_deg <= n_items:
        raise ValueError(f"max_user_degree must lie in [min_user_degree, n_items], got {max_deg}")
    if not min_user_degree * n_users <= n_edges <= n_users * max_deg:
        raise ValueError(
            f"n_edges={n_edges} is impossible: need {min_user_degree * n_users} <= n_edges "
            f"<= {n_users * max_deg} (n_users times the min and max user degree)"
        )
    deg = np.full(n_users, min_user_degree, dtype=np.int64)
    room = max_deg - deg
    left = n_edges - int(deg.sum())
    weights = rng.pareto(user_exponent, n_users) + 1e-12
    while left > 0:  # hand out the remaining edges in proportion, respecting the caps
        w = np.where(room > 0, weights, 0.0)
        share = np.minimum(np.floor(w / w.sum() * left).astype(np.int64), room)
        if share.sum() == 0:  # rounding left a few: give one each to the heaviest users
            order = np.argsort(-w, kind="stable")[: min(left, int((room > 0).sum()))]
            share = np.zeros_like(deg)
            share[order] = 1
        deg += share
        room -= share
        left -= int(share.sum())
    ranks = rng.permutation(n_items) + 1.0
    popularity = ranks**-item_exponent
    popularity /= popularity.sum()
    items = np.empty(n_edges, dtype=np.int64)
    start = 0
    for d in deg:
        items[start : start + d] = np.sort(
            rng.choice(n_items, size=int(d), replace=False, p=popularity)
        )
        start += int(d)
    users = np.repeat(np.arange(n_users, dtype=np.int64), deg)
    return users, items


# ---------------------------------------------------------------------------------------
# Propagation operator (TensorFlow, imported lazily)
# ---------------------------------------------------------------------------------------

KERNELS = ("csr", "sparse_tensor", "dense")
"""TensorFlow kernels for :math:`\\hat A H`; ``"auto"`` picks ``"csr"`` (see
``docs/benchmarks.md``, section "Propagation kernels")."""

ONEDNN_SPMM_FLAG = "TF_ENABLE_ONEDNN_SPMM"
_MAX_DENSE_ENTRIES = 2**28  # 1 GiB in float32: beyond that "dense" is refused


def enable_onednn_spmm() -> bool:
    """Let TensorFlow run ``SparseMatrixMatMul`` with oneDNN inside ``tf.function`` too.

    TensorFlow's x86 builds run float32 ``SparseMatrixMatMul`` eagerly with a oneDNN kernel,
    but inside ``tf.function`` (graph mode) only when the environment variable
    ``TF_ENABLE_ONEDNN_SPMM`` is ``1``; otherwise graphs use a plain Eigen kernel that is
    1.3-2.8x slower on CPU (measured in ``docs/benchmarks.md``). TensorFlow reads the
    variable **once**, when it first optimises a graph that contains ``SparseMatrixMatMul``,
    so this must run before that — :class:`SparsePropagation` calls it when it is built.

    Sets the variable only when it is unset (an explicit ``0`` is respected); returns whether
    it is now ``"1"``. Has no effect on GPUs or on TensorFlow builds without oneDNN.
    """
    os.environ.setdefault(ONEDNN_SPMM_FLAG, "1")
    return os.environ[ONEDNN_SPMM_FLAG] == "1"


def _csr_available() -> bool:
    try:
        from tensorflow.python.ops.linalg.sparse import sparse_csr_matrix_ops  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the TensorFlow build
        return False
    return True


def _resolve_kernel(kernel: str) -> str:
    if kernel == "auto":
        return "csr" if _csr_available() else "sparse_tensor"
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'auto' or one of {KERNELS}, got {kernel!r}")
    if kernel == "csr" and not _csr_available():  # pragma: no cover
        raise ImportError("this TensorFlow build has no CSRSparseMatrix ops; use 'sparse_tensor'")
    return kernel


class SparsePropagation:
    r"""A fixed propagation matrix as a TensorFlow callable: ``op(H)`` returns :math:`\hat A H`.

    .. math::
        H' = \hat A H, \qquad
        \frac{\partial L}{\partial H} = \hat A^\top \frac{\partial L}{\partial H'}

    Works eagerly and inside ``tf.function`` / Keras layers, for float32 and float64 ``H``
    (a copy of :math:`\hat A` per dtype is made on first use, always eagerly, so tracing a
    function never bakes the matrix into a graph). The gradient w.r.t. ``H`` is a custom
    gradient that multiplies by :math:`\hat A^\top` (the same matrix when :math:`\hat A` is
    symmetric, a stored transpose otherwise); :math:`\hat A` itself is a constant and gets
    no gradient — TensorFlow's own gradient of ``SparseMatrixMatMul`` would also compute the
    (unused) gradient w.r.t. the sparse values, and the ``SparseTensor`` one transposes on
    every call.

    **Input**: ``H`` of shape ``(n_nodes, n_features)`` (tensor, variable or array).
    **Output**: tensor of shape ``(n_nodes, n_features)``, dtype of ``H``.

    **Arguments**

    - ``A_hat``: the operator, shape ``(n_nodes, n_nodes)`` (e.g. :func:`lightgcn_operator`);
    - ``kernel``: ``"csr"`` (``tf.raw_ops.SparseMatrixMatMul`` on a ``CSRSparseMatrix``;
      the fastest on CPU), ``"sparse_tensor"`` (``tf.sparse.sparse_dense_matmul``), ``"dense"``
      (``tf.matmul`` on the densified matrix; small graphs only) or ``"auto"`` (= ``"csr"``);
    - ``dtype``: dtype of the copy built immediately (others are built on demand);
    - ``onednn_spmm``: call :func:`enable_onednn_spmm` (``"csr"`` only), so that the oneDNN
      kernel also runs inside ``tf.function``.

    ``"csr"`` uses TensorFlow's ``CSRSparseMatrix`` wrapper from
    ``tensorflow.python.ops.linalg.sparse`` (internal, stable since TF 2.1) because the raw
    variant tensor needs its shape metadata to be captured by ``tf.function``.
    Models that hold this operator are not SavedModel-serialisable (variant constants).

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """

    def __init__(
        self,
        A_hat,
        kernel: str = "auto",
        dtype: Any = "float32",
        onednn_spmm: bool = True,
    ):
        A = _square_csr(A_hat, "A_hat")
        if not np.isfinite(A.data).all():
            raise ValueError("A_hat has NaN or inf entries")
        self.kernel = _resolve_kernel(kernel)
        if self.kernel == "dense" and A.shape[0] ** 2 > _MAX_DENSE_ENTRIES:
            raise ValueError(
                f"kernel='dense' would need a {A.shape[0]}x{A.shape[0]} dense matrix; "
                "use kernel='csr'"
            )
        if self.kernel == "csr" and onednn_spmm:
            enable_onednn_spmm()
        self.shape: tuple[int, int] = A.shape
        self.nnz: int = int(A.nnz)
        diff = A - A.T
        self.symmetric: bool = bool(diff.nnz == 0 or np.abs(diff.data).max() == 0)
        self._A = A
        self._AT = A if self.symmetric else A.T.tocsr()
        self._AT.sort_indices()
        self._cache: dict[str, tuple[Any, Any]] = {}
        self._matrices(dtype)

    @property
    def matrix(self) -> sp.csr_matrix:
        """The operator as the SciPy CSR matrix it was built from (read-only by convention)."""
        return self._A

    def __repr__(self) -> str:
        return (
            f"SparsePropagation(shape={self.shape}, nnz={self.nnz}, kernel={self.kernel!r}, "
            f"symmetric={self.symmetric})"
        )

    def _build(self, M: sp.csr_matrix, dtype):
        import tensorflow as tf

        if self.kernel == "dense":
            return tf.constant(M.toarray(), dtype=dtype)
        coo = M.tocoo()  # row-major order: M has sorted indices
        indices = np.stack([coo.row, coo.col], axis=1).astype(np.int64)
        st = tf.SparseTensor(indices, tf.constant(coo.data, dtype=dtype), M.shape)
        if self.kernel == "sparse_tensor":
            return st
        from tensorflow.python.ops.linalg.sparse import sparse_csr_matrix_ops

        # The wrapper attaches the shape/dtype handle data that tf.function needs.
        return sparse_csr_matrix_ops.CSRSparseMatrix(st)._matrix

    def _matrices(self, dtype):
        import tensorflow as tf

        dtype = tf.as_dtype(dtype)
        if not dtype.is_floating:
            raise TypeError(f"propagation needs a floating dtype, got {dtype.name}")
        if dtype.name not in self._cache:
            with tf.init_scope():  # build eagerly even when first called while tracing
                fwd = self._build(self._A, dtype)
                bwd = fwd if self.symmetric else self._build(self._AT, dtype)
            self._cache[dtype.name] = (fwd, bwd)
        return self._cache[dtype.name]

    def _matmul(self, M, H):
        import tensorflow as tf

        if self.kernel == "csr":
            return tf.raw_ops.SparseMatrixMatMul(a=M, b=H)
        if self.kernel == "sparse_tensor":
            return tf.sparse.sparse_dense_matmul(M, H)
        return tf.matmul(M, H)

    def __call__(self, H):
        import tensorflow as tf

        H = tf.convert_to_tensor(H)  # reads a tf.Variable, so its gradient flows normally
        if H.shape.rank != 2:
            raise ValueError(f"H must have shape (n_nodes, n_features), got {H.shape}")
        if H.shape[0] is not None and H.shape[0] != self.shape[1]:
            raise ValueError(f"H has {H.shape[0]} rows, the operator needs {self.shape[1]}")
        fwd, bwd = self._matrices(H.dtype)

        @tf.custom_gradient
        def _apply(h):
            def grad(upstream):
                return self._matmul(bwd, upstream)

            return self._matmul(fwd, h), grad

        return _apply(H)

    @property
    def T(self) -> SparsePropagation:
        """The transposed operator :math:`\\hat A^\\top` (same kernel)."""
        if self.symmetric:
            return self
        return SparsePropagation(self._AT, kernel=self.kernel, onednn_spmm=False)


def to_tf_operator(
    A_hat, kernel: str = "auto", dtype: Any = "float32", onednn_spmm: bool = True
) -> SparsePropagation:
    r"""Wrap :math:`\hat A` as a TensorFlow callable ``op(H) = A_hat @ H`` with gradients.

    Shorthand for :class:`SparsePropagation` (see there for ``kernel``, ``dtype`` and
    ``onednn_spmm``). ``kernel="auto"`` is ``"csr"``, the fastest kernel measured on CPU in
    ``docs/benchmarks.md``.

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    return SparsePropagation(A_hat, kernel=kernel, dtype=dtype, onednn_spmm=onednn_spmm)


def propagate(op: Callable[[Any], Any], H, n_layers: int) -> list:
    r"""Apply a propagation operator ``n_layers`` times and keep every layer.

    .. math::
        H^{(0)} = H, \qquad H^{(k+1)} = \hat A H^{(k)}, \quad k = 0, \dots, K-1

    **Input**: ``H`` of shape ``(n_nodes, n_features)``; ``op`` any callable computing
    :math:`\hat A H` — a :class:`SparsePropagation`, or ``lambda H: A_hat @ H`` for NumPy.
    **Output**: list of ``n_layers + 1`` arrays/tensors of shape ``(n_nodes, n_features)``;
    ``outputs[k]`` is :math:`\hat A^k H` and ``outputs[0]`` is ``H`` itself, so LightGCN's
    final embedding is the mean of the list (He et al., 2020, eq. 8).

    Taught in ``notebooks/02_gcn_propagation.ipynb``.
    """
    if int(n_layers) != n_layers or n_layers < 0:
        raise ValueError(f"n_layers must be a non-negative integer, got {n_layers!r}")
    outputs = [H]
    for _ in range(int(n_layers)):
        outputs.append(op(outputs[-1]))
    return outputs
