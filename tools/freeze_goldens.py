#!/usr/bin/env python3
"""Freeze golden SHA-256 hashes of today's outputs into tests/goldens/frozen.json.

    python tools/freeze_goldens.py          # write the file
    python tools/freeze_goldens.py --check  # compare with the file, write nothing

What is hashed and what is normalised (and why): see `tests.goldens`, which holds the code
that tests/test_frozen_goldens.py runs too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import goldens  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the frozen file instead of writing it")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    digests = goldens.compute_all()
    seconds = time.perf_counter() - start
    if args.check:
        frozen = goldens.load_frozen()
        bad = sorted(k for k in frozen.keys() | digests.keys() if frozen.get(k) != digests.get(k))
        for key in bad:
            print(f"differs: {key}: frozen {frozen.get(key)} now {digests.get(key)}")
        print(f"{len(digests)} entries, {len(bad)} differ ({seconds:.1f} s)")
        return 1 if bad else 0
    goldens.FROZEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n",
                              encoding="utf-8")
    print(f"wrote {len(digests)} entries to {goldens.FROZEN.relative_to(ROOT)} "
          f"({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
