"""What a second platform adds to a cold build, step by step.

The bench project (benchmarks/django-pillow: Django, Pillow, a static command) is
built with ``--no-cache`` for linux/amd64 alone and for linux/amd64 and linux/arm64,
alternately, ROUNDS times each (3 unless given), with one warm download cache so that
only BuildKit's work is timed (the wheels' download is the bench's business; its
cost per platform is printed once, from the first, uncached fetch). Without
``--push`` each build's output is ``none``: nothing is exported. With ``--push``,
each build pushes to the loopback registry, as the bench's cold build does, and the
export (layers compressed, manifests) and the push are timed too.

BuildKit's own timings are read from its ``rawjson`` progress: for each step (its
platform and its n/m left out) how many times it ran and for how long, the
platforms' runs added up. The script prints each build's wall time, the medians and
their ratio, the steps that ran more often with the second platform (work a
platform repeats), then the steps whose time grows the most. Run with
``python3 benchmarks/platform_steps.py [ROUNDS] [--push]`` under the engine.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import buildx
from containerize.host import baseimage
from containerize.image import pipeline
from containerize.resolve.cache import Cache

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = (("linux/amd64",), ("linux/amd64", "linux/arm64"))
REGISTRY = "127.0.0.1:5000"
_PLATFORM = re.compile(r"^\[(linux/\w+) ")
_NUMBERED = re.compile(r"\s+\d+/\d+\]")


@dataclasses.dataclass
class Step:
    """One step's runs in one build: how many ran (not cached) and their seconds."""

    runs: int = 0
    seconds: float = 0.0


def _seconds(start: str, end: str) -> float:
    """Seconds between two of BuildKit's RFC 3339 times (nanoseconds cut to micro)."""

    def parse(text: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))

    return (parse(end) - parse(start)).total_seconds()


def _records(log: str) -> list[dict[str, Any]]:
    """The JSON documents of a rawjson progress log (indented, one after another)."""
    decoder, records, at = json.JSONDecoder(), [], 0
    while (at := log.find("{", at)) != -1:
        try:
            record, at = decoder.raw_decode(log, at)
        except ValueError:
            at += 1
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def steps(log: str) -> dict[str, Step]:
    """Step name -> its runs, from BuildKit's rawjson progress; context transfers and
    metadata loads left out, the export and the push kept (each sub-step of the
    export, such as ``exporting layers``, as one step of its own)."""
    vertices: dict[str, dict[str, object]] = {}
    statuses: dict[tuple[str, str], dict[str, object]] = {}
    for record in _records(log):
        for vertex in record.get("vertexes") or ():
            vertices.setdefault(vertex["digest"], {}).update(
                {k: v for k, v in vertex.items() if v not in (None, False) or k == "cached"}
            )
        for status in record.get("statuses") or ():
            if status.get("vertex") and status.get("id"):
                statuses.setdefault((status["vertex"], status["id"]), {}).update(
                    {k: v for k, v in status.items() if v is not None}
                )
    found: dict[str, Step] = collections.defaultdict(Step)
    for digest, vertex in vertices.items():
        name = str(vertex.get("name", ""))
        if name.startswith(("[internal]", "[context ")) or "[internal]" in name:
            continue
        if vertex.get("cached") or not vertex.get("started") or not vertex.get("completed"):
            continue
        key = _NUMBERED.sub("]", _PLATFORM.sub("[", name))[:90]
        found[key].runs += 1
        found[key].seconds += _seconds(str(vertex["started"]), str(vertex["completed"]))
        if name.startswith(("exporting", "pushing")):
            for (owner, sub), status in statuses.items():
                if owner == digest and status.get("started") and status.get("completed"):
                    part = found[f"{key}: {re.sub(r'sha256:[0-9a-f]+|[0-9a-f]{12}', '…', sub)}"]
                    part.runs += 1
                    part.seconds += _seconds(str(status["started"]), str(status["completed"]))
    return found


def _build(
    project: Path, platforms: tuple[str, ...], *, push: bool
) -> tuple[float, dict[str, Step]]:
    overrides: dict[str, object] = {"platforms": list(platforms)}
    if push:
        overrides["image"] = f"{REGISTRY}/containerize-platform-steps/{uuid.uuid4().hex[:12]}"
    cfg = config.load(project, overrides=overrides)
    prepared = pipeline.prepare(
        cfg, machine(engine=True), output="push" if push else "none", no_cache=True
    )
    began = time.monotonic()
    found: dict[str, Step] = collections.defaultdict(Step)
    for inv in prepared.invocations:
        if inv.metadata_file is not None:
            inv.metadata_file.parent.mkdir(parents=True, exist_ok=True)
        args = buildx.argv(dataclasses.replace(inv, progress="plain"))
        args[args.index("plain")] = "rawjson"  # not among containerize's own modes
        completed = process.run(args, capture=True, env={"DOCKER_BUILDKIT": "1"})
        for name, step in steps(completed.stderr + completed.stdout).items():
            found[name].runs += step.runs
            found[name].seconds += step.seconds
    return time.monotonic() - began, found


