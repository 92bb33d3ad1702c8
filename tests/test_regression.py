"""The notebooks' regression check: passes inside tolerance, fails on drift, on new or missing numbers."""
import json

import pytest

from nagkit.regression import Tolerance, assert_matches_stored, check, tolerance_for

TOL = {"acc.*": Tolerance(0.5, "seed spread"), "*": Tolerance(0.0, "exact: table lookups")}


def _store(path, values):
    path.write_text(json.dumps({"rows": [], "regression": values}))


def test_within_tolerance_passes_with_a_number_free_summary(tmp_path):
    _store(tmp_path / "r.json", {"acc.a": 90.0, "n": 3.0})
    text = assert_matches_stored(tmp_path / "r.json", {"acc.a": 90.4, "n": 3}, TOL)
    assert text == "every checked quantity is within tolerance of the stored results"


def test_drift_fails_naming_the_quantity(tmp_path):
    _store(tmp_path / "r.json", {"acc.a": 90.0, "n": 3.0})
    with pytest.raises(AssertionError, match=r"acc\.a: stored 90.0, now 90.6"):
        assert_matches_stored(tmp_path / "r.json", {"acc.a": 90.6, "n": 3}, TOL)
    with pytest.raises(AssertionError, match="n: stored 3.0, now 4.0"):
        assert_matches_stored(tmp_path / "r.json", {"acc.a": 90.0, "n": 4}, TOL)


def test_new_missing_and_nan_quantities_fail(tmp_path):
    stored = {"acc.a": 90.0}
    assert [r["ok"] for r in check({"acc.a": 90.0, "acc.b": 1.0}, stored, TOL)] == [True, False]
    assert [r["ok"] for r in check({}, stored, TOL)] == [False]
    assert [r["ok"] for r in check({"acc.a": float("nan")}, stored, TOL)] == [False]


def test_first_pattern_wins_and_unmatched_names_are_errors():
    assert tolerance_for("acc.x", TOL).abs == 0.5
    assert tolerance_for("other", TOL).abs == 0.0
    with pytest.raises(KeyError, match="no tolerance pattern"):
        tolerance_for("x", {"acc.*": Tolerance(1, "why")})
    with pytest.raises(ValueError):
        Tolerance(float("inf"), "why")
    with pytest.raises(ValueError):
        Tolerance(1.0, "")


def test_no_stored_file_records_only(tmp_path):
    assert "yet" in assert_matches_stored(tmp_path / "none.json", {"a": 1.0}, TOL)
