"""JAX's own persistent compilation cache, kept in one user cache folder between runs.

XLA's compiled programs are stored by JAX itself (its ``jax_compilation_cache_dir``); nothing
of ours is written there and nothing is unpickled.

Where: ``$AUTOGRAD_COMPARE_CACHE_DIR`` if set, else the platform's user cache folder for
"autograd-compare" (platformdirs when installed: ``~/.cache/autograd-compare`` on Linux,
honouring ``$XDG_CACHE_HOME``; ``~/Library/Caches/autograd-compare`` on macOS;
``%LOCALAPPDATA%\\autograd-compare\\Cache`` on Windows), with the subfolder ``jax/``.
Off: ``AUTOGRAD_COMPARE_NO_CACHE=1`` (or ``bench --no-cache``). A user's own setting wins:
an already configured ``jax_compilation_cache_dir`` is left alone.
Deleting the folder is always safe (the next run compiles again).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "autograd-compare"
ENV_DIR = "AUTOGRAD_COMPARE_CACHE_DIR"
ENV_OFF = "AUTOGRAD_COMPARE_NO_CACHE"


def enabled() -> bool:
    """False when ``AUTOGRAD_COMPARE_NO_CACHE`` is set to anything but "", "0" or "false"."""
    return os.environ.get(ENV_OFF, "").strip().lower() in ("", "0", "false", "no")


def folder() -> Path:
    """The cache folder (not created here)."""
    explicit = os.environ.get(ENV_DIR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    try:
        import platformdirs
    except ImportError:
        pass  # optional: the platform's conventions below instead
    else:
        return Path(platformdirs.user_cache_dir(APP, appauthor=False))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP


def folder_in_use() -> str | None:
    """The cache folder as a string, or None when caching is off (for reports)."""
    return str(folder()) if enabled() else None


def configure_jax() -> Path | None:
    """Point JAX's persistent compilation cache at ``folder()/jax`` (every compilation kept,
    however quick: ours take 0.1-0.5 s). Returns the folder in use, None when off."""
    import jax

    # jax.config's options are attributes made at run time (Config._HAS_DYNAMIC_ATTRIBUTES):
    chosen = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]  # no stub entry
    if chosen:  # the user chose one: keep it
        return Path(chosen)
    if not enabled():
        return None
    path = folder() / "jax"
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path
