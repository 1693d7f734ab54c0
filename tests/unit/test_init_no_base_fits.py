"""A project locked for a Python no base image has: init's error says how to move it.

A project as it is found (Pipenv, locked years ago for Python 3.8) cannot be built on
any base containerize knows (3.10 to 3.13). 'containerize lock' refuses a project
that has a lock, and no 3.8 base can be set by hand here: the hint leads with the
re-lock each lock's own tool makes, naming the line to change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from containerize.errors import ConfigError
from containerize.init import python
from containerize.project import ProjectMetadata, load
from containerize.resolve.lock import read_lock

PIPFILE = (
    '[[source]]\nname = "pypi"\nurl = "https://example.invalid/simple"\nverify_ssl = true\n\n'
    '[packages]\ndjango = "*"\n\n[requires]\npython_version = "3.8"\n'
)


def _pipenv_project(tmp_path: Path) -> Path:
    project = tmp_path / "old-site"
    project.mkdir()
    (project / "Pipfile").write_text(PIPFILE)
    lock = {
        "_meta": {
            "hash": {"sha256": "0" * 64},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.8"},
            "sources": [
                {"name": "pypi", "url": "https://example.invalid/simple", "verify_ssl": True}
            ],
        },
        "default": {
            "django": {"hashes": ["sha256:" + "1" * 64], "index": "pypi", "version": "==3.0.5"}
        },
        "develop": {},
    }
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    return project


def test_a_pipenv_lock_for_python_3_8_names_the_pipfile_line_and_pipenv_lock(
    tmp_path: Path,
) -> None:
    project = _pipenv_project(tmp_path)
    lock = read_lock(project / "Pipfile.lock")
    # No pyproject.toml yet, as init finds such a project.
    metadata = ProjectMetadata(
        path=project / "pyproject.toml",
        name=None,
        version=None,
        requires_python=None,
        dependencies=(),
    )
    with pytest.raises(ConfigError) as raised:
        python.choose(metadata, [lock], project)
    error = raised.value
    assert error.message == (
        "no base image fits the project's Python: locked for Python ==3.8.* (Pipfile.lock): "
        "none of 3.10, 3.11, 3.12, 3.13 satisfies them all"
    )
    assert error.hint == (
        "move the project to a Python a base image has (3.10 to 3.13; 3.11 is the default): "
        'set python_version = "3.11" under [requires] in Pipfile (line 10), then '
        "'pipenv lock' rewrites Pipfile.lock; then run 'containerize init' again. Or set "
        "base-image and python-version in [tool.containerize] by hand to an image with a "
        "Python the project allows"
    )


def test_a_uv_project_that_excludes_every_base_names_its_requires_python_and_uv_lock(
    tmp_path: Path,
) -> None:
    project = tmp_path / "old-app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "old-app"\nversion = "1.0"\nrequires-python = ">=3.7,<3.9"\n'
        "dependencies = []\n"
    )
    (project / "uv.lock").write_text(
        'version = 1\nrequires-python = ">=3.7, <3.9"\n\n[[package]]\nname = "old-app"\n'
        'version = "1.0"\nsource = { virtual = "." }\n'
    )
    lock = read_lock(project / "uv.lock")
    with pytest.raises(ConfigError) as raised:
        python.choose(load(project), [lock], project)
    assert raised.value.hint is not None
    assert raised.value.hint.startswith(
        "move the project to a Python a base image has (3.10 to 3.13; 3.11 is the default): "
        "allow Python 3.11 in pyproject.toml (line 4); then 'uv lock' re-makes uv.lock for "
        "Python 3.11; then run 'containerize init' again."
    ), raised.value.hint
