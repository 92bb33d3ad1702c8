"""Tiny helper to write a notebook from (kind, source, tags) triples with nbformat."""
from __future__ import annotations

import nbformat


def write_notebook(path: str, cells: list[tuple[str, str] | tuple[str, str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in cells:
        kind, src, tags = (*cell, []) if len(cell) == 2 else cell
        c = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        if tags:
            c.metadata["tags"] = tags
        nb.cells.append(c)
    nbformat.write(nb, path)
