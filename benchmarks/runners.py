"""Two CI runners standing side by side, one registry between them: figures, printed.

Runner A is the first engine; runner B is the second one (``containerize engine
second``), reached through its docker context, with its own data root and BuildKit
cache. Each build is ``containerize build`` as a CI job runs it, timed from start to end,
on a copy of the same project with a download cache and a probe cache of its own (the
base image's pin that A's cold build recorded in ``containerize.lock`` is part of the
commit every copy checks out). With ``cache = "registry"`` and ``share = "registry"``,
A pushes BuildKit's cache and what it downloaded, compiled and probed; B starts empty
before each of its builds (its BuildKit cache and images pruned, a fresh checkout with
empty download and probe caches).

A builds a commit cold (an empty download cache, ``--no-cache``, ``--load``). Then two
scenarios, each for ``--load`` (the image into the runner's store) and ``--push`` (a CI
job's real output: the image into the registry):

- **same** (the issue's): A rebuilds that commit warm, and B, empty, builds the very
  same commit. Both pass ``--rebuild``: the image with that commit's key is already in
  A's store (``--load``) or in the registry (``--push``), and without it the build
  would be skipped by its key; with it, each goes through buildx and BuildKit's cache.
  The target: B compiles nothing, downloads nothing from the package index and takes
  at most 1.5x A's warm rebuild.
- **change** (stricter): A and B each build after a one-line change to the app (B the
  next commit, one A never built): B has to run the app's import check on the base
  image, which its empty store has to pull and unpack first.

Each scenario times A's warm rebuild and B with the shared caches ``--rounds`` times,
alternately, and compares their medians; "B, without them" (both keys off, another
image: what a runner pays without sharing) runs once. Before the ``--push`` rows, A
pushes once, unmeasured beside the others ("A, first push"): a CI runner's repository
has images already. A last row of "change, --push", not compared, is B with the base
image pulled (untimed) before the job, as a runner image that holds it would have it.
A build skipped by its image key is an error here.

For each: the seconds, sdists compiled, files downloaded from the index, files pulled
from the shared cache, probes pulled from it, containers run to probe the base image,
and BuildKit's RUN steps run and cached. Each build's log, every line with its second,
is kept (``--logs``). Nothing is asserted. The machine's other work counts in the
figures: repeat, and compare medians.

    nox -s bench_runners                      # psycopg2-app, linux/amd64, 3 rounds
    nox -s bench_runners -- --platform linux/amd64 --platform linux/arm64 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from containerize.host import baseimage, second

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5


@dataclass(frozen=True, kw_only=True)
class Run:
    """One timed build and what its log says it did."""

    name: str
    seconds: float
    compiled: int
    compiled_before: int
    downloaded: int
    shared: int
    probes_shared: int
    probes_run: int
    steps_run: int
    steps_cached: int
    #: Where the seconds went, phase by phase (see :func:`phases`).
    phases: tuple[tuple[str, float], ...] = ()

    def row(self) -> str:
        return (
            f"| {self.name} | {self.seconds:.1f} | {self.compiled} | {self.compiled_before} "
            f"| {self.downloaded} | {self.shared} | {self.probes_shared} | {self.probes_run} "
            f"| {self.steps_run} | {self.steps_cached} |"
        )


@dataclass(frozen=True, kw_only=True)
class Bench:
    """Where the runners' checkouts and caches are, and what each build builds."""

    root: Path
    logs: Path
    project: str
    server: str
    platforms: tuple[str, ...]

    def build(
        self,
        name: str,
        checkout: str,
        env: dict[str, str],
        *extra: str,
        output: str = "--load",
        change: str | None = None,
        on_b: bool = False,
        pull: str | None = None,
    ) -> Run:
        """One CI job's ``containerize build`` with *output* in *checkout* (its project
        copy and caches), after the one-line *change* to its app when given, on runner B
        when *on_b* (emptied first, then the image *pull* pulled, untimed), else on A."""
        project = self.root / checkout / self.project
        if not project.exists():
            shutil.copytree(
                REPO / "fixtures" / self.project,
                project,
                ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
            )
            # One commit on every runner: it holds the base image's pin that A's cold
            # build recorded (containerize.lock, a file users commit), so B pins the
            # base from it as A does, without asking the registry.
            pins = self.root / "a" / self.project / "containerize.lock"
            if pins.is_file():
                shutil.copy2(pins, project / "containerize.lock")
        if change is not None:
            with (project / "app.py").open("a") as app:
                app.write(f"# {change}\n")
        environ = {
            **os.environ,
            **env,
            "CONTAINERIZE_CACHE_DIR": str(self.root / checkout / "cache"),
            # A fresh runner has no probe cache either (the base image's Python).
            "XDG_CACHE_HOME": str(self.root / checkout / "xdg"),
            "PYTHONPATH": str(REPO),
        }
        environ.pop("DOCKER_CONTEXT", None)
        environ.pop("DOCKER_HOST", None)
        if on_b:
            environ["DOCKER_CONTEXT"] = second.CONTEXT
            _empty_b()
            for platform in self.platforms if pull is not None else ():
                assert pull is not None
                subprocess.run(
                    ["docker", "--context", second.CONTEXT, "pull", "--quiet",
                     "--platform", platform, pull],
                    check=True, capture_output=True, timeout=600,
                )  # fmt: skip
        command = [
            sys.executable, "-m", "containerize", "--project", str(project), "build",
            "-v", output, "--server", self.server,
            *(f"--platform={p}" for p in self.platforms), *extra,
        ]  # fmt: skip
        print(f"\n== {name}, {output}", flush=True)
        began = time.monotonic()
        lines = []
        with subprocess.Popen(
            command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                lines.append(f"[{time.monotonic() - began:6.1f}s] {line}")
        seconds = time.monotonic() - began
        log = "".join(line.split("] ", 1)[1] for line in lines)
        self.logs.mkdir(parents=True, exist_ok=True)
        number = len(list(self.logs.glob("[0-9][0-9]-*.log"))) + 1  # in the order built
        words = re.sub(r"[^a-z0-9]+", "-", f"{output} {name} {checkout}".lower()).strip("-")
        kept = self.logs / f"{number:02d}-{words}.log"
        kept.write_text("".join(lines))
        if child.returncode != 0:
            print(log[-4000:])
            raise SystemExit(f"{name}: the build failed (exit {child.returncode}): {kept}")
        if "unchanged since" in log:
            raise SystemExit(f"{name}: skipped by its image key, not built: {kept}")
        run = replace(measure(name, seconds, log), phases=phases(lines, seconds))
        print(run.row(), flush=True)
        return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="psycopg2-app", help="a folder of fixtures/")
    parser.add_argument("--platform", action="append", default=[], help="default linux/amd64")
    parser.add_argument("--server", default="gunicorn")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="A's warm rebuild and B with the shared caches, this many times each (medians)",
    )  # fmt: skip
    parser.add_argument(
        "--scenario", action="append", choices=SCENARIOS, default=[],
        help="only this one (repeatable); default: both",
    )  # fmt: skip
    parser.add_argument(
        "--no-unshared", dest="unshared", action="store_false",
        help="leave out 'B, without them' (it compiles every sdist: minutes under emulation)",
    )  # fmt: skip
    parser.add_argument(
        "--logs",
        type=Path,
        default=REPO / ".containerize" / "bench" / "runners",
        help="where each run's folder of build logs is kept, every line with its second",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    platforms = tuple(args.platform or ["linux/amd64"])
    scenarios = [s for s in SCENARIOS if s in (args.scenario or SCENARIOS)]

    base = baseimage.ensure()
    running = second.answers(second.default())
    print(second.up(), flush=True)
    tag = uuid.uuid4().hex[:8]
    shared = {
        "CONTAINERIZE_CACHE": "registry",
        "CONTAINERIZE_SHARE": "registry",
        "CONTAINERIZE_IMAGE": f"127.0.0.1:5000/containerize-bench/runners-{tag}",
    }
    alone = {"CONTAINERIZE_IMAGE": f"127.0.0.1:5000/containerize-bench/runners-alone-{tag}"}
    edits = iter(range(1, 1000))

    def edit() -> str:
        return f"change {next(edits)} of bench run {tag}"

    tables: list[tuple[str, str, list[Run]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="containerize-runners-") as tmp:
            bench = Bench(
                root=Path(tmp),
                logs=args.logs / tag,  # one folder a run, its logs in the order built
                project=args.project,
                server=args.server,
                platforms=platforms,
            )
            checkouts = iter(range(1, 1000))

            def fresh(name: str) -> str:
                return f"{name}{next(checkouts)}"

            # The commit A builds cold; the same commit is what "same" builds after.
            cold = bench.build("A, cold", "a", shared, "--no-cache")
            for scenario in scenarios:
                same = scenario == "same"
                for output in ("--load", "--push"):
                    runs = [cold] if output == "--load" and scenario == scenarios[0] else []
                    # --rebuild: the image with this commit's key is in A's store (--load)
                    # or in the registry (--push); the build goes through buildx anyway.
                    flags = ("--rebuild",) if same else ()
                    if output == "--push":
                        runs.append(
                            bench.build(
                                "A, first push", "a", shared, *flags, output=output,
                                change=None if same else edit(),
                            )
                        )  # fmt: skip
                    for _ in range(args.rounds):
                        runs.append(
                            bench.build(
                                "A, warm rebuild", "a", shared, *flags, output=output,
                                change=None if same else edit(),
                            )
                        )  # fmt: skip
                        b_change = None if same else edit()
                        runs.append(
                            bench.build(
                                "B, shared caches", fresh("b"), shared, *flags, output=output,
                                change=b_change, on_b=True,
                            )
                        )  # fmt: skip
                    if args.unshared:
                        runs.append(
                            bench.build(
                                "B, without them", fresh("c"), alone, *flags, output=output,
                                change=b_change, on_b=True,
                            )
                        )  # fmt: skip
                    if output == "--push" and not same:
                        runs.append(
                            bench.build(
                                "B, shared caches, base image pulled before the job",
                                fresh("b"), shared, output=output, change=edit(), on_b=True,
                                pull=base,
                            )
                        )  # fmt: skip
                    tables.append((scenario, output, runs))
    finally:
        _remove_images(shared["CONTAINERIZE_IMAGE"], alone["CONTAINERIZE_IMAGE"])
        _empty_b()
        if not running:
            print(second.down(), flush=True)  # started here: stopped here
    for scenario, output, runs in tables:
        report(runs, scenario=scenario, output=output, platforms=platforms, project=args.project)
    print(f"logs: {args.logs / tag}")
    return 0


#: The two comparisons: B builds the very commit A built cold (the issue's scenario),
#: or the next one after a one-line app change (stricter: B runs the import check).
SCENARIOS = ("same", "change")
_TITLES = {
    "same": "the same commit A built cold (the issue's scenario; --rebuild on both)",
    "change": "after a one-line app change (stricter: the import check runs on B)",
}


def measure(name: str, seconds: float, log: str) -> Run:
    """What the build's verbose log says it did."""
    steps: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        match = re.match(r"#(\d+) (\[.*\] RUN .*)", line)
        if match:
            steps[match[1]] = match[2]
        elif re.match(r"#\d+ CACHED", line):
            cached.add(line.split()[0][1:])
    return Run(
        name=name,
        seconds=seconds,
        compiled=len(re.findall(r"^compiled \S+ for ", log, re.M)),
        compiled_before=log.count(": compiled before, "),
        downloaded=len(re.findall(r"^downloading ", log, re.M)),
        shared=len(re.findall(r"^\S+: from the shared cache ", log, re.M)),
        probes_shared=len(re.findall(r"^the probe of .*: from the shared cache ", log, re.M)),
        probes_run=len(re.findall(r"^\$ docker run .* -c 'import glob, json", log, re.M)),
        steps_run=len([n for n in steps if n not in cached]),
        steps_cached=len([n for n in steps if n in cached]),
    )


#: Where each phase of a build begins in its verbose log (the first such line; the
#: image's build is the last ``buildx build``: the compile, if any, comes before).
_MARKS = (
    ("pin the base", r"\$ docker buildx imagetools inspect ", False),
    ("probe it", r"\$ docker run ", False),
    ("wheelhouse (fetch, compile)", r"\$ docker image inspect |\S+ files ready", False),
    ("buildx solve", r"\$ docker buildx build ", True),
    ("export", r"#\d+ exporting to image", False),
    ("cache export", r"#\d+ exporting cache", False),
)


def phases(lines: list[str], seconds: float) -> tuple[tuple[str, float], ...]:
    """The seconds of each phase found in the timestamped *lines*, the time before the
    first as "start and checks", the rest to *seconds*."""
    found: list[tuple[str, float]] = [("start and checks", 0.0)]
    for name, pattern, last in _MARKS:
        at = [
            float(line[1:7])
            for line in lines
            if re.match(pattern, line.split("] ", 1)[1]) and float(line[1:7]) >= found[-1][1]
        ]
        if at:
            found.append((name, at[-1] if last else at[0]))
    ends = [at for _, at in found[1:]] + [seconds]
    return tuple((name, end - at) for (name, at), end in zip(found, ends, strict=True))


def report(
    runs: list[Run], *, scenario: str, output: str, platforms: tuple[str, ...], project: str
) -> None:
    """The table of *runs*, one row per build, then each name's median and the ratio."""
    print(f"\n# Two CI runners, one registry: {project}, {', '.join(platforms)}, {output}, "
          f"{_TITLES[scenario]}\n")  # fmt: skip
    print("| build | seconds | compiled | compiled before | downloaded from the index "
          "| from the shared cache | probes from it | probe containers | RUN steps run "
          "| RUN steps cached |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(run.row())
    print()
    by: dict[str, list[Run]] = {}
    for run in runs:
        by.setdefault(run.name, []).append(run)
    for name, named in by.items():
        spread = ", ".join(f"{run.seconds:.1f}" for run in named)
        print(f"{name}: median {median(named):.1f}s of {len(named)} ({spread})")
    for name, named in by.items():
        last = named[-1]
        print(f"{name} (last): " + ", ".join(f"{step} {at:.1f}s" for step, at in last.phases))
    print()
    warm, shared = median(by["A, warm rebuild"]), median(by["B, shared caches"])
    ratio = shared / warm if warm else float("inf")
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"{scenario}, {output}: B with the shared caches / A's warm rebuild, medians: "
          f"{ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")  # fmt: skip
    if "B, without them" in by:
        print(f"B without them / B with them: {median(by['B, without them']) / shared:.1f}x")
    compiled = max(run.compiled for run in by["B, shared caches"])
    downloaded = max(run.downloaded for run in by["B, shared caches"])
    print(f"B compiled {compiled} sdist(s) and downloaded {downloaded} file(s) from the index "
          "at most, in any round (target: 0 and 0)")  # fmt: skip


def median(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def _empty_b() -> None:
    """Runner B starts empty: no BuildKit cache, no image."""
    for args in (["buildx", "prune", "--all", "--force"], ["image", "prune", "--all", "--force"]):
        subprocess.run(
            ["docker", "--context", second.CONTEXT, *args],
            check=True,
            capture_output=True,
            timeout=600,
        )


def _remove_images(*repositories: str) -> None:
    """Remove runner A's images of *repositories* (B's went with its prune)."""
    for repository in repositories:
        listed = subprocess.run(
            ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
             "--filter", f"reference={repository}"],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        tags = listed.stdout.split()
        if tags:
            subprocess.run(["docker", "image", "rm", "--force", *tags], check=False)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
