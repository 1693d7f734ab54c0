"""What a second platform adds to a cold build, step by step.

The bench project (benchmarks/django-pillow: Django, Pillow, a static command) is
built with ``--no-cache`` for linux/amd64 alone and for linux/amd64 and linux/arm64,
alternately, ROUNDS times each (3 unless given), with one warm download cache so that
only BuildKit's work is timed (the wheels' download is the bench's business). Each
build's output is ``none``: nothing is pushed or loaded, so the export is not timed.
The script prints each build's wall time, the medians and their ratio, then the steps
(BuildKit's own DONE times, the platforms' runs of a step added up, median over the
rounds) whose time grows the most with the second platform. Run with
``python3 benchmarks/platform_steps.py [ROUNDS]`` under the engine.
"""

from __future__ import annotations

import collections
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from containerize import config
from containerize.commands.machine import machine
from containerize.engine import buildx
from containerize.host import baseimage
from containerize.image import pipeline

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = (("linux/amd64",), ("linux/amd64", "linux/arm64"))
_STEP = re.compile(r"^#(\d+) (\[.*)$")
_DONE = re.compile(r"^#(\d+) DONE ([\d.]+)s")


def _steps(log: str) -> dict[str, float]:
    """Step name (its platform and its n/m left out) -> seconds, the platforms' runs of
    one step added up; the context transfers and metadata loads left out."""
    names: dict[str, str] = {}
    done: dict[str, float] = {}
    for line in log.splitlines():
        if match := _STEP.match(line):
            names.setdefault(match[1], match[2])
        elif match := _DONE.match(line):
            done[match[1]] = float(match[2])
    steps: dict[str, float] = collections.defaultdict(float)
    for number, named in names.items():
        name = re.sub(r"^\[linux/\w+ ", "[", named)
        if name.startswith(("[internal]", "[context ")):
            continue
        steps[re.sub(r"\s+\d+/\d+\]", "]", name)[:90]] += done.get(number, 0.0)
    return steps


def _build(project: Path, platforms: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    cfg = config.load(project, overrides={"platforms": list(platforms)})
    prepared = pipeline.prepare(cfg, machine(engine=True), output="none", no_cache=True)
    began = time.monotonic()
    logs = [buildx.build(inv, stream=False).log for inv in prepared.invocations]
    return time.monotonic() - began, _steps("\n".join(logs))


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    baseimage.ensure()
    walls: dict[tuple[str, ...], list[float]] = {p: [] for p in PLATFORMS}
    steps: dict[tuple[str, ...], dict[str, list[float]]] = {
        p: collections.defaultdict(list) for p in PLATFORMS
    }
    with tempfile.TemporaryDirectory(prefix="containerize-platform-steps-") as tmp:
        project = Path(tmp) / "django-pillow"
        shutil.copytree(
            REPO / "benchmarks" / "django-pillow",
            project,
            ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
        )
        for platforms in PLATFORMS:  # fills the download cache: not timed
            pipeline.prepare(
                config.load(project, overrides={"platforms": list(platforms)}),
                machine(engine=True),
                output="none",
            )
        for n in range(1, rounds + 1):
            for platforms in PLATFORMS:
                wall, found = _build(project, platforms)
                walls[platforms].append(wall)
                for name, seconds in found.items():
                    steps[platforms][name].append(seconds)
                print(f"round {n}, {' + '.join(platforms)}: {wall:.1f} s", flush=True)
    one, both = (statistics.median(walls[p]) for p in PLATFORMS)
    print(f"median: linux/amd64 alone {one:.1f} s, both platforms {both:.1f} s: {both / one:.2f}x")
    medians = [{k: statistics.median(v) for k, v in steps[p].items()} for p in PLATFORMS]
    grown = sorted(
        ((medians[1].get(k, 0.0) - medians[0].get(k, 0.0), k) for k in set().union(*medians)),
        reverse=True,
    )
    print("steps that grow most with the second platform (seconds, median):")
    for extra, name in grown[:12]:
        before, after = medians[0].get(name, 0.0), medians[1].get(name, 0.0)
        print(f"  {extra:+5.1f}  {before:5.1f} -> {after:5.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
