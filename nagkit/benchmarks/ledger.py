"""The cost ledger: every "training" of an architecture goes through here and is counted."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from nagkit.benchmarks.base import TabularBenchmark


@dataclass(frozen=True)
class TrainRecord:
    """What training one architecture yields (validation selects, test is reported)."""

    arch: str
    val_acc: float
    test_acc: float
    train_seconds: float
    n_trained: int  # distinct architectures trained so far, this one included
    total_seconds: float  # simulated training seconds so far


@dataclass
class Ledger:
    """Counts distinct architectures trained and charges their simulated training cost
    (``benchmark.cost``, in ``benchmark.cost_unit``; the ``*_seconds`` fields hold that cost).

    Re-querying an architecture already trained costs nothing and is not counted again.
    ``seed`` selects one benchmark seed for validation accuracy (``None``: mean of seeds).
    """

    benchmark: TabularBenchmark
    dataset: str
    seed: int | None = None
    history: list[TrainRecord] = field(default_factory=list)
    _seen: dict[str, TrainRecord] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.benchmark.check(self.dataset)
        self.benchmark.check_seed(self.seed)

    @property
    def n_trained(self) -> int:
        return len(self.history)

    @property
    def seconds(self) -> float:
        return self.history[-1].total_seconds if self.history else 0.0

    def is_trained(self, arch: str) -> bool:
        return arch in self._seen

    def train(self, arch: str) -> TrainRecord:
        """Train (look up) ``arch``; charged once per distinct architecture string."""
        if arch in self._seen:
            return self._seen[arch]
        q = self.benchmark.query
        seconds = self.benchmark.cost(arch, self.dataset, self.seed)
        record = TrainRecord(
            arch=arch,
            val_acc=q(arch, self.dataset, "val_acc", self.seed),
            test_acc=q(arch, self.dataset, "test_acc"),
            train_seconds=seconds,
            n_trained=self.n_trained + 1,
            total_seconds=self.seconds + seconds,
        )
        self._seen[arch] = record
        self.history.append(record)
        return record

    def incumbent(self) -> TrainRecord | None:
        """Best trained architecture by validation accuracy (first one on ties)."""
        return max(self.history, key=lambda r: r.val_acc, default=None)

    def trajectory(self) -> list[dict[str, float]]:
        """Incumbent after each training: trained count, seconds, its val and test accuracy."""
        out, best = [], None
        for r in self.history:
            if best is None or r.val_acc > best.val_acc:
                best = r
            out.append({"n_trained": r.n_trained, "seconds": r.total_seconds,
                        "val_acc": best.val_acc, "test_acc": best.test_acc, "arch": best.arch})
        return out

    def trained_until(self, test_acc: float, tol: float = 1e-6) -> int | None:
        """Number trained when an architecture with test accuracy >= ``test_acc`` was first trained."""
        hits = [r.n_trained for r in self.history if r.test_acc >= test_acc - tol]
        return hits[0] if hits else None

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "seed": self.seed, "n_trained": self.n_trained,
                "seconds": self.seconds, "history": [asdict(r) for r in self.history]}

