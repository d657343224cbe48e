"""Unit tests never write to the course's model store (outputs/models): each test session gets
its own store folder, so a test that trains through the store starts from an empty one.

The variable is set for each unit test only (not for the whole session): with pytest-xdist a
worker runs unit tests and notebook tests in one session, and the notebooks' kernels must keep
the shared store of ``make test`` (GNNREC_OUTPUT_DIR/models)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _private_store_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("model_store")


@pytest.fixture(autouse=True)
def _private_model_store(_private_store_dir, monkeypatch):
    monkeypatch.setenv("GNNREC_MODEL_STORE", str(_private_store_dir))
