"""Loading a scikit-learn model must not import torch (seconds, hundreds of MiB) just
because it is installed, and must trust exactly the types skops trusts on its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("skops.io")

_REPORT = (
    "import json, sys\n"
    "from skops.io import _trusted_types as t\n"
    "print(json.dumps({'torch': 'torch' in sys.modules, 'trusted': sorted(\n"
    "    t.SKLEARN_ESTIMATOR_TYPE_NAMES + t.SKLEARN_INTERNAL_TYPE_NAMES)}))\n"
)


def _run(prelude: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", prelude + _REPORT], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_skops_loads_without_torch_and_trusts_the_same_types() -> None:
    ours = _run("from slipway.models.flavors.sklearn import skops_io; skops_io('test')\n")
    plain = _run("import skops.io\n")
    assert ours["torch"] is False
    assert ours["trusted"] == plain["trusted"]


def test_the_array_api_shims_still_import_afterwards() -> None:
    pytest.importorskip("torch")
    ours = _run(
        "from slipway.models.flavors.sklearn import skops_io; skops_io('test')\n"
        "import sklearn.externals.array_api_compat.torch as shim\n"
        "assert hasattr(shim, 'asarray'), 'the real shim, not the stand-in'\n"
    )
    assert ours["torch"] is True


def test_threads_loading_at_once_all_get_the_whole_module() -> None:
    """Models load in parallel threads in `slipway serve`: none may see a half-imported skops."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from concurrent.futures import ThreadPoolExecutor\n"
            "from slipway.models.flavors.sklearn import skops_io\n"
            "def load(i):\n"
            "    time.sleep(0.1 * i)  # arrive while the first import is still running\n"
            "    return hasattr(skops_io('t'), 'get_untrusted_types')  # usable at once\n"
            "with ThreadPoolExecutor(8) as pool:\n"
            "    assert all(pool.map(load, range(8)))\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
