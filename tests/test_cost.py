"""The GPU-cost table with the generator charged (nagkit.cost) and reproducible figure files (nagkit.figures)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nagkit.benchmarks import get_benchmark  # noqa: E402
from nagkit.cost import MethodCost, cost_table, mean_train_hours  # noqa: E402
from nagkit.figures import save_figure  # noqa: E402


def test_generator_hours_are_charged_and_unreported_parts_listed() -> None:
    methods = [MethodCost("gen", 1, {"score net": 3.0, "sampling": 0.5, "predictor": None}), MethodCost("bo", 20)]
    rows = {r["method"]: r for r in cost_table(methods, per_arch_hours=0.5, reference="gen")}
    assert rows["gen"]["total GPU-h"] == pytest.approx(4.0) and rows["gen"]["not reported"] == ["predictor"]
    assert rows["bo"]["architectures GPU-h"] == pytest.approx(10.0) and rows["bo"]["generator GPU-h"] == 0
    assert rows["bo"]["speed-up (#trained)"] == 20 and rows["bo"]["speed-up (GPU-h)"] == pytest.approx(2.5)
    with pytest.raises(KeyError, match="reference 'x'"):
        cost_table(methods, 0.5, "x")


def test_mean_train_hours_is_the_benchmark_mean() -> None:
    bench = get_benchmark("nb201")
    hours = mean_train_hours(bench, "cifar10")
    assert hours == pytest.approx(np.nanmean(bench.table("cifar10", "train_time")) / 3600)
    assert 0.1 < hours < 2  # NB201 records 200-epoch GPU times of minutes to an hour per cell
    with pytest.raises(ValueError, match="not GPU seconds"):
        mean_train_hours(get_benchmark("nbgraph"), "cora")


def test_figures_are_written_as_png_and_pdf_the_same_bytes_twice(tmp_path) -> None:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = [tmp_path / "f.png", tmp_path / "f.pdf"]
    save_figure(fig, tmp_path, "f")
    first = [p.read_bytes() for p in paths]
    save_figure(fig, tmp_path, "f")
    second = [p.read_bytes() for p in paths]
    plt.close(fig)
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["f.pdf", "f.png"]
    assert first == second and first[0].startswith(b"\x89PNG") and first[1].startswith(b"%PDF")
