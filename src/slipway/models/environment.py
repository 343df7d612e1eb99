"""The environment files of a model directory: what to install to load it elsewhere.

Written as MLflow writes them, so `mlflow models serve` (and `slipway serve`) can rebuild
the environment: `requirements.txt` pins the versions actually installed when the model
was saved; `python_env.yaml` (virtualenv) and `conda.yaml` (conda) wrap it with the Python
version. Versions come from package metadata, so nothing heavy is imported.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata as importlib_metadata
from pathlib import Path

import yaml

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"

# Every pyfunc model reads its input through numpy and pandas.
BASE_PACKAGES = ("numpy", "pandas")


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, or None if it is not installed."""
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def pinned_requirements(distributions: Iterable[str]) -> list[str]:
    """`name==version` for each installed distribution (missing ones are left out), sorted."""
    out = set()
    for name in distributions:
        version = installed_version(name)
        if version is not None:
            out.add(f"{name}=={version}")
    return sorted(out, key=str.lower)


def resolve_requirements(
    flavor_packages: Iterable[str],
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
) -> list[str]:
    """The requirement lines for a model: the user's list, or the pinned flavor packages.

    `pip_requirements` replaces the inferred list; `extra_pip_requirements` adds to it.
    """
    if pip_requirements is not None:
        lines = [str(r) for r in pip_requirements]
    else:
        lines = pinned_requirements([*BASE_PACKAGES, *flavor_packages])
    for extra in extra_pip_requirements or ():
        if str(extra) not in lines:
            lines.append(str(extra))
    return lines


def write_environment(model_dir: str | Path, requirements: list[str]) -> dict[str, str]:
    """Write the three environment files; return the pyfunc `env` entry pointing at them."""
    model_dir = Path(model_dir)
    python_version = platform.python_version()
    (model_dir / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in requirements))

    pip_version = installed_version("pip")
    setuptools_version = installed_version("setuptools")
    build = [
        f"pip=={pip_version}" if pip_version else "pip",
        f"setuptools=={setuptools_version}" if setuptools_version else "setuptools",
        "wheel",
    ]
    python_env = {
        "python": python_version,
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (model_dir / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))

    conda = {
        "name": "slipway-env",
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python_version}",
            f"pip<={pip_version}" if pip_version else "pip",
            {"pip": list(requirements)},
        ],
    }
    (model_dir / CONDA_ENV_FILE).write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": CONDA_ENV_FILE, "virtualenv": PYTHON_ENV_FILE}


__all__ = [
    "CONDA_ENV_FILE",
    "PYTHON_ENV_FILE",
    "REQUIREMENTS_FILE",
    "installed_version",
    "pinned_requirements",
    "resolve_requirements",
    "write_environment",
]
