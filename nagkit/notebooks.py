"""Run the ordered notebooks with papermill, and the paths notebooks write to.

``python -m nagkit.notebooks --profile quick`` executes ``notebooks/NN_*.ipynb`` in order, in
place (the executed notebooks are what nbval later checks), then builds ``results/REPORT.md``.
The ``paper`` and ``smoke`` profiles write executed copies, results and figures under ``results/paper/``
and ``results/smoke/``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from nagkit.profiles import PROFILES, check_profile
from nagkit.progress import TEXT_BARS


def repo_root(start: Path | None = None) -> Path:
    """The checkout holding ``pyproject.toml`` and ``notebooks/`` (searching upwards)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").exists() and (d / "notebooks").is_dir():
            return d
    raise FileNotFoundError(f"no nagkit checkout (pyproject.toml + notebooks/) above {here}")


def output_dirs(profile: str) -> tuple[Path, Path]:
    """``(figures, results)`` folders for a profile, created if missing: ``figures/`` and ``results/`` for
    ``quick``, ``results/<profile>/figures`` and ``results/<profile>`` for the others."""
    check_profile(profile)
    root = repo_root()
    if profile == "quick":
        figures, results = root / "figures", root / "results"
    else:
        results = root / "results" / profile
        figures = results / "figures"
    for d in (figures, results):
        d.mkdir(parents=True, exist_ok=True)
    return figures, results


def notebook_list(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def run_all(profile: str = "quick", only: list[str] | None = None, executor: str = "local") -> None:
    """Execute the notebooks (those matching ``only``) for ``profile`` with the fan-out engine ``executor``
    (:mod:`nagkit.executor`; passed to the notebooks only when it is not their default ``local``)."""
    import papermill

    from nagkit.report import build_report

    root = repo_root()
    _, results = output_dirs(profile)
    if profile != "quick":  # long runs: the kernels inherit it, text bars reach papermill's log (log_output)
        os.environ[TEXT_BARS] = "1"
    for nb in notebook_list(root):
        if only and not any(nb.name.startswith(o) for o in only):
            continue
        out = nb if profile == "quick" else results / "notebooks" / nb.name
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        print(f"[nagkit] running {nb.name} ({profile})", flush=True)
        # the quick profile is the notebooks' default: no injected cell, so the executed notebook keeps the
        # cells of its jupytext source (tests/test_notebook_pairs.py)
        params = {} if profile == "quick" else {"profile": profile}
        if executor != "local":
            params["executor"] = executor
        papermill.execute_notebook(str(nb), str(out), parameters=params,
                                   cwd=str(nb.parent), kernel_name="python3", progress_bar=False,
                                   log_output=profile != "quick")  # long runs: cell output to the log
        _strip_run_metadata(out)
        print(f"[nagkit] {nb.name} done in {time.time() - start:.0f} s", flush=True)
    build_report(results, results / "REPORT.md")
    print(f"[nagkit] wrote {results / 'REPORT.md'}")


def _strip_run_metadata(path: Path) -> None:
    """Drop papermill's per-cell timings, timestamps and empty tag lists: they change every run and are
    not results."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:  # papermill adds empty tag lists; they would reach the .py pair
            del cell.metadata["tags"]
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nagkit.notebooks", description=__doc__)
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 03")
    p.add_argument("--executor", choices=("local", "serial", "ray"), default="local",
                   help="fan-out engine of the notebooks (nagkit.executor); ray: RAY_ADDRESS or a local instance")
    args = p.parse_args(argv)
    run_all(args.profile, args.only, args.executor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
