"""``containerize init`` on each fixture with its table removed: the table it writes
says what the hand-written one says, where it matters.

Keys init cannot know are not compared: the image name, the servers and platforms,
the port, the health-check path, hosts Django computes at run time, and the base image
(the fixtures name the one this machine builds, 127.0.0.1:5000/...; init names the
official image of the same Python). tests/integration/test_init.py builds one of them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tomlkit

from containerize import cli, config
from containerize.resolve.lock import load_lock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def strip_table(project: Path) -> str:
    """Remove [tool.containerize] (and its subtables) from the project's pyproject.toml."""
    pyproject = project / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    tool = document["tool"]
    del tool["containerize"]
    if not tool:
        del document["tool"]
    stripped = document.as_string()
    pyproject.write_text(stripped)
    return stripped


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(
        FIXTURES / name,
        target,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock", "__pycache__"),
    )
    return target


@pytest.mark.parametrize(
    "name",
    [
        "hello-wsgi",
        "flask-app",
        "django-app",
        "flask-pip-compile",
        "django-subfolder",
        "psycopg2-app",
        "paste-app",
    ],
)
def test_init_rewrites_what_matters(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = config.load(FIXTURES / name)
    project = copy_fixture(name, tmp_path)
    stripped = strip_table(project)

    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "wrote [tool.containerize]" in out

    text = (project / "pyproject.toml").read_text()
    assert text.startswith(stripped)  # nothing before the new table moved
    made = config.load(project)
    assert made.app_directory == original.app_directory
    assert made.app == original.app
    made_lock = load_lock(made.project_dir, made.lock)
    original_lock = load_lock(original.project_dir, original.lock)
    assert made_lock.path.relative_to(project) == original_lock.path.relative_to(FIXTURES / name)
    assert made.static == original.static
    assert made.python_version == original.python_version
    assert made.base_image == "python:3.11-slim-bookworm"
    assert made.env == original.env


def test_init_of_a_project_for_python_313(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The official 3.13 image is written; the local trixie image is named as the way
    to build one here."""
    original = config.load(FIXTURES / "hello-py313")
    project = copy_fixture("hello-py313", tmp_path)
    strip_table(project)
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    made = config.load(project)
    assert made.app == original.app
    assert made.python_version == original.python_version == (3, 13)
    assert made.base_image == "python:3.13-slim-bookworm"
    assert (
        f"note: base-image: where python:3.13-slim-bookworm cannot be pulled, 'containerize "
        f"base-image --python 3.13' builds {original.base_image} (Python 3.13) from Debian's "
        "packages"
    ) in out.splitlines()
