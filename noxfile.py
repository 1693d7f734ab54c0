"""containerize's own sessions, and containerize's sessions for the example app.

On a fresh machine (Debian, root):

    # build the example's images
    python3 -m pip install -e . && python3 -m nox -s engine image
    # run the tests, then the test matrix on the example's images
    python3 -m pip install -e . && python3 -m nox -s engine lint tests \
        && python3 -m nox -s test_images
"""

from __future__ import annotations

import os
import shutil
import sys

import nox

import containerize.nox
from containerize import cli

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]
# 'nox -s engine tests': no tests against an engine that failed to come up.
nox.options.stop_on_first_error = True

# The example app's image, wheelhouse and doctor sessions.
containerize.nox.register(project="fixtures/hello-wsgi")


@nox.session(python=False)
def engine(session: nox.Session) -> None:
    """Provision the engine, emulation, the 127.0.0.1:5000 registry and the base image."""
    for args in (
        ["engine", "up"],
        ["base-image"],
        ["--project", "fixtures/hello-wsgi", "doctor"],
    ):
        session.log("containerize " + " ".join(args))
        if cli.main(args) != 0:
            session.error(f"containerize {' '.join(args)} failed")


@nox.session(python=False, default=False)
def benchmark(session: nox.Session) -> None:
    """Print build, rebuild, wheelhouse and size figures for the example app."""
    session.run(sys.executable, "benchmarks/image_build.py", external=True)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """containerize against hand-written Dockerfiles: figures, ratios, targets.

    ``nox -s bench -- --quick`` for a short run (linux/amd64 only). Writes
    .containerize/bench/bench.md and bench.json (``-- --output DIR`` elsewhere).
    """
    if shutil.which("wrk") is None:
        # The load generator; Debian has it. Installed only where this session may.
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            session.error("the bench needs wrk on PATH (on Debian: apt-get install wrk)")
        session.run("apt-get", "install", "-y", "wrk", external=True)
    # pip-tools: the bench project's lock is pip-compile's, and the dependency bump
    # re-locks it with the same tool.
    session.install("-e", ".", "pip-tools==7.7.0")
    session.run("python", "-m", "benchmarks.bench", *session.posargs)


@nox.session(python=False, default=False)
def bench_runners(session: nox.Session) -> None:
    """Two CI runners, one registry: runner A (the engine) builds cold and shares its
    caches; then A rebuilds warm and runner B (a second engine, 'containerize engine
    second', empty) builds from A's shared caches: the same commit (the issue's
    scenario), and after a one-line app change (stricter), with --load and with --push,
    3 rounds each (medians). Prints seconds by phase, compiles and downloads, beside B
    without sharing.

    ``nox -s bench_runners -- --platform linux/amd64 --platform linux/arm64 --rounds 1``.
    """
    session.run(sys.executable, "benchmarks/runners.py", *session.posargs, external=True)


@nox.session(python=False, default=False)
def reproducibility(session: nox.Session) -> None:
    """Build twice from scratch and compare index digests; name what differs."""
    session.run(sys.executable, "benchmarks/reproducibility.py", *session.posargs, external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit and integration tests (integration needs 'nox -s engine' first)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs, env={"CI": os.environ.get("CI", "")})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy --strict."""
    session.install("-e", ".[test,lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
