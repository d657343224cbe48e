"""gnnrec_utils.layers: the GCN and GraphSAGE layers on the CSR operator equal Spektral's.

Both layers are Spektral's with only the sparse product moved to
:class:`gnnrec_utils.graph.SparsePropagation`; given the same weights they must give
Spektral's outputs and gradients. The two products sum in different orders, so the
comparison allows float32 round-off: ``atol=1e-5`` on values of order 1.
"""

from __future__ import annotations

from gnnrec_utils import graph

import numpy as np
import pytest
import scipy.sparse as sp

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")
spektral_layers = pytest.importorskip("spektral.layers")
layers = pytest.importorskip("gnnrec_utils.layers")

ATOL = 1e-5  # float32 round-off of two summation orders of the same sparse product


def _sparse(M):
    coo = sp.coo_matrix(M)
    idx = np.stack([coo.row, coo.col], 1).astype(np.int64)
    return tf.sparse.reorder(tf.SparseTensor(idx, coo.data.astype(np.float32), coo.shape))


@pytest.fixture(scope="module")
def bipartite():
    rng = np.random.default_rng(6)
    A = graph.bipartite_adjacency((rng.random((7, 5)) < 0.5).astype(float))
    x = tf.constant(rng.normal(size=(12, 3)), tf.float32)
    return A, x


def _outputs_and_grads(layer, inputs, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(inputs)
        loss = tf.reduce_sum(tf.square(out))
    grads = tape.gradient(loss, [*layer.trainable_variables, x])
    return out.numpy(), [g.numpy() for g in grads]


def test_gcn_layer_equals_spektral_gcnconv_values_and_gradients(bipartite):
    from spektral.utils import gcn_filter

    A, x = bipartite
    a_tilde = graph.gcn_operator(A)
    np.testing.assert_allclose(a_tilde.toarray(), gcn_filter(A.toarray()), atol=1e-12)
    ref = spektral_layers.GCNConv(4, activation="relu")
    out_ref, g_ref = _outputs_and_grads(ref, [x, _sparse(a_tilde)], x)
    ours = layers.PropagatedGCNConv(4, graph.to_tf_operator(a_tilde), activation="relu")
    ours([x])
    ours.set_weights(ref.get_weights())
    for inputs in ([x], [x, _sparse(a_tilde)]):  # with an operator, ``a`` is ignored
        out, g = _outputs_and_grads(ours, inputs, x)
        np.testing.assert_allclose(out, out_ref, atol=ATOL)
        for a, b in zip(g, g_ref, strict=True):
            np.testing.assert_allclose(a, b, atol=ATOL)


def test_gcn_layer_without_operator_is_spektral_or_a_dense_layer(bipartite):
    A, x = bipartite
    a_tilde = _sparse(graph.gcn_operator(A))
    ref = spektral_layers.GCNConv(4)
    ours = layers.PropagatedGCNConv(4)
    ours.build([x.shape, a_tilde.shape])
    ref([x, a_tilde])
    ref.set_weights(ours.get_weights())
    # with ``a`` and no operator: Spektral's own code path, bit for bit
    np.testing.assert_array_equal(ours([x, a_tilde]).numpy(), ref([x, a_tilde]).numpy())
    # without either: A~ = I, the dense layer X W + b
    kernel, bias = ours.get_weights()
    np.testing.assert_allclose(ours([x]).numpy(), x.numpy() @ kernel + bias, atol=ATOL)


def test_sage_layer_equals_spektral_graphsageconv(bipartite):
    A, x = bipartite
    ref = spektral_layers.GraphSageConv(4, aggregate="mean")
    out_ref, g_ref = _outputs_and_grads(ref, [x, _sparse(A)], x)
    mean = graph.normalized_adjacency(A, "row", self_loops=True)
    ours = layers.PropagatedGraphSageConv(4, graph.to_tf_operator(mean))
    ours([x])
    ours.set_weights(ref.get_weights())
    out, g = _outputs_and_grads(ours, [x], x)
    np.testing.assert_allclose(out, out_ref, atol=ATOL)
    for a, b in zip(g, g_ref, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL)
