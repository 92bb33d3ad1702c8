"""Every notebook is a jupytext pair: the py:percent source and the executed .ipynb hold the same cells."""
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _cells(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    nb = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_every_notebook_has_a_source():
    assert [p.stem for p in SOURCES] == [p.stem for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    assert len(SOURCES) >= 9


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_in_sync(source):
    """Run `jupytext --sync notebooks/*.py` (then re-execute) when this fails."""
    assert _cells(source) == _cells(source.with_suffix(".ipynb"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_parameters_cell_first(source):
    code = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"] and 'profile = "quick"' in code[0].source
    assert all("injected-parameters" not in c.metadata.get("tags", ()) for c in code)
