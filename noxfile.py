"""containerize's own sessions, and containerize's sessions for the example app.

On a fresh machine (Debian, root):

    python3 -m pip install -e . && python3 -m nox -s engine image    # build the example's images
    python3 -m pip install -e . && nox -s engine tests    # run the test suite
"""

from __future__ import annotations

import os

import nox

import containerize.nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]

# The example app's image, wheelhouse and doctor sessions.
containerize.nox.register(project="fixtures/hello-wsgi")


@nox.session(python=False)
def engine(session: nox.Session) -> None:
    """Provision the engine, emulation, the 127.0.0.1:5000 registry and the base image."""
    session.run("containerize", "engine", "up", external=True)
    session.run("containerize", "base-image", external=True)
    session.run("containerize", "--project", "fixtures/hello-wsgi", "doctor", external=True)


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
