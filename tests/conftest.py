"""Shared test set-up. Under CI (CI=true) every backend must be installed: a skip is a failure."""

from __future__ import annotations

import os
import tempfile

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# JAX's compilation cache (compare.cache) goes to a temporary folder, never the user's real
# one; set at import, before any test (or a subprocess it starts) configures JAX.
_CACHE = tempfile.TemporaryDirectory(prefix="autograd-compare-test-cache-")
os.environ["AUTOGRAD_COMPARE_CACHE_DIR"] = _CACHE.name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run everything: {report.longrepr}"
