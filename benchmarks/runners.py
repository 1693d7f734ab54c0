"""Two CI runners standing side by side, one registry between them: figures, printed.

Runner A is the first engine; runner B is the second one (``containerize engine
second``), reached through its docker context, with its own data root and BuildKit
cache. Each build is ``containerize build`` as a CI job runs it, timed from start to end,
on a copy of the same project with a download cache and a probe cache of its own. With
``cache = "registry"`` and ``share = "registry"``, A pushes BuildKit's cache and what it
downloaded, compiled and probed; B starts empty (its BuildKit cache and images pruned,
empty download and probe caches):

1. A, cold: an empty download cache and ``--no-cache``, ``--load``;
2. then, for ``--load`` (the image into the runner's store) and for ``--push`` (a CI
   job's real output: the image into the registry):

   - A, warm rebuild: a one-line change to the app, built on A;
   - B with the shared caches: another one-line change (the next commit), built on an
     empty B; the target is to compile nothing, download nothing from the package
     index and take at most 1.5x A's warm rebuild;
   - B without them: the same change, with both keys off and another image, so
     nothing of A's is found: what a runner pays without sharing.

   Every compared build changes the app first (a line naming the bench run), so its
   image key is one no engine or registry holds, and no BuildKit cache has its app:
   the "unchanged" skip is never what makes a build fast (a build that
   skips is an error here). Before the ``--push`` rows, A pushes once, unmeasured
   beside the others ("A, first push"): a CI runner's repository has images already.
   Every B build starts from a fresh copy of the project, with empty caches. A last
   ``--push`` row, not compared, is B with the shared caches and the base image pulled
   (untimed) before the job, as a runner image that holds it would have it: what is
   left of B's extra time is then the base image's pull and unpacking.

For each: the seconds, sdists compiled, files downloaded from the index, files pulled
from the shared cache, probes pulled from it, containers run to probe the base image,
and BuildKit's RUN steps run and cached. Each build's log, every line with its second,
is kept (``--logs``). Nothing is asserted.

    nox -s bench_runners                      # psycopg2-app, linux/amd64
    nox -s bench_runners -- --platform linux/amd64 --platform linux/arm64
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
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
        kept = self.logs / (re.sub(r"[^a-z]+", "-", f"{output} {name}".lower()).strip("-") + ".log")
        kept.write_text("".join(lines))
        if child.returncode != 0:
            print(log[-4000:])
            raise SystemExit(f"{name}: the build failed (exit {child.returncode}): {kept}")
        if change is not None and "unchanged since" in log:
            raise SystemExit(f"{name}: skipped as unchanged after a change: {kept}")
        run = replace(measure(name, seconds, log), phases=phases(lines, seconds))
        print(run.row(), flush=True)
        return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="psycopg2-app", help="a folder of fixtures/")
    parser.add_argument("--platform", action="append", default=[], help="default linux/amd64")
    parser.add_argument("--server", default="gunicorn")
    parser.add_argument(
        "--logs",
        type=Path,
        default=REPO / ".containerize" / "bench" / "runners",
        help="where each build's log is kept, every line with its second",
    )
    args = parser.parse_args(argv)
    platforms = tuple(args.platform or ["linux/amd64"])

    base = baseimage.ensure()
    running = second.answers(second.default())
    print(second.up(), flush=True)
    tag = uuid.uuid4().hex[:8]
    shared = {
        "CONTAINERIZE_CACHE": "registry",
        "CONTAINERIZE_SHARE": "registry",
        "CONTAINERIZE_IMAGE": f"127.0.0.1:5000/containerize-bench/runners-{tag}",
    }

    def edit(n: int) -> str:
        return f"change {n} of bench run {tag}"

    alone = {"CONTAINERIZE_IMAGE": f"127.0.0.1:5000/containerize-bench/runners-alone-{tag}"}
    try:
        with tempfile.TemporaryDirectory(prefix="containerize-runners-") as tmp:
            bench = Bench(
                root=Path(tmp),
                logs=args.logs,
                project=args.project,
                server=args.server,
                platforms=platforms,
            )
            load = [
                bench.build("A, cold", "a", shared, "--no-cache"),
                bench.build("A, warm rebuild", "a", shared, change=edit(1)),
                bench.build("B, shared caches", "b", shared, change=edit(2), on_b=True),
                bench.build("B, without them", "c", alone, change=edit(2), on_b=True),
            ]
            push = [
                bench.build("A, first push", "a", shared, output="--push", change=edit(3)),
                bench.build("A, warm rebuild", "a", shared, output="--push", change=edit(4)),
                bench.build(
                    "B, shared caches", "b2", shared, output="--push", change=edit(5), on_b=True
                ),
                bench.build(
                    "B, without them", "c2", alone, output="--push", change=edit(5), on_b=True
                ),
                bench.build(
                    "B, shared caches, base image pulled before the job",
                    "b3",
                    shared,
                    output="--push",
                    change=edit(6),
                    on_b=True,
                    pull=base,
                ),
            ]
    finally:
        _remove_images(shared["CONTAINERIZE_IMAGE"], alone["CONTAINERIZE_IMAGE"])
        _empty_b()
        if not running:
            print(second.down(), flush=True)  # started here: stopped here
    report(load, output="--load", platforms=platforms, project=args.project)
    report(push, output="--push", platforms=platforms, project=args.project)
    print(f"logs: {args.logs}")
    return 0


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


def report(runs: list[Run], *, output: str, platforms: tuple[str, ...], project: str) -> None:
    by = {run.name: run for run in runs}
    warm, shared, alone = by["A, warm rebuild"], by["B, shared caches"], by["B, without them"]
    ratio = shared.seconds / warm.seconds if warm.seconds else float("inf")
    print(f"\n# Two CI runners, one registry: {project}, {', '.join(platforms)}, {output}\n")
    print("| build | seconds | compiled | compiled before | downloaded from the index "
          "| from the shared cache | probes from it | probe containers | RUN steps run "
          "| RUN steps cached |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(run.row())
    print()
    for run in runs:
        print(f"{run.name}: " + ", ".join(f"{name} {at:.1f}s" for name, at in run.phases))
    print()
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"{output}: B with the shared caches / A's warm rebuild: {ratio:.2f}x "
          f"(target <= {TARGET_RATIO}x: {verdict})")  # fmt: skip
    print(f"B without them / B with them: {alone.seconds / shared.seconds:.1f}x")
    print(f"B compiled {shared.compiled} sdist(s) and downloaded {shared.downloaded} file(s) "
          "from the index (target: 0 and 0)")  # fmt: skip


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
