"""Session-scoped fixtures shared by the whole suite.

Everything is built once per test session in temporary folders; nothing in the suite writes into
``common/utils/human_model_files/``, ``data/`` or ``output/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Headless rendering on CPU unless the caller chose a platform.
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
# The suite never downloads: the demos' detector path reports missing weights instead.
os.environ.setdefault("POSE2POSE_NO_DOWNLOAD", "1")


@pytest.fixture(scope="session")
def standin_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-in SMPL/MANO/FLAME files in the official layout (chumpy-style pickles)."""
    from tool.standin import make_standin_models

    out = tmp_path_factory.mktemp("human_model_files")
    make_standin_models(str(out))
    return out


@pytest.fixture(scope="session")
def standin_model_dir_numpy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same stand-ins as cleaned pickles of plain NumPy arrays (readable by smplx itself)."""
    from tool.standin import make_standin_models

    out = tmp_path_factory.mktemp("human_model_files_numpy")
    make_standin_models(str(out), variant="numpy")
    return out


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory: pytest.TempPathFactory, standin_model_dir: Path) -> Path:
    """Fixture data sets in their real layouts (``tool/make_fixtures.py``), all writers."""
    from tool.make_fixtures import make_fixtures

    out = tmp_path_factory.mktemp("data")
    make_fixtures(str(out), str(standin_model_dir))
    return out
