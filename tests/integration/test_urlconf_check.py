"""A Django site whose URLconf cannot be imported fails the build, not its first
request: loading the app (``get_wsgi_application()``) leaves the URLconf to the first
request, so the import check loads it after the app, as Django would."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from containerize.platforms import LINUX_AMD64


def _build(project: Path, session_id: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, "-m", "containerize", "--project", str(project), "build", "--load",
        "--platform", str(LINUX_AMD64), "--server", "gunicorn",
    ]  # fmt: skip
    env = {**os.environ, "CONTAINERIZE_IMAGE": f"containerize-test/urlconf-{session_id}"}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_a_urlconf_that_cannot_import_fails_the_build(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """fixtures/django-app with a view its URLconf imports that does not exist (as a
    real project's left after a refactoring): the build stops in the import check,
    exit 6, with the traceback, the error, and where Django would have met it."""
    project = make_project("django-app")
    urls = project / "mysite" / "urls.py"
    urls.write_text(
        urls.read_text().replace(
            "from notes import views\n", "from notes import views\nfrom notes.views import gone\n"
        )
    )
    done = _build(project, session_id)
    output = done.stdout + done.stderr
    assert done.returncode == 6, output
    assert "the build of gunicorn failed in stage app-gunicorn for linux/amd64" in output
    assert (
        "containerize: the application mysite.wsgi:application failed to load: ImportError: "
        "cannot import name 'gone' from 'notes.views'"
    ) in output
    assert (
        "its URLconf (ROOT_URLCONF = 'mysite.urls'), which Django loads at the first "
        "request: every request would fail; fix it"
    ) in output
    assert 'File "/app/mysite/urls.py", line 5, in <module>' in output


def test_a_urlconf_that_needs_a_service_only_warns(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """A URLconf that reaches a service while it loads (a query at import) may work
    where the service is; at build time there is none: a warning, and the image is
    built."""
    project = make_project("django-app")
    urls = project / "mysite" / "urls.py"
    # A change of its own, so that no earlier run's cached step hides the warning (a
    # cached step prints nothing).
    urls.write_text(
        urls.read_text()
        + "\nimport socket\n\nsocket.create_connection(('db.invalid', 5432), timeout=1)\n"
        + f"# {uuid.uuid4().hex}\n"
    )
    try:
        done = _build(project, session_id)
    finally:  # the tags the build made, whatever the assertions below say
        image = f"containerize-test/urlconf-{session_id}"
        subprocess.run(
            ["docker", "image", "rm", "--force", f"{image}:gunicorn", f"{image}:1.0.0-gunicorn"],
            capture_output=True, check=False,
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert (
        "containerize: warning: its URLconf (ROOT_URLCONF = 'mysite.urls'), which Django "
        "loads at the first request, could not be loaded here: gaierror:"
    ) in output
