r"""Graph layers on the fast sparse operator: one ``GCNConv`` and one GraphSAGE layer.

Spektral's layers multiply by the graph as a ``tf.SparseTensor`` with
``tf.sparse.sparse_dense_matmul``; on CPU that product is several times (about 10-15x on the
MovieLens graph, ``docs/recommenders.md``) slower than the CSR kernel of
:class:`gnnrec_utils.graph.SparsePropagation`. The two layers here are Spektral's, with the
same weights, initialisers, config and formula; only that product is handed to a
*propagation*: any callable ``H -> A H`` (usually a ``SparsePropagation`` from
:func:`gnnrec_utils.graph.to_tf_operator`). The unit tests compare both with Spektral's stock
layers given the same weights.

Used by :class:`gnnrec_utils.models.GCNMF` (notebook 03) and by the node classifiers of
:mod:`gnnrec_utils.node_gnn` (notebook 04, whose section 3.3 writes the GCN layer out in plain
TensorFlow).
"""

from __future__ import annotations

import tensorflow as tf
from spektral.layers import GCNConv, GraphSageConv

__all__ = ["PropagatedGCNConv", "PropagatedGraphSageConv"]


def _first(inputs):
    return inputs[0] if isinstance(inputs, (list, tuple)) else inputs


class PropagatedGCNConv(GCNConv):
    r"""Spektral's ``GCNConv`` whose sparse product :math:`\tilde A (XW)` runs on ``propagation``.

    .. math::
        X' = \sigma(\tilde A X W + \mathbf b), \qquad
        \tilde A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}

    (Kipf & Welling, 2017, eq. 2). The layer holds :math:`\tilde A` as ``propagation``, a
    callable ``H -> Ã H`` such as :class:`gnnrec_utils.graph.SparsePropagation`.

    **Input**: ``[x]`` or ``[x, a]``, ``x`` of shape ``(n_nodes, n_features)`` (dense, or a
    ``tf.SparseTensor`` such as :math:`X = I`). **Output**: ``(n_nodes, channels)``.

    - ``propagation`` given: ``a``, if passed, is ignored;
    - ``propagation=None`` and ``a`` passed: exactly Spektral's layer (its own
      ``tf.sparse.sparse_dense_matmul`` with ``a``);
    - ``propagation=None`` and no ``a``: :math:`\tilde A = I`, a dense layer (notebook 04's
      feature-only MLP).

    Reference: Kipf & Welling (2017), "Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR. Taught in notebooks 02-04.
    """

    def __init__(self, channels, propagation=None, **kwargs):
        super().__init__(channels, **kwargs)
        self.propagation = propagation

    def build(self, input_shape):
        super().build([_first(input_shape), (None, None)])

    def call(self, inputs, mask=None):
        if self.propagation is None and isinstance(inputs, (list, tuple)) and len(inputs) > 1:
            return super().call(inputs, mask=mask)
        x = _first(inputs)
        if isinstance(x, tf.SparseTensor):
            out = tf.sparse.sparse_dense_matmul(x, self.kernel)
        else:
            out = tf.matmul(x, self.kernel)
        if self.propagation is not None:
            out = self.propagation(out)
        if self.use_bias:
            out = tf.nn.bias_add(out, self.bias)
        return self.activation(out)


class PropagatedGraphSageConv(GraphSageConv):
    r"""Spektral's ``GraphSageConv`` (mean aggregator) with the mean as a sparse product.

    .. math::
        X' = \sigma\Big(\frac{[X \,\|\, M X]\, W + \mathbf b}{\lVert [X \,\|\, M X]\, W
        + \mathbf b \rVert_2}\Big), \qquad M = \tilde D^{-1} (A + I)

    Spektral's layer averages each node's neighbours *and itself* (it adds self-loops before
    a gather/scatter mean), which is :math:`M X` with the row-normalised operator
    ``graph.normalized_adjacency(A, "row", self_loops=True)``; here that product is done by
    ``mean_propagation`` (a ``SparsePropagation``). Output rows are L2-normalised, as in
    Spektral and Hamilton et al. (2017).

    **Input**: ``[x]``, ``x`` of shape ``(n_nodes, n_features)``. **Output**:
    ``(n_nodes, channels)``.

    Reference: Hamilton, Ying & Leskovec (2017), "Inductive Representation Learning on Large
    Graphs", NeurIPS. Taught in notebook 04.
    """

    def __init__(self, channels, mean_propagation, **kwargs):
        super().__init__(channels, aggregate="mean", **kwargs)
        self.mean_propagation = mean_propagation

    def build(self, input_shape):
        super().build([_first(input_shape), (None, None)])

    def call(self, inputs):
        x = _first(inputs)
        out = tf.concat([x, self.mean_propagation(x)], axis=-1)
        out = tf.matmul(out, self.kernel)
        if self.use_bias:
            out = tf.nn.bias_add(out, self.bias)
        out = tf.math.l2_normalize(out, axis=-1)
        return self.activation(out) if self.activation is not None else out
