"""Unit tests never write to the course's model store (outputs/models): each test session gets
its own store folder, so a test that trains through the store starts from an empty one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_model_store(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("GNNREC_MODEL_STORE", str(tmp_path_factory.mktemp("model_store")))
    yield
    mp.undo()
