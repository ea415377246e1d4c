"""The tutorial notebook runs top to bottom (nbclient), and is stored without outputs."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "backprop_tutorial.ipynb"
KERNEL = "autograd-compare-test"

nbformat = pytest.importorskip("nbformat", reason="pip install 'autograd-compare[teach]'")


def test_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def _kernelspec(root: Path) -> None:
    """A kernelspec for *this* interpreter (its venv), so no install step is needed."""
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": f"Python ({sys.executable})", "language": "python"}))


def test_runs_top_to_bottom(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient", reason="pip install 'autograd-compare[teach]'")
    pytest.importorskip("ipykernel", reason="pip install 'autograd-compare[teach]'")
    pytest.importorskip("matplotlib", reason="pip install 'autograd-compare[plot]'")
    _kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # silences jupyter_core's path notice
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "all 16 formulas proved identical" in text
    assert "8 of 8 formulas are WRONG" in text
    assert "∂E_total/∂w1 = ∂E_total/∂a_h1 * ∂a_h1/∂h1 * ∂h1/∂w1" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4  # the sweep, the sweep on a log scale, the restarts, optimizers
    # the optimizers section: one weight's momentum update and every curve of both presets
    assert "v5  = mu * v5 + (1 - dampening) * dw5" in text
    for preset in ("tutorial", "xor"):
        for kind in ("sgd", "momentum", "nesterov", "adam", "adamw"):
            assert re.search(rf"{preset} +{kind} +E after \d+ updates = ", text), (preset, kind)
    # the island: on XOR plain gradient descent stays on the plateau near 0.25, Adam leaves it
    xor = dict(re.findall(r"xor +(\w+) +E after \d+ updates = (\S+)", text))
    assert float(xor["sgd"]) > 0.2 and float(xor["adam"]) < 1e-2, xor
    # the spreadsheet is saved where the student can open it, with its values cached
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop.xlsx", "jupyter"]
    openpyxl = pytest.importorskip("openpyxl", reason="pip install 'autograd-compare[teach]'")
    ws = openpyxl.load_workbook(tmp_path / "backprop.xlsx", data_only=True)["backprop"]
    assert isinstance(ws["U125"].value, float)  # dw1 of iteration 100, without recalculation


PUBLIC = {"autograd_compare", "autograd_compare.teach"}  # the documented API


def test_uses_only_the_public_api():
    import ast

    nb = nbformat.read(NOTEBOOK, as_version=4)
    used = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom):
                used.add(node.module)
                used.update(f"{node.module}.{a.name}" for a in node.names
                            if node.module == "autograd_compare" and a.name != "teach")
            elif isinstance(node, ast.Import):
                used.update(a.name for a in node.names)
    ours = {m for m in used if m.split(".")[0] == "autograd_compare"}
    assert ours and ours <= PUBLIC, ours - PUBLIC


def test_the_teach_extra_opens_the_notebook_in_jupyter(tmp_path):
    """`[teach]` installs a front end: a real Jupyter server on 127.0.0.1 serves the notebook
    (through its contents API) and JupyterLab's page, as `jupyter lab notebooks/` would."""
    import shutil
    import socket
    import subprocess
    import time
    import urllib.request

    pytest.importorskip("notebook", reason="pip install 'autograd-compare[teach]'")
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent))
    assert jupyter, "the jupyter command is not installed next to this Python"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "autograd-compare-test"
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_DATA_DIR": str(tmp_path)}
    log = (tmp_path / "server.log").open("wb")  # a file: a full pipe would stall the server
    server = subprocess.Popen(
        [jupyter, "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOK.parent}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI's container runs as root
        stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/{NOTEBOOK.name}?token={token}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    body = json.loads(reply.read())
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the Jupyter server did not answer"
                time.sleep(0.5)
        assert body["type"] == "notebook" and body["content"]["cells"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}",
                                    timeout=10) as page:
            assert b"JupyterLab" in page.read()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
