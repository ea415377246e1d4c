"""The spreadsheet recalculated by LibreOffice (headless) agrees with the manual backend.

One workbook is generated at lr 0.5; for every sweep learning rate only its
``learning_rate`` cell is changed (as a student would), LibreOffice recalculates all the
copies in one run and saves them with their values, and every quantity of 100 iterations is
compared with the manual backend to 1e-12 relative.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, LEARNING_RATES
from autograd_compare.teach.sheet import SHEET, build
from tests.helpers import assert_close
from tests.test_sheet import compare_with_manual, defined, read_rows

openpyxl = pytest.importorskip("openpyxl", reason="pip install 'autograd-compare[teach]'")

STEPS = 100
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
INSTALL = ("LibreOffice is not installed; install it with: "
           "apt-get update && apt-get install -y --no-install-recommends libreoffice-calc")
# recalculate OOXML formulas on load, always (the default may keep cached values)
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def recalculate(paths, tmp_path):
    """Open ``paths`` in headless LibreOffice and save them, recalculated, to tmp_path/out."""
    profile = tmp_path / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp_path / "out"
    cmd = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--convert-to", "xlsx", "--outdir", str(out), *map(str, paths)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [out / p.name for p in paths]


@pytest.mark.skipif(SOFFICE is None, reason=INSTALL)
def test_libreoffice_recalculation_matches_the_manual_backend(tmp_path):
    wb = build(CLASS_WEIGHTS, CLASS_INPUTS, CLASS_TARGETS, 0.5, STEPS)
    paths = []
    for lr in LEARNING_RATES:
        wb[SHEET]["B7"] = lr  # the learning_rate cell, edited like a student would
        paths.append(tmp_path / f"lr_{lr}.xlsx")
        wb.save(paths[-1])
    worst = (0.0, "")
    for lr, path in zip(LEARNING_RATES, recalculate(paths, tmp_path), strict=True):
        recalculated = openpyxl.load_workbook(path, data_only=True)
        ws = recalculated[SHEET]
        assert_close(defined(recalculated)["learning_rate"], lr, rtol=1e-15, what="lr cell")
        values = {(c.column_letter, c.row): c.value for row in ws.iter_rows() for c in row
                  if isinstance(c.value, (int, float))}
        worst = max(worst, compare_with_manual(read_rows(values, STEPS), lr, STEPS, 1e-12))
    print(f"largest relative difference LibreOffice vs manual: {worst[0]:.3e} ({worst[1]})")
