"""The test environment against a real engine: an app that reads SECRET_KEY from the
environment at import builds (the import check and the static command get it) and
serves in the matrix, and the secret's value is nowhere in the image: not in a layer,
a label, the config's Env or the history."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerize import process
from containerize.matrix import plan, report, runner

from .conftest import Built, _build, copy_project

# Distinctive, so that finding it anywhere in the image means it leaked.
SECRET = "ctz-" + uuid.uuid4().hex + "-never-in-an-image"

_APP = '''"""Reads its settings from the environment at import, as twelve-factor apps do."""

import os

SECRET_KEY = os.environ["SECRET_KEY"]  # a KeyError without the test environment
STATIC_NOTE = os.environ["STATIC_NOTE"]


def application(environ, start_response):
    body = ("secret of %d characters" % len(SECRET_KEY)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''

# The static command also needs the environment, and writes what it saw (not the value).
_STATIC = (
    "import os, pathlib; p = pathlib.Path('static'); p.mkdir(); "
    "(p / 'seen.txt').write_text(str(len(os.environ['SECRET_KEY'])))"
)


@pytest.fixture(scope="module")
def secret_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    project = copy_project("hello-wsgi", tmp_path_factory.mktemp("projects"))
    (project / "hello.py").write_text(_APP)
    (project / ".env.test").write_text(f"# never committed\nSECRET_KEY='{SECRET}'\n")
    text = (project / "pyproject.toml").read_text()
    text = text.replace(
        'platforms = ["linux/amd64", "linux/arm64"]', 'platforms = ["linux/amd64"]'
    ).replace('servers = ["gunicorn", "uwsgi", "mod_wsgi", "cheroot"]', 'servers = ["gunicorn"]')
    text = text.replace(
        "port = 8000\n",
        "port = 8000\n"
        'static = { url = "/static/", dir = "static", '
        f'command = ["python", "-c", {json.dumps(_STATIC)}] }}\n'
        "\n[tool.containerize.test]\n"
        'env = { SECRET_KEY = "placeholder", STATIC_NOTE = "from the table" }\n'
        'env-file = ".env.test"\n',
    )
    (project / "pyproject.toml").write_text(text)
    yield from _build(project, f"containerize-test/testenv-{session_id}")


def test_the_app_builds_and_serves_with_the_test_environment(secret_images: Built) -> None:
    (cell,) = plan.plan_matrix(secret_images.config(), native_arch="amd64").cells
    result = runner.run_cell(cell, run_id="testenv", project_dir=secret_images.project)
    assert result.passed, report.failures([result])
    outcomes = {o.check: o for o in result.outcomes}
    assert outcomes["ready"].status == "passed"
    assert outcomes["static"].message.startswith("/static/seen.txt: 200 text/plain")


def test_the_secret_is_in_no_layer_label_env_or_history(
    secret_images: Built, tmp_path: Path
) -> None:
    image = secret_images.tag("gunicorn")
    needle = SECRET.encode()
    inspected = process.run(["docker", "image", "inspect", image]).stdout
    assert SECRET not in inspected  # labels, Env, Cmd, Healthcheck: the whole config
    config = json.loads(inspected)[0]["Config"]
    assert not any(item.startswith(("SECRET_KEY=", "STATIC_NOTE=")) for item in config["Env"])
    history = process.run(["docker", "history", "--no-trunc", image]).stdout
    assert SECRET not in history
    assert "placeholder" not in history  # the table's values neither

    archive = tmp_path / "image.tar"
    process.run(["docker", "save", "--output", str(archive), image], timeout=600)
    searched = 0
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member)
            assert data is not None
            blob = data.read()
            assert needle not in blob, f"the secret is in {member.name}"
            if blob[:2] == b"\x1f\x8b" or member.name.endswith(".tar"):
                searched += _search_layer(blob, needle, member.name)
    assert searched > 1000  # the layers' files were read, not only the manifests

    # The static command ran with the environment: it wrote the value's length.
    seen = process.run(
        ["docker", "run", "--rm", "--entrypoint", "cat", image, "/app/static/seen.txt"]
    ).stdout
    assert seen == str(len(SECRET))


def _search_layer(blob: bytes, needle: bytes, name: str) -> int:
    """How many files the layer *blob* (a tar, maybe gzipped) holds; fails on *needle*."""
    raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    assert needle not in raw, f"the secret is in layer {name}"
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
            for member in layer.getmembers():
                count += 1
                if member.isfile():
                    data = layer.extractfile(member)
                    assert data is not None
                    assert needle not in data.read(), f"the secret is in {name}: {member.name}"
    except tarfile.ReadError:
        return 0
    return count
