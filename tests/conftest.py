"""Shared test set-up. Under CI (CI=true) every backend must be installed: a skip is a failure."""

from __future__ import annotations

import os
import tempfile

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# Compilation caches (compare.cache) go to a temporary folder, never the user's real one; set at
# import, before any test (or a subprocess it starts) configures JAX or torch.
_CACHE = tempfile.TemporaryDirectory(prefix="autograd-compare-test-cache-")
os.environ["AUTOGRAD_COMPARE_CACHE_DIR"] = _CACHE.name
# The torch step compiled ahead of time (torch_impl.aot) takes 10-40 s to build: only
# tests/test_torch_aot.py turns it on.
os.environ["AUTOGRAD_COMPARE_TORCH_AOT"] = "0"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run everything: {report.longrepr}"
