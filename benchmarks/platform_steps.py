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

With ``--cold``, each build is instead the bench's own cold build of containerize
(``containerize -v build --push --no-cache``, run as ``nox -s bench`` runs it: a new
copy of the project, an empty download cache, a new repository), so that its wall
time is the bench's figure, split into the bench's phases (before buildx, in it,
after it); the steps are then read from BuildKit's plain progress in its output
(each step's ``DONE`` seconds, and the export's and the push's parts). The load
average is printed after each build: the machine's state while it ran.

Wall times on a shared 2-CPU machine vary by a second or more from build to build, and
a cold build keeps both CPUs busy, so the engine's CPU time is printed too: the CPU
seconds of the daemon answering on the Docker socket and of its processes (containerd,
the steps' containers), whatever else the machine runs. With ``--cold`` it is split
into the build's phases (before buildx, the steps, the export, the end: what follows
the export), read from the stamped log: where a second platform's cost lies.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import re
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import buildx, docker
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


#: A line of BuildKit's plain progress: ``#12 [linux/arm64 stage 1/2] RUN ...``,
#: ``#12 DONE 0.4s``, ``#30 exporting layers 1.7s done``.
_PLAIN = re.compile(r"^#(\d+) (.*)$")
#: Digests and image references in a step's name: each build has its own.
_REFERENCE = re.compile(r"sha256:[0-9a-f]+|[0-9a-f]{12}|\S+:\S+")
_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_PART = re.compile(
    r"^((?:exporting|pushing|writing|naming|unpacking)[^#]*?) (\d+(?:\.\d+)?)s done$"
)


def plain_steps(log: str) -> dict[str, Step]:
    """Step name -> its runs, from BuildKit's plain progress (as in :func:`steps`):
    a step's name is the first line its number comes with, its time the ``DONE``
    seconds; cached steps, context transfers and metadata loads left out; the
    export's and the push's timed parts (``exporting layers 1.7s done``) are steps of
    their own, named after their vertex (digests left out). Lines may carry a
    leading timestamp (the bench's logs stamp each line)."""
    names: dict[str, str] = {}
    found: dict[str, Step] = collections.defaultdict(Step)
    for raw in log.splitlines():
        line = raw.strip()
        if line[:1].isdigit():  # the bench's stamp: "  12.345 #5 ..."
            line = line.partition(" ")[2].strip()
        match = _PLAIN.match(line)
        if not match:
            continue
        number, text = match.groups()
        if number not in names:
            names[number] = text
            continue
        name = names[number]
        key = _NUMBERED.sub("]", _PLATFORM.sub("[", name))[:90]
        if key.startswith(("[internal]", "[context ")):
            continue
        if key.startswith("pushing "):  # each build's own repository left out
            key = _REFERENCE.sub("…", key)
        if done := _DONE.match(text):
            found[key].runs += 1
            found[key].seconds += float(done.group(1))
        elif name.startswith(("exporting", "pushing")) and (part := _PART.match(text)):
            sub = _REFERENCE.sub("…", part[1])
            found[f"{key}: {sub}"].runs += 1
            found[f"{key}: {sub}"].seconds += float(part[2])
    return found


def _engine_pid(socket_path: str = "/var/run/docker.sock") -> int | None:
    """The pid of the daemon answering on *socket_path* (its peer credentials), None
    when there is none to ask."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(socket_path)
        except OSError:
            return None
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


def engine_cpu(pid: int | None) -> float:
    """CPU seconds used so far by the engine *pid* and its processes (containerd, the
    build steps' containers): its own time and its reaped children's, and the same
    for every descendant still alive. The difference over a build is the engine's
    work for it, whatever else the machine runs; 0.0 without a pid."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        # After the name: state, ppid, ... utime (14th field of the line), stime,
        # cutime, cstime.
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick

    def ours(candidate: int) -> bool:
        while candidate > 1:
            if candidate == pid:
                return True
            candidate = parents.get(candidate, 0)
        return False

    return sum(t for p, t in times.items() if ours(p))


#: The parts of a cold build the engine's CPU time is split into: up to ``docker buildx
#: build``, its steps, the export (layers compressed, manifests, the exporter's push),
#: and the end (what follows the export: BuildKit's end of the build, buildx's push of
#: each tag with docker).
PHASES = ("before buildx", "steps", "export", "end")


def phase_marks(log: str) -> tuple[float, float, float] | None:
    """From a bench log (each line stamped with its seconds since the start): when
    ``docker buildx build`` was logged, when the export started and when it was
    done; None if one of them is missing."""
    started = export = done = None
    number = ""
    for raw in log.splitlines():
        stamp, _, text = raw.strip().partition(" ")
        try:
            at = float(stamp)
        except ValueError:
            continue
        if started is None and text.startswith("$ docker buildx build "):
            started = at
        elif (match := _PLAIN.match(text)) and started is not None:
            if export is None and match[2] == "exporting to image":
                export, number = at, match[1]
            elif match[1] == number and _DONE.match(match[2]):
                done = at
    return None if started is None or export is None or done is None else (started, export, done)


class _Sampler(threading.Thread):
    """The engine's CPU seconds, sampled every 0.1 s: (seconds since *began*, CPU)."""

    def __init__(self, pid: int | None, began: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.began, self.samples = pid, began, [(0.0, engine_cpu(pid))]
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.samples.append((time.monotonic() - self.began, engine_cpu(self.pid)))

    def stop(self) -> None:
        self.stopped.set()
        self.join()
        self.samples.append((time.monotonic() - self.began, engine_cpu(self.pid)))

    def at(self, when: float) -> float:
        """The CPU seconds of the last sample taken at or before *when*."""
        return max((s for s in self.samples if s[0] <= when), default=self.samples[0])[1]


def _bench_cold(
    tmp: Path, platforms: tuple[str, ...], *, round_: int, repository: str, logs: Path
) -> tuple[float, str, dict[str, Step], dict[str, float]]:
    """One cold build of containerize as the bench runs it: its wall time, its phases
    as the bench prints them, its steps from the plain progress in its log, and the
    engine's CPU seconds in each of :data:`PHASES` (empty without an engine pid)."""
    run = _bench_run()
    label = "both" if len(platforms) > 1 else "amd64"
    spec = run.Build(
        project=run._copy(run.PROJECT, tmp / f"{label}-{round_}"),
        repository=repository,
        platforms=platforms,
        cold=True,
        scope=f"{label}-{round_}",  # a download cache of its own: empty
        log=logs / f"{label}-{round_}.log",
    )
    pid = _engine_pid()
    sampler = _Sampler(pid, time.monotonic())
    sampler.start()
    try:
        wall, split = run._timed(run.Containerize(caches=tmp / "caches"), spec)
    finally:
        sampler.stop()
    log = spec.log.read_text()
    cpu: dict[str, float] = {}
    if pid is not None and (marks := phase_marks(log)):
        edges = [0.0, *marks, sampler.samples[-1][0]]
        cpu = {
            phase: sampler.at(edges[i + 1]) - sampler.at(edges[i]) for i, phase in enumerate(PHASES)
        }
    return wall, run._shown(split), plain_steps(log), cpu


def _remove_images(repository: str) -> None:
    """Remove from the engine the tags a build of this script left there (its images
    stay in the registry), so that rounds of builds do not pile up in its store."""
    listed = docker.run("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository,
                        capture=True)  # fmt: skip
    if tags := listed.stdout.split():
        docker.run("image", "rm", *tags, capture=True)


def _build(
    project: Path, platforms: tuple[str, ...], *, repository: str | None
) -> tuple[float, dict[str, Step]]:
    """One build (pushed to *repository*, when given) with rawjson progress: its wall
    time and its steps."""
    push = repository is not None
    overrides: dict[str, object] = {"platforms": list(platforms)}
    if repository is not None:
        overrides["image"] = repository
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


def _bench_run() -> Any:
    """The bench's runner module, imported only in the mode that needs it; run as a
    script (``python3 benchmarks/platform_steps.py``) the repository is put on the
    path first, so that its package ``benchmarks`` is found."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from benchmarks.bench import run  # noqa: PLC0415

    return run


def _compile_containerize() -> None:
    """As the bench does before it times anything (see its ``_compile_containerize``)."""
    _bench_run()._compile_containerize()


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
    parser.add_argument(
        "--cold", action="store_true",
        help="the bench's cold build: containerize's command line, empty download cache, pushed",
    )  # fmt: skip
    parser.add_argument(
        "--logs", type=Path, help="with --cold: keep each build's output in this folder"
    )
    args = parser.parse_args(argv)
    baseimage.ensure()
    found = _Found()
    with tempfile.TemporaryDirectory(prefix="containerize-platform-steps-") as tmp:
        project = Path(tmp) / "django-pillow"
        _copy_project(project)
        if args.fetch:
            _fetch_times(project)
        if not args.cold:
            for platforms in PLATFORMS:  # fills the download cache: not timed
                pipeline.prepare(
                    config.load(project, overrides={"platforms": list(platforms)}),
                    machine(engine=True),
                    output="none",
                )
        else:
            _compile_containerize()
        run_id, logs = uuid.uuid4().hex[:8], args.logs or Path(tmp) / "logs"
        for n in range(1, args.rounds + 1):
            for platforms in PLATFORMS:
                cpu, split = engine_cpu(found.engine), ""
                by_phase: dict[str, float] = {}
                label = "both" if len(platforms) > 1 else "amd64"
                repository = f"{REGISTRY}/containerize-platform-steps/{run_id}-{label}-{n}"
                if args.cold:
                    wall, split, steps_run, by_phase = _bench_cold(
                        Path(tmp), platforms, round_=n, repository=repository, logs=logs
                    )
                else:
                    pushed = repository if args.push else None
                    wall, steps_run = _build(project, platforms, repository=pushed)
                found.add(platforms, wall, engine_cpu(found.engine) - cpu, by_phase, steps_run)
                if args.cold or args.push:
                    _remove_images(repository)
                if by_phase:
                    split += " (engine CPU: "
                    split += ", ".join(f"{p} {by_phase[p]:.1f} s" for p in PHASES) + ")"
                busy = sum(s.seconds for k, s in steps_run.items() if ": " not in k)
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"round {n}, {' + '.join(platforms)}: {wall:.2f} s{split} "
                      f"(engine CPU {found.cpus[platforms][-1]:.1f} s; steps' time added "
                      f"up: {busy:.1f} s; load average {load})", flush=True)  # fmt: skip
    found.summary()
    _report(found.runs, args.rounds)
    return 0


@dataclasses.dataclass
class _Found:
    """Every build's figures, by platform set."""

    engine: int | None = dataclasses.field(default_factory=_engine_pid)
    walls: dict[tuple[str, ...], list[float]] = dataclasses.field(
        default_factory=lambda: {p: [] for p in PLATFORMS}
    )
    cpus: dict[tuple[str, ...], list[float]] = dataclasses.field(
        default_factory=lambda: {p: [] for p in PLATFORMS}
    )
    phase_cpus: dict[tuple[str, ...], dict[str, list[float]]] = dataclasses.field(
        default_factory=lambda: {p: {} for p in PLATFORMS}
    )
    runs: dict[tuple[str, ...], dict[str, list[Step]]] = dataclasses.field(
        default_factory=lambda: {p: collections.defaultdict(list) for p in PLATFORMS}
    )

    def add(
        self,
        platforms: tuple[str, ...],
        wall: float,
        cpu: float,
        by_phase: dict[str, float],
        steps_run: dict[str, Step],
    ) -> None:
        self.walls[platforms].append(wall)
        self.cpus[platforms].append(cpu)
        for phase, seconds in by_phase.items():
            self.phase_cpus[platforms].setdefault(phase, []).append(seconds)
        for name, step in steps_run.items():
            self.runs[platforms][name].append(step)

    def summary(self) -> None:
        """The medians, their spread and ratio, each round's ratio, the engine's CPU."""
        walls = self.walls
        one, both = (statistics.median(walls[p]) for p in PLATFORMS)
        spread = "; ".join(
            f"{' + '.join(p)}: {min(walls[p]):.2f} to {max(walls[p]):.2f} s" for p in PLATFORMS
        )
        print(f"median: linux/amd64 alone {one:.2f} s, both platforms {both:.2f} s: "
              f"{both / one:.2f}x (spread: {spread})")  # fmt: skip
        ratios = sorted(b / a for a, b in zip(*(walls[p] for p in PLATFORMS), strict=True))
        print("each round's ratio, sorted: " + ", ".join(f"{r:.2f}x" for r in ratios))
        if self.engine is not None:
            one, both = (statistics.median(self.cpus[p]) for p in PLATFORMS)
            print(f"engine CPU (dockerd, containerd, the steps; median): linux/amd64 alone "
                  f"{one:.1f} s, both platforms {both:.1f} s: {both / one:.2f}x")  # fmt: skip
        for phase in PHASES if all(self.phase_cpus.values()) else ():
            one, both = (statistics.median(self.phase_cpus[p][phase]) for p in PLATFORMS)
            print(f"  {phase}: {one:.1f} -> {both:.1f} CPU s ({both - one:+.1f})")


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
