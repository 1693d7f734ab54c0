"""A pushed build goes to the registry once and is named under every tag (issue 26).

The docker driver pushes an image again for every ``--tag`` it is given; containerize
gives buildx the first tag only and puts the same manifest under the others.
linux/amd64 and Gunicorn only: the rest of the build is the same for every server.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from containerize import cli, process, reference
from containerize.registry.client import Registry


def test_a_pushed_image_is_pushed_once_and_named_under_every_tag(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = make_project("hello-wsgi")
    image = f"127.0.0.1:5000/containerize-test/push-tags-{session_id}"
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    start = text.index('image = "')
    end = text.index("\n", start)
    pyproject.write_text(text[:start] + f'image = "{image}"' + text[end:])
    tags = (f"{image}:gunicorn", f"{image}:1.0.0-gunicorn")

    with caplog.at_level(logging.INFO, logger="containerize"):
        argv = ["--project", str(root), "-v", "build", "--push", "--platform", "linux/amd64"]
        assert cli.main([*argv, "--server", "gunicorn"]) == 0

    builds = [
        shlex.split(r.getMessage().removeprefix("$ "))
        for r in caplog.records
        if "buildx build" in r.getMessage() and "--target gunicorn" in r.getMessage()
    ]
    assert len(builds) == 1
    given = [builds[0][i + 1] for i, arg in enumerate(builds[0]) if arg == "--tag"]
    assert given == [tags[0]]
    metadata = json.loads((root / ".containerize" / "metadata" / "gunicorn.json").read_text())
    built = metadata["containerimage.digest"]
    registry = Registry(replace(reference.parse(image, where="image"), tag=None, digest=None))
    for tag in tags:
        assert registry.manifest_digest(tag.rsplit(":", 1)[1], what=f"reading {tag}") == built
    process.run(["docker", "image", "rm", "--force", *tags], check=False)
