"""The Keras flag guard and the TensorFlow + tf-keras + Spektral stack (smoke test)."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.unit


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environ.update(env)
    environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300
    )


def test_importing_gnnrec_utils_first_selects_tf_keras():
    proc = _run(
        "import gnnrec_utils, tensorflow as tf\n"
        "from spektral.layers import GCNConv\n"
        "print(tf.keras.layers.Dense.__module__)\n"
        "print(GCNConv.__mro__[2].__module__)\n"
    )
    assert proc.returncode == 0, proc.stderr
    dense_module, spektral_base = proc.stdout.split()
    assert dense_module.startswith("tf_keras.")
    assert spektral_base.startswith("tf_keras.")


def test_tensorflow_imported_first_with_keras3_raises_clear_error():
    proc = _run("import tensorflow\nimport gnnrec_utils\n")
    assert proc.returncode != 0
    assert "KerasVersionError" in proc.stderr
    assert "TF_USE_LEGACY_KERAS=1" in proc.stderr  # the message names the fix
    assert "make kernel" in proc.stderr


def test_flag_set_to_keras3_value_raises():
    proc = _run("import gnnrec_utils\n", TF_USE_LEGACY_KERAS="0")
    assert proc.returncode != 0
    assert "TF_USE_LEGACY_KERAS='0'" in proc.stderr


def test_flag_in_environment_lets_tensorflow_come_first():
    proc = _run(
        "import tensorflow as tf\nimport gnnrec_utils\nprint(tf.keras.layers.Dense.__module__)",
        TF_USE_LEGACY_KERAS="1",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("tf_keras.")


def test_spektral_gcnconv_model_runs_on_tiny_graph():
    """Smoke test of the whole stack: a Spektral GCNConv model built and run on a path graph."""
    import gnnrec_utils  # noqa: F401  (selects tf-keras)

    import tensorflow as tf
    from spektral.layers import GCNConv
    from spektral.utils import gcn_filter

    adjacency = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype="float32")
    features = np.eye(3, dtype="float32")
    a_hat = gcn_filter(adjacency)
    x_in = tf.keras.Input(shape=(3,))
    a_in = tf.keras.Input(shape=(3,))
    out = GCNConv(2, activation=None, use_bias=False)([x_in, a_in])
    model = tf.keras.Model([x_in, a_in], out)
    result = model([features[None], a_hat[None]]).numpy()[0]
    weights = model.layers[-1].get_weights()[0]
    np.testing.assert_allclose(result, a_hat @ features @ weights, atol=1e-6)
    assert result.shape == (3, 2)
