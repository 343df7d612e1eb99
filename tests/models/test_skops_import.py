"""Loading a scikit-learn model must not import torch (seconds, hundreds of MiB) just
because it is installed, and must trust exactly the types skops trusts on its own (the
ufunc names included, which slipway computes with a faster `whichmodule`)."""

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
    "    t.SKLEARN_ESTIMATOR_TYPE_NAMES + t.SKLEARN_INTERNAL_TYPE_NAMES\n"
    "    + t.SCIPY_UFUNC_TYPE_NAMES + t.NUMPY_UFUNC_TYPE_NAMES\n"
    "    + t.NUMPY_DTYPE_TYPE_NAMES + t.PRIMITIVE_TYPE_NAMES)}))\n"
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


# --- loading without skops' import-time discovery ----------------------------------------

_LOAD = (
    "import json, sys\n"
    "import slipway.sklearn\n"
    "from slipway.errors import UnsafeModelFormat\n"
    "try:\n"
    "    model = slipway.sklearn.load_model(sys.argv[1])\n"
    "    outcome = type(model).__name__\n"
    "except UnsafeModelFormat as exc:\n"
    "    outcome = 'refused: ' + str(exc)\n"
    "print(json.dumps({'outcome': outcome, 'all': 'sklearn.semi_supervised' in sys.modules,\n"
    "                  'torch': 'torch' in sys.modules}))\n"
)


def _load_fresh(path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD, str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_fresh_process_loads_a_forest_without_importing_all_of_sklearn(tmp_path) -> None:
    """The load path trusts the file's estimators without skops walking every submodule."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    import slipway.sklearn

    X, y = load_iris(return_X_y=True)
    path = tmp_path / "m"
    slipway.sklearn.save_model(RandomForestClassifier(n_estimators=3).fit(X, y), str(path))
    got = _load_fresh(path)
    assert got == {"outcome": "RandomForestClassifier", "all": False, "torch": False}


def test_a_fresh_process_still_refuses_untrusted_and_unrecorded_types(tmp_path) -> None:
    """The same refusals as with skops' whole trust list, on the fast load path."""
    import yaml
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    import slipway.sklearn

    X, y = load_iris(return_X_y=True)
    foreign = tmp_path / "foreign"
    # json.dumps is importable but is no numeric library: it needs allow_pickle.
    pipe = make_pipeline(FunctionTransformer(json.dumps, validate=False))
    slipway.sklearn.save_model(pipe, str(foreign))
    assert _load_fresh(foreign)["outcome"].startswith("refused: ")
    assert "json.dumps" in _load_fresh(foreign)["outcome"]

    tampered = tmp_path / "tampered"
    slipway.sklearn.save_model(RandomForestClassifier(n_estimators=2).fit(X, y), str(tampered))
    doc = yaml.safe_load((tampered / "MLmodel").read_text())
    doc["flavors"]["sklearn"]["skops_trusted_types"] = []
    (tampered / "MLmodel").write_text(yaml.safe_dump(doc))
    outcome = _load_fresh(tampered)["outcome"]
    assert outcome.startswith("refused: ") and "sklearn.tree._tree.Tree" in outcome


def test_estimators_taken_without_discovery_are_all_on_skops_own_list() -> None:
    """`listed_estimator` may miss an estimator (the loader then asks the whole list) but
    must never accept a class that skops would not trust by default."""
    import inspect

    from skops.io import _trusted_types

    from slipway.models.flavors.sklearn import listed_estimator, skops_io

    skops_io("test")  # the whole list, and every public scikit-learn module imported
    trusted = set(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)
    seen: set[str] = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("sklearn.") or module is None:
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            seen.add(f"{cls.__module__}.{cls.__name__}")
    accepted = {t for t in seen if listed_estimator(t) is not None}
    assert accepted <= trusted
    assert "sklearn.ensemble._forest.RandomForestClassifier" in accepted
    assert len(accepted) > 0.9 * len(trusted)  # the fast path covers almost every estimator
