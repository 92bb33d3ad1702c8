"""The README's Python API example runs as printed and its result is plausible."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "## Python API"


def api_example() -> str:
    """The one fenced python block of the README section ``HEADING``."""
    text = README.read_text()
    assert HEADING + "\n" in text, f"README.md has no {HEADING!r} section"
    section = text.split(HEADING + "\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, f"expected one python block under {HEADING!r}, found {len(blocks)}"
    return blocks[0]


@pytest.mark.slow
def test_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NAGKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    ns: dict = {}
    exec(compile(api_example(), str(README), "exec"), ns)
    out = capsys.readouterr().out
    found = re.search(r"CIFAR-10 test accuracy: ([0-9.]+) %", out)
    assert found, out
    acc = float(found.group(1))
    bench, ranked, pred = ns["bench"], ns["ranked"], ns["pred"]
    # the printed number is the benchmark's accuracy of the top-ranked architecture
    assert 0 < acc < 100 and acc == pytest.approx(bench.query(ranked[0], "cifar10", "test_acc"), abs=0.005)
    # ranked: distinct cells of the benchmark in descending clean-predictor score
    assert len(ranked) >= 2 and len(set(ranked)) == len(ranked)
    assert all(np.isfinite(bench.query(a, "cifar10", "test_acc")) for a in ranked)
    with torch.no_grad():
        scores = pred.rank(bench.space.encode_batch(ranked)).numpy()
    assert np.all(np.diff(scores) <= 0)
    # guided generation plus ranking by a CIFAR-10 surrogate should pick a better-than-typical cell
    assert acc > np.nanmedian(np.asarray(bench.table("cifar10", "test_acc")))
    # the surrogates were trained into (and cached under) $NAGKIT_CACHE, not the user's cache
    assert list((tmp_path / "surrogates").glob("*.pt"))
