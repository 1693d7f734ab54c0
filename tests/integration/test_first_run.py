"""A new user's first run, end to end, on the real engine: ``containerize init``, the
command it names next, then a build of the servers the user picks goes green with no
other step, and a build outside CI records a missing entry once, while CI stops.

The psycopg2 fixture has an sdist of its own (psycopg2, compiled against libpq) and,
built with mod_wsgi, containerize's mod_wsgi sdist: init records psycopg2's build
requirements; mod_wsgi's come from containerize's own record. linux/amd64 only (the
arm64 compile is test_system_packages.py's). The first run builds on the base image
init proposed, checked with the engine (the official image where it resolves, else
the base containerize builds here); the others take it through
``CONTAINERIZE_BASE_IMAGE``. The image name comes through ``CONTAINERIZE_IMAGE``, so a
run leaves nothing under a name another test uses.
"""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import cli, process
from containerize.engine import buildx
from containerize.resolve import buildlock

from .test_init import strip_table

SERVERS = ("gunicorn", "mod_wsgi")


@pytest.fixture
def image(monkeypatch: pytest.MonkeyPatch, base_image: str) -> Iterator[str]:
    name = f"containerize-test/first-run-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CONTAINERIZE_BASE_IMAGE", base_image)
    monkeypatch.setenv("CONTAINERIZE_IMAGE", name)
    yield name
    tags = [f"{name}:{server}" for server in SERVERS]
    listed = process.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name])
    tags += [line for line in listed.stdout.split() if line not in tags]
    process.run(["docker", "image", "rm", "--force", *tags], check=False)


def show(out: pytest.CaptureFixture[str], text: str) -> None:
    """What the user read, in the test's log (pytest -s shows it)."""
    with out.disabled():
        print(text)


def run_as_written(command: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    argv = shlex.split(command)
    assert argv[0] == "containerize", command
    monkeypatch.chdir(folder)
    return cli.main(argv[1:])


def test_init_then_its_next_command_then_a_build(
    make_project: Callable[[str], Path],
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project("psycopg2-app")
    strip_table(project)
    (project / buildlock.FILE_NAME).unlink()
    # The base image is init's: the one it checked with the engine (the base_image
    # fixture made sure the local one exists).
    monkeypatch.delenv("CONTAINERIZE_BASE_IMAGE")

    monkeypatch.chdir(project)
    assert cli.main(["init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    show(capsys, out)
    (proposed,) = re.findall(r"^base-image = \"([^\"]+)\"", out, flags=re.MULTILINE)
    assert buildx.imagetools_inspect(proposed) is not None, proposed
    assert "not checked" not in out
    assert "build requirements linux/amd64: recorded: setuptools" in out
    assert f"recorded them in {project / buildlock.FILE_NAME}; commit it" in out
    (command,) = re.findall(r"^next: '(containerize [^']*)'$", out, flags=re.MULTILINE)

    assert run_as_written(command, project, monkeypatch) == 0, capsys.readouterr().err
    assert "# Dockerfile" in capsys.readouterr().out

    build = "containerize build --platform linux/amd64 --server gunicorn --server mod_wsgi"
    assert run_as_written(build, project, monkeypatch) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    show(capsys, out)
    # init recorded everything this build needs: nothing is recorded now.
    assert "recorded build requirements" not in out
    assert re.search(r"^  gunicorn: .*\[linux/amd64 [\d.]+ MiB compressed\]$", out, re.M), out
    assert re.search(r"^  mod_wsgi: .*\[linux/amd64 [\d.]+ MiB compressed\]$", out, re.M), out
    # mod_wsgi came from containerize's server lock, its build requirements from its
    # own record: the project's file still holds psycopg2's alone.
    entries = buildlock.read(project / buildlock.FILE_NAME)
    assert sorted(key[:2] for key in entries) == [("linux/amd64", "3.11"), ("linux/arm64", "3.11")]
    assert all(key[2] == ("setuptools>=70.1",) for key in entries)


def test_a_build_records_a_missing_entry_outside_ci_and_stops_in_ci(
    make_project: Callable[[str], Path],
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project("psycopg2-app")
    lock_file = project / buildlock.FILE_NAME
    lock_file.unlink()
    build = ["build", "--platform", "linux/amd64", "--server", "gunicorn"]
    monkeypatch.chdir(project)

    monkeypatch.setenv("CI", "true")
    assert cli.main(build) != 0
    err = capsys.readouterr().err
    assert "no build requirements recorded for psycopg2-2.9.13.tar.gz on linux/amd64" in err
    assert "run 'containerize pin'" in err
    assert not lock_file.exists()

    monkeypatch.delenv("CI")
    assert cli.main(build) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    show(capsys, out)
    assert re.search(
        r"^recorded build requirements for psycopg2-2\.9\.13\.tar\.gz \(linux/amd64, Python "
        r"3\.11\) in containerize-build\.lock: setuptools [\d.]+; commit it$",
        out,
        re.M,
    ), out
    (entry,) = buildlock.read(lock_file).values()
    assert (entry.platform, entry.python, entry.requires) == (
        "linux/amd64",
        "3.11",
        ("setuptools>=70.1",),
    )
    # Once recorded, a build (in CI too) uses it and records nothing more.
    monkeypatch.setenv("CI", "1")
    assert cli.main(build) == 0, capsys.readouterr().err
    assert "recorded build requirements" not in capsys.readouterr().out
