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


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """The test runs in its own empty working folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_work(monkeypatch):
    """Any refusal must come before the work: the gradient check must never be reached."""
    def boom(*a, **k):
        raise AssertionError("the work started before the refusal")
    monkeypatch.setattr("autograd_compare.harness.network_check.gradient_check", boom)
    monkeypatch.setattr("autograd_compare.study.restarts.run", boom)
    for name in ("harness.optim_check.check",
                 "teach.updates.explain_updates",
                 "commands.bench.measure",  # every timed call of bench
                 "study.cluster.local_cluster"):  # restarts --dask-local's processes
        monkeypatch.setattr(f"autograd_compare.{name}", boom)
    import autograd_compare.commands.sheet  # noqa: F401 - imports build by name: patch it there

    monkeypatch.setattr("autograd_compare.commands.sheet.build", boom)