def _fetch_times(project: Path) -> None:
    """Each platform set's wheelhouse fetched once into an empty download cache: what
    a second platform adds before BuildKit starts (the arm64 wheels)."""
    for platforms in PLATFORMS:
        with tempfile.TemporaryDirectory(prefix="containerize-platform-steps-cache-") as cache:
            copy = project.parent / f"fetch-{len(platforms)}"
            _copy_project(copy)
            cfg = config.load(copy, overrides={"platforms": list(platforms)})
            began = time.monotonic()
            empty = dataclasses.replace(machine(engine=True), cache=Cache(root=Path(cache)))
            pipeline.prepare(cfg, empty, output="none")
            print(f"fetch and plan, empty download cache, {' + '.join(platforms)}: "
                  f"{time.monotonic() - began:.1f} s", flush=True)  # fmt: skip


def _copy_project(dest: Path) -> None:
    shutil.copytree(
        REPO / "benchmarks" / "django-pillow",
        dest,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("rounds", type=int, nargs="?", default=3)
    parser.add_argument("--push", action="store_true", help="push, timing export and push")
    parser.add_argument("--fetch", action="store_true", help="time the uncached fetch too")
    args = parser.parse_args(argv)
    baseimage.ensure()
    walls: dict[tuple[str, ...], list[float]] = {p: [] for p in PLATFORMS}
    runs: dict[tuple[str, ...], dict[str, list[Step]]] = {
        p: collections.defaultdict(list) for p in PLATFORMS
    }
    with tempfile.TemporaryDirectory(prefix="containerize-platform-steps-") as tmp:
        project = Path(tmp) / "django-pillow"
        _copy_project(project)
        if args.fetch:
            _fetch_times(project)
        for platforms in PLATFORMS:  # fills the download cache: not timed
            pipeline.prepare(
                config.load(project, overrides={"platforms": list(platforms)}),
                machine(engine=True),
                output="none",
            )
        for n in range(1, args.rounds + 1):
            for platforms in PLATFORMS:
                wall, found = _build(project, platforms, push=args.push)
                walls[platforms].append(wall)
                for name, step in found.items():
                    runs[platforms][name].append(step)
                busy = sum(s.seconds for k, s in found.items() if ": " not in k)
                print(f"round {n}, {' + '.join(platforms)}: {wall:.1f} s "
                      f"(steps' time added up: {busy:.1f} s)", flush=True)  # fmt: skip
    one, both = (statistics.median(walls[p]) for p in PLATFORMS)
    print(f"median: linux/amd64 alone {one:.1f} s, both platforms {both:.1f} s: {both / one:.2f}x")
    _report(runs, args.rounds)
    return 0


def _report(runs: dict[tuple[str, ...], dict[str, list[Step]]], rounds: int) -> None:
    def median(platforms: tuple[str, ...], name: str, field: str) -> float:
        found = runs[platforms].get(name, [])
        values = [float(getattr(s, field)) for s in found] + [0.0] * (rounds - len(found))
        return statistics.median(values)

    names = sorted(set().union(*(runs[p] for p in PLATFORMS)))
    table = [
        (
            median(PLATFORMS[1], n, "seconds") - median(PLATFORMS[0], n, "seconds"),
            median(PLATFORMS[0], n, "runs"),
            median(PLATFORMS[1], n, "runs"),
            median(PLATFORMS[0], n, "seconds"),
            median(PLATFORMS[1], n, "seconds"),
            n,
        )
        for n in names
    ]
    print("steps that run more often with the second platform (runs, seconds, median):")
    for extra, r1, r2, s1, s2, name in sorted(table, reverse=True):
        if r2 > r1:
            print(f"  {r1:.0f} -> {r2:.0f} runs  {s1:5.1f} -> {s2:5.1f} s ({extra:+.1f})  {name}")
    print("steps whose time grows most with the second platform (seconds, median):")
    for extra, _, _, s1, s2, name in sorted(table, reverse=True)[:15]:
        print(f"  {extra:+5.1f}  {s1:5.1f} -> {s2:5.1f}  {name}")
    sums = [sum(median(p, n, "seconds") for n in names if ": " not in n) for p in PLATFORMS]
    print(f"all steps' time added up (median): {sums[0]:.1f} s -> {sums[1]:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
