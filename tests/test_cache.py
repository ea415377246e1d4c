"""Persistent compilation caches (compare.cache): where they go, how to turn them off, and that
JAX really keeps its compiled programs there. Never the user's real cache folder (conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_compare import cache

SCRIPT = ("import numpy as np, jax; from autograd_compare.registry import get_backend; "
          "get_backend('jax').train(np.full(8, 0.3), lr=0.5, steps=3); "
          "print(jax.config.jax_compilation_cache_dir, "
          "jax.config.jax_persistent_cache_min_compile_time_secs)")


def test_folder_env_var_then_platform_default(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "mine"))
    assert cache.folder() == tmp_path / "mine"
    monkeypatch.delenv(cache.ENV_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache.folder() == tmp_path / "xdg" / "autograd-compare"
    for off in ("1", "yes", "true"):
        monkeypatch.setenv(cache.ENV_OFF, off)
        assert not cache.enabled() and cache.folder_in_use() is None
    for on in ("", "0", "false"):
        monkeypatch.setenv(cache.ENV_OFF, on)
        assert cache.enabled()


def _run(env_extra: dict) -> list[str]:
    env = {**os.environ, **env_extra}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_jax_keeps_compiled_programs_in_the_folder(tmp_path):
    pytest.importorskip("jax")
    folder, min_seconds = _run({cache.ENV_DIR: str(tmp_path / "c"), cache.ENV_OFF: "0"})
    assert folder == str(tmp_path / "c" / "jax")
    assert float(min_seconds) == 0.0  # quick compilations (ours: 0.1-0.5 s) are kept too
    assert list((tmp_path / "c" / "jax").iterdir())  # the 3-step train program
    folder, _ = _run({cache.ENV_DIR: str(tmp_path / "off"), cache.ENV_OFF: "1"})
    assert folder == "None" and not Path(tmp_path / "off").exists()
