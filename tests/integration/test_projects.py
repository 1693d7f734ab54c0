"""Projects as users bring them, built and served on both platforms by the real engine."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

from .conftest import Built


def test_flask_app_locked_by_pip_compile(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """A hashed requirements.txt is the lock: each platform gets its own wheels."""
    project = make_project("flask-pip-compile")
    image = f"containerize-test/flask-pip-compile-{session_id}"
    cfg = config.load(project, overrides={"image": image, "servers": ["gunicorn"]})
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    summaries = pipeline.build(prepared.invocations)
    try:
        # Loaded, not pushed: each platform's size is read from the image store.
        assert [name for name, _ in summaries[0].sizes] == ["linux/amd64", "linux/arm64"]
        assert all((size or 0) > 10 * 2**20 for _, size in summaries[0].sizes), summaries[0]
        assert "size not read" not in str(summaries[0])
        for platform in (LINUX_AMD64, LINUX_ARM64):
            container = containers.start(f"{image}:gunicorn", platform=platform, port=8000)
            try:
                response = containers.get(container, "/", timeout=180)
                assert (response.status, response.body) == (200, b"Hello from Flask!")
                stopped = containers.stop(container, timeout=20)
                assert (stopped.exit_code, stopped.killed) == (0, False)
            finally:
                containers.remove(container)
    finally:
        process.run(["docker", "image", "rm", "--force", *summaries[0].tags], check=False)


@pytest.mark.parametrize("platform", [LINUX_AMD64, LINUX_ARM64], ids=str)
def test_django_site_in_a_subfolder(django_subfolder_images: Built, platform: Platform) -> None:
    """app-directory = "site": site/ is the image's /app/site, where the server runs,
    imports website.wsgi from, and where collectstatic ran at build time."""
    project = django_subfolder_images.project
    tag = django_subfolder_images.tag("gunicorn")
    container = containers.start(tag, platform=platform, port=8000)
    try:
        page = containers.get(container, "/", timeout=180)
        assert page.status == 200, page.body
        assert b"<h1>Hello from a Django site in site/</h1>" in page.body
        assert b"SQLite 3." in page.body  # the default database answers
        # collectstatic's hashed name, from site/static/ via site/staticfiles/.
        css = re.search(rb'href="(/static/website/site\.[0-9a-f]{12}\.css)"', page.body)
        assert css is not None, page.body
        style = containers.get(container, css[1].decode(), timeout=30)
        assert style.status == 200
        assert style.body == (project / "site/static/website/site.css").read_bytes()
        assert (style.header("Content-Type") or "").startswith("text/css")

        where = containers.get(container, "/where", timeout=30)
        assert json.loads(where.body) == {"cwd": "/app/site", "base_dir": "/app/site"}
        # Only site/ went in: the lock and pyproject.toml beside it are for building.
        # Its Python files come compiled (manage.py's bytecode in __pycache__).
        listing = containers.execute(container, ["ls", "-A", "/app", "/app/site"])
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.split("\n\n") == [
            "/app:\nsite",
            "/app/site:\n__pycache__\nmanage.py\nstatic\nstaticfiles\nwebsite\n",
        ]
        # Commands run in the container (docker exec, docker run IMAGE ...) start there too.
        shell = containers.execute(container, ["python", "manage.py", "check"])
        assert shell.returncode == 0, shell.stderr
        stopped = containers.stop(container, timeout=20)
        assert (stopped.exit_code, stopped.killed) == (0, False)
    finally:
        containers.remove(container)
