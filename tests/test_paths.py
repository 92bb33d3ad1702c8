"""One data root and one cache root, from the environment, never inside the checkout."""
from pathlib import Path

from nagkit import paths
from nagkit.transfer.lodo import default_cache_dir as surrogate_cache
from nagkit.predictors.properties import default_cache_dir as property_cache


def test_roots_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NAGKIT_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("NAGKIT_CACHE", str(tmp_path / "c"))
    assert paths.data_root() == tmp_path / "d" and paths.cache_root() == tmp_path / "c"
    assert surrogate_cache() == tmp_path / "c" / "surrogates" and property_cache() == tmp_path / "c" / "properties"


def test_defaults_are_the_user_cache(monkeypatch, tmp_path):
    for var in ("NAGKIT_DATA", "NAGKIT_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert paths.data_root() == tmp_path / "nagkit" / "data"
    assert paths.cache_dir("search") == tmp_path / "nagkit" / "cache" / "search"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert paths.cache_root() == Path.home() / ".cache" / "nagkit" / "cache"
