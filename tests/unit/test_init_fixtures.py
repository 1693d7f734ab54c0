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
    "name", ["hello-wsgi", "flask-app", "django-app", "flask-pip-compile", "django-subfolder"]
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
