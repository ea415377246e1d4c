"""Persistent compilation caches: compiled JAX programs and torch.compile's inductor artefacts
kept on disk between runs, in one user cache folder.

Where: ``$AUTOGRAD_COMPARE_CACHE_DIR`` if set, else the platform's user cache folder for
"autograd-compare" (platformdirs when installed: ``~/.cache/autograd-compare`` on Linux,
honouring ``$XDG_CACHE_HOME``; ``~/Library/Caches/autograd-compare`` on macOS;
``%LOCALAPPDATA%\\autograd-compare\\Cache`` on Windows), with subfolders ``jax/``,
``jax-exec/`` (whole batched programs, `jax_impl.train`) and ``torch/``.
Off: ``AUTOGRAD_COMPARE_NO_CACHE=1`` (or ``bench --no-cache``). A user's own setting wins:
an already configured ``jax_compilation_cache_dir`` or ``TORCHINDUCTOR_CACHE_DIR`` is left alone.
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


def configure_torch() -> Path | None:
    """Inductor's FX-graph and AOTAutograd caches in ``folder()/torch`` (call before
    torch.compile runs); both caches switched off when caching is off. None when off."""
    if not enabled():
        try:
            import torch._functorch.config as functorch_config
            import torch._inductor.config as inductor_config
        except ImportError:
            return None
        inductor_config.fx_graph_cache = False
        functorch_config.enable_autograd_cache = False
        return None
    if os.environ.get("TORCHINDUCTOR_CACHE_DIR"):  # the user chose one: keep it
        return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    path = folder() / "torch"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    return path


def jax_executables() -> Path | None:
    """Where `jax_impl.train` keeps whole compiled batched programs (``folder()/jax-exec``),
    loaded without tracing or lowering; None when caching is off or the user chose JAX's
    cache folder (theirs is kept as the only one)."""
    if not enabled():
        return None
    try:
        import jax
    except ImportError:
        return None
    chosen = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]  # no stub entry
    if chosen and Path(chosen) != folder() / "jax":
        return None
    return folder() / "jax-exec"

