"""``containerize init`` writes a table that builds: the Flask fixture (an application
factory, a uv lock, static files, and a run.py that makes an app only under
``__main__``) without its table, given to init, then built by the real engine
(linux/amd64, Gunicorn) and served by a real container. The Django site
in a subfolder: init's table makes the very Dockerfile and build context of the
fixture's own table, which this run builds for both platforms and serves
(test_projects.py), so it is built once.

The Pyramid project is taken as found (no table, pins without hashes): init, then
the lock command init names, then the build; so is the pipenv one (no
pyproject.toml): init, then the build.

The only value overridden is the base image, through ``CONTAINERIZE_BASE_IMAGE`` as a
user would: init names the official ``python:3.11-slim-bookworm``, which this machine
cannot pull, and the loopback registry's Debian image has the same Python.
"""

from __future__ import annotations

import shlex
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import tomlkit

from containerize import cli, config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight
from containerize.image import context, pipeline
from containerize.platforms import LINUX_AMD64

from .conftest import Built


def strip_table(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    del document["tool"]["containerize"]
    pyproject.write_text(document.as_string())


@contextmanager
def served(project: Path, base_image: str) -> Iterator[containers.Container]:
    """The project built as its table says (but for the base image), running."""
    image = f"containerize-test/init-{uuid.uuid4().hex[:8]}"
    cfg = config.load(
        project,
        overrides={"image": image, "servers": ["gunicorn"], "platforms": ["linux/amd64"]},
        environ={"CONTAINERIZE_BASE_IMAGE": base_image},
    )
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    summaries = pipeline.build(prepared.invocations)
    try:
        container = containers.start(f"{image}:gunicorn", platform=LINUX_AMD64, port=8000)
        try:
            yield container
        finally:
            containers.remove(container)
    finally:
        for summary in summaries:
            process.run(["docker", "image", "rm", "--force", *summary.tags], check=False)


def test_flask_factory(
    make_project: Callable[[str], Path], base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("flask-app")
    strip_table(project)
    # The development server's script binds an app only when run: importing it gives
    # none, so init proposes the factory it calls, which imports.
    (project / "run.py").write_text(
        "from flaskr import create_app\n\n"
        'if __name__ == "__main__":\n    app = create_app()\n    app.run(debug=True)\n'
    )
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert 'app = "flaskr:create_app()"' in out
    assert "note: app: run:app is not a candidate" in out
    # An engine answers: init imported the factory's app once, in the check stage.
    verified = (
        "flaskr:create_app() imported in the check stage of the gunicorn image, on "
        "linux/amd64, with the test environment"
    )
    assert f"app: verified: {verified}\n" in out
    assert (
        "# app verified by containerize init: flaskr:create_app() imported in the check stage of\n"
        "# the gunicorn image, on linux/amd64, with the test environment\n"
        'app = "flaskr:create_app()"\n'
    ) in (project / "pyproject.toml").read_text()

    with served(project, base_image) as container:
        page = containers.get(container, "/", timeout=120)
        assert page.status == 200
        assert b"<h1>Hello from flask-app</h1>" in page.body
        # static = {url = "/static/", dir = "flaskr/static"}, found by init.
        style = containers.get(container, "/static/style.css", timeout=30)
        assert style.status == 200
        assert style.body == (project / "flaskr/static/style.css").read_bytes()


def test_an_app_that_does_not_import_is_written_unverified_with_its_error(
    make_project: Callable[[str], Path], base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A setting with a default no import survives: init cannot see that from the
    source, the check stage does; the table is written, marked unverified."""
    project = make_project("flask-app")
    strip_table(project)
    package = project / "flaskr" / "__init__.py"
    package.write_text(
        'import os\n\nWORKERS = int(os.environ.get("WORKERS", "many"))\n\n' + package.read_text()
    )
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    error = "ValueError: invalid literal for int() with base 10: 'many'"
    assert (
        "app: flaskr:create_app() did NOT import in the check stage of the gunicorn image, "
        f"on linux/amd64:\n  {error}\n"
    ) in out
    assert "to fix it: give the settings it reads real values in [tool.containerize.test]" in out
    assert "the table is written, marked unverified" in out
    assert (
        "# app not verified: importing it failed in the check stage of the gunicorn image, on\n"
        f"# linux/amd64:\n#   {error}\n"
        "# fix that, then 'containerize build' checks it again\n"
        'app = "flaskr:create_app()"\n'
    ) in (project / "pyproject.toml").read_text()


def test_django_site_in_a_subfolder(
    make_project: Callable[[str], Path],
    base_image: str,
    django_subfolder_images: Built,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project("django-subfolder")
    strip_table(project)
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert 'app-directory = "site"  # website.wsgi is imported from site/' in out
    assert 'app = "website.wsgi:application"' in out

    # What init cannot know (the image, servers and platforms, the health check's
    # path), and the base image this machine has, as for the built fixture.
    same = {
        "image": django_subfolder_images.image,
        "servers": ["gunicorn"],
        "platforms": ["linux/amd64", "linux/arm64"],
        "healthcheck-path": "/health",
    }
    environ = {"CONTAINERIZE_BASE_IMAGE": base_image}
    made = config.load(project, overrides=same, environ=environ)
    hand = config.load(django_subfolder_images.project, overrides=same, environ=environ)
    # The base image's digest, as the build pinned it: the same for both.
    shutil.copyfile(hand.pins_file, made.pins_file)
    assert made.app_directory == hand.app_directory
    assert context.app_files(made) == context.app_files(hand)
    output = preflight.choose_output(made.platforms, push=False)
    made_plan = pipeline.prepare(made, machine(engine=False), output=output, dry_run=True)
    hand_plan = pipeline.prepare(hand, machine(engine=False), output=output, dry_run=True)
    assert "WORKDIR /app/site" in made_plan.dockerfile
    assert made_plan.dockerfile == hand_plan.dockerfile
    assert made_plan.plan.context_files() == hand_plan.plan.context_files()


def test_a_pyramid_project_as_found_then_locked(
    make_project: Callable[[str], Path], base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """fixtures/pyramid-ini as found: init chooses production.ini and names the next
    step, 'containerize lock requirements/main.txt' (pip-compile output without
    hashes); run as printed, it makes the pylock.toml the build installs from."""
    project = make_project("pyramid-ini")
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out.splitlines()
    assert "app = \"production.ini\"  # Paste Deploy application 'main' (production.ini:5)" in out
    steps = [line.removeprefix("next: ").strip("'") for line in out if line.startswith("next: ")]
    assert steps == ["containerize lock requirements/main.txt", "containerize build --dry-run"]
    command = shlex.split(steps[0])
    assert cli.main(["--project", str(project), *command[1:]]) == 0, capsys.readouterr().err
    assert (project / "pylock.toml").is_file()

    with served(project, base_image) as container:
        page = containers.get(container, "/", timeout=120)
        assert page.status == 200
        assert page.body == b"<h1>Hello from Pyramid</h1>"
        health = containers.get(container, "/health", timeout=30)  # healthcheck-path
        assert (health.status, health.body) == (200, b"ok")


def test_a_django_project_locked_with_pipenv_as_found(
    make_project: Callable[[str], Path], base_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """fixtures/django-pipenv has no pyproject.toml: init makes one holding its table
    (the Pipfile.lock, static files collected, the /health route), which builds."""
    project = make_project("django-pipenv")
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"created {project / 'pyproject.toml'} with [tool.containerize] only" in out

    with served(project, base_image) as container:
        health = containers.get(container, "/health", timeout=120)
        assert health.status == 200
        css = containers.get(container, "/static/bookshelf/shelf.css", timeout=30)
        assert css.body == (project / "bookshelf/static/bookshelf/shelf.css").read_bytes()
