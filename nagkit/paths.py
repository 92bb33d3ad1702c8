"""Where nagkit keeps data and caches: one data root, one cache root, never a path of the checkout.

* data root ``$NAGKIT_DATA``, default ``<user cache>/nagkit/data``: datasets and downloaded artifacts
  (``nagkit fetch``), e.g. ``<data root>/cifar-10-batches-py``, ``<data root>/metad2a``;
* cache root ``$NAGKIT_CACHE``, default ``<user cache>/nagkit/cache``: everything nagkit computed and may
  recompute (trained surrogates and property predictors, finished search runs, notebook training runs),
  one folder per kind, every entry keyed by what determines it (see :mod:`nagkit.storage`);

where ``<user cache>`` is ``$XDG_CACHE_HOME`` or ``~/.cache``. Deleting the cache root only costs time.
"""
from __future__ import annotations

import os
from pathlib import Path


def user_cache() -> Path:
    """``$XDG_CACHE_HOME`` or ``~/.cache``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def data_root() -> Path:
    """``$NAGKIT_DATA`` or ``<user cache>/nagkit/data``."""
    return Path(os.environ.get("NAGKIT_DATA") or user_cache() / "nagkit" / "data")


def cache_root() -> Path:
    """``$NAGKIT_CACHE`` or ``<user cache>/nagkit/cache``."""
    return Path(os.environ.get("NAGKIT_CACHE") or user_cache() / "nagkit" / "cache")


def cache_dir(kind: str) -> Path:
    """The cache folder of one kind of entry (``surrogates``, ``properties``, ``search``, ``scorenets``)."""
    return cache_root() / kind
