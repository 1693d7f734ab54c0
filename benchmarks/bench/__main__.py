"""``python -m benchmarks.bench [--quick] [--output DIR]`` (``nox -s bench`` runs it).

Prints each step as it is measured, then the table; writes ``bench.md`` and
``bench.json`` into DIR (default ``.containerize/bench``), and each build's output
into ``DIR/logs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from containerize import process
from containerize.errors import ContainerizeError
from containerize.fsutil import write_atomic

from .figures import CONTENDERS
from .run import FULL, QUICK, measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s bench --", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true",
        help="linux/amd64 only, one start, a 3 s load: for development (about 3 min)",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path, default=Path(".containerize/bench"), metavar="DIR",
        help="where bench.md and bench.json go (default: .containerize/bench)",
    )  # fmt: skip
    parser.add_argument(
        "--contender", action="append", choices=CONTENDERS, dest="only", metavar="NAME",
        help=f"measure only this one (repeatable; {', '.join(CONTENDERS)}): its ratios "
        "to the others are then left out",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        with process.interruptible():
            report = measure(
                QUICK if args.quick else FULL,
                logs=args.output / "logs",
                only=tuple(args.only or CONTENDERS),
            )
    except ContainerizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    text = report.markdown()
    write_atomic(args.output / "bench.md", text)
    write_atomic(args.output / "bench.json", json.dumps(report.document(), indent=2) + "\n")
    print("\n" + text)
    print(f"wrote {args.output / 'bench.md'} and {args.output / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
