"""Saving notebook figures: PNG (for the notebook and the README) and PDF (for papers), byte-stable
across runs where the backend allows (no creation dates)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "pdf")


def save_figure(fig: Figure, folder: str | Path, name: str, dpi: int = 120) -> None:
    """Write ``<folder>/<name>.png`` and ``<folder>/<name>.pdf`` (tight bounding box)."""
    for ext in FORMATS:
        metadata = {"CreationDate": None} if ext == "pdf" else {"Software": None}
        fig.savefig(Path(folder) / f"{name}.{ext}", dpi=dpi, bbox_inches="tight", metadata=metadata)
