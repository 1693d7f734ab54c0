"""Projects as users bring them, built and served on both platforms by the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from containerize import config, process
from containerize.engine import containers, preflight
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64


def test_flask_app_locked_by_pip_compile(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """A hashed requirements.txt is the lock: each platform gets its own wheels."""
    project = make_project("flask-pip-compile")
    image = f"containerize-test/flask-pip-compile-{session_id}"
    cfg = config.load(project, overrides={"image": image, "servers": ["gunicorn"]})
    prepared = pipeline.prepare(cfg, output=preflight.choose_output(cfg.platforms, push=False))
    summaries = pipeline.build(prepared.invocations)
    try:
        assert [name for name, _ in summaries[0].sizes] == ["linux/amd64", "linux/arm64"]
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
