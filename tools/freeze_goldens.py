#!/usr/bin/env python3
"""Freeze golden SHA-256 hashes of today's outputs into tests/goldens/frozen.json.

    python tools/freeze_goldens.py --check  # compare with the closest machine's file
    python tools/freeze_goldens.py --machine NAME  # write tests/goldens/frozen/NAME.json
                                            # (a new machine: from a known-good commit)
    python tools/freeze_goldens.py --machine NAME --renew check/xor/  # replace only the
                                            # entries under a prefix (a convention changed on
                                            # purpose; say which in the CHANGELOG); every
                                            # other entry must still match, or nothing is
                                            # written

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
    parser.add_argument("--machine", metavar="NAME",
                        help="the machine's file to write (tests/goldens/frozen/NAME.json)")
    parser.add_argument("--renew", action="append", default=[], metavar="PREFIX",
                        help="replace the entries whose names start with PREFIX (repeatable)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    digests = goldens.compute_all()
    seconds = time.perf_counter() - start
    if args.check:
        machine, bad = goldens.closest(digests)
        for line in bad:
            print(line)
        print(f"{len(digests)} entries, {len(bad)} differ from the closest machine's file "
              f"({machine}) ({seconds:.1f} s)")
        return 1 if bad else 0
    if not args.machine:
        parser.error("--machine NAME is needed to write a file")
    path = goldens.FROZEN_DIR / f"{args.machine}.json"
    if args.renew:
        frozen = json.loads(path.read_text(encoding="utf-8"))
        renewed = tuple(args.renew)
        kept = {k for k in frozen.keys() | digests.keys() if not k.startswith(renewed)}
        bad = sorted(k for k in kept if frozen.get(k) != digests.get(k))
        for key in bad:
            print(f"differs outside {', '.join(renewed)}: {key}")
        if bad:
            print(f"nothing written: {len(bad)} entries outside the renewed prefixes differ")
            return 1
        for key in sorted(k for k in frozen.keys() | digests.keys() if k.startswith(renewed)):
            if frozen.get(key) != digests.get(key):
                print(f"renewed: {key}: {frozen.get(key)} -> {digests.get(key)}")
    goldens.FROZEN_DIR.mkdir(exist_ok=True)
    path.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(digests)} entries to {path.relative_to(ROOT)} "
          f"({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
