"""Shared test set-up. Under CI (CI=true) every backend must be installed: a skip is a failure."""

from __future__ import annotations

import os
import tempfile

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# JAX's compilation cache (compare.cache) goes to a temporary folder, never the user's real
# one; set at import, before any test (or a subprocess it starts) configures JAX. One folder
# for the whole run, as without pytest-xdist: the controlling process makes it (and removes it
# at exit, after its workers); each worker, which inherits its environment, uses the same one.
_SHARED = "AUTOGRAD_COMPARE_TEST_CACHE_DIR"  # set only here, by the controlling process
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(_SHARED):
    os.environ["AUTOGRAD_COMPARE_CACHE_DIR"] = os.environ[_SHARED]
else:
    _CACHE = tempfile.TemporaryDirectory(prefix="autograd-compare-test-cache-")
    os.environ["AUTOGRAD_COMPARE_CACHE_DIR"] = os.environ[_SHARED] = _CACHE.name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run everything: {report.longrepr}"
