import pytest

from nagkit.executor import LocalExecutor, SerialExecutor, get_executor


def square(x: int) -> int:
    return x * x


def test_executors_agree_and_keep_order():
    items = list(range(7))
    assert SerialExecutor(progress=False).map(square, items) == [x * x for x in items]
    assert LocalExecutor(2, progress=False).map(square, items) == [x * x for x in items]


def test_unknown_executor():
    with pytest.raises(KeyError, match="valid"):
        get_executor("ray")
