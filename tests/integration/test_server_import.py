"""A server the project's lock pins that cannot import fails the build, not the
container: the import check imports the server's own entry module too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize.engine import probes

REPOSITORY = "containerize-test/gunicorn-pkg-resources"


def test_a_locked_server_that_needs_pkg_resources_fails_the_build(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """fixtures/gunicorn-pkg-resources: the lock (made by uv pip compile, setuptools
    left out) pins gunicorn 20.1.0, whose util.py imports pkg_resources. The app itself
    imports. `build --push` must exit non-zero with the server named, the cause and
    both fixes, and push nothing."""
    project = make_project("gunicorn-pkg-resources")
    repository = f"{REPOSITORY}-{session_id}"
    image = f"{probes.REGISTRY_ADDRESS}/{repository}"
    argv = [sys.executable, "-m", "containerize", "--project", str(project), "build", "--push"]
    env = {**os.environ, "CONTAINERIZE_IMAGE": image}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 6, output
    assert "the build of gunicorn failed in stage app-gunicorn for linux/amd64" in output
    assert (
        "containerize: the server, gunicorn 20.1.0, cannot be imported: No module named "
        "'pkg_resources' (imported by /opt/venv/lib/python3.11/site-packages/gunicorn/util.py"
    ) in output
    assert (
        "cause: the server gunicorn 20.1.0 imports pkg_resources, which comes with "
        "setuptools, and the lock pins no setuptools"
    ) in output
    assert "hint: let containerize's own pin of gunicorn be used" in output
    assert "add setuptools (it provides pkg_resources) to your dependencies" in output
    # Nothing pushed: the registry has never heard of the repository.
    url = f"http://{probes.REGISTRY_ADDRESS}/v2/{repository}/tags/list"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(url, timeout=10)
    assert missing.value.code == 404
    assert json.loads(missing.value.read())["errors"][0]["code"] == "NAME_UNKNOWN"
