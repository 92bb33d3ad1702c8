"""environment.yml (conda) must describe the same environment as pyproject.toml."""
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_dependency_lists_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(p for p in pip if not p.startswith("-e")) == wanted
    assert "-e .[notebooks,test,ray]" in pip


def test_torch_is_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]


def test_every_requirement_is_pinned_and_installed():
    """Exact pins only, and the environment running the tests holds exactly those versions (`make env` updates it)."""
    from importlib import metadata

    for req in _requirements():
        name, sep, version = req.partition("==")
        assert sep and version and not any(c in version for c in "<>=!~*,;"), f"{req}: pin an exact version"
        assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}, pinned {version}"


def test_notebook_stack():
    """JupyterLab for `make lab`; ipywidgets so tqdm draws widget bars in notebooks instead of warning
    (the stored import-cell outputs of the notebooks assume it)."""
    extra = {r.partition("==")[0] for r in tomllib.loads((ROOT / "pyproject.toml").read_text())
             ["project"]["optional-dependencies"]["notebooks"]}
    assert {"jupyterlab", "ipywidgets", "seaborn", "ipykernel"} <= extra
    from tqdm import notebook

    assert notebook.IProgress is not None  # None: tqdm found no widgets and warns "IProgress not found"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_lab_opens_the_notebooks_with_the_venv():
    out = subprocess.run(["make", "-n", "lab", "LAB_ARGS=--port 8899"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert ".venv/bin/python -m jupyter lab --notebook-dir=notebooks --port 8899" in out.splitlines()
