"""Many images from one repository: the monorepo fixture's services, which share a
library of the uv workspace, built with that library as a wheel and served.

The monorepo's services are built from the root, as a user runs it, for both
platforms, and each is run and served on both; so are the Poetry path dependency and
the src/ package versioned from git; the PDM and Poetry-package fixtures for
linux/amd64 only. Gunicorn only: the other servers go through the same code as every other
fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import cli, config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

SERVICES = ("api", "web")
PLATFORMS = (LINUX_AMD64, LINUX_ARM64)
TAGS = ("gunicorn", "1.0.0-gunicorn")


def _build(
    project: Path, image: str, platforms: tuple[Platform, ...] = (LINUX_AMD64,)
) -> tuple[str, ...]:
    cfg = config.load(
        project,
        overrides={
            "image": image,
            "platforms": [str(p) for p in platforms],
            "servers": ["gunicorn"],
        },
    )
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    (summary,) = pipeline.build(prepared.invocations)
    return summary.tags


@pytest.fixture
def monorepo_images(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    capfd: pytest.CaptureFixture[str],
) -> Iterator[dict[str, str]]:
    """Both services built from the repository's root, for both platforms, as a user
    runs it: one compile build for both, both images in one bake, loaded."""
    root = make_project("monorepo")
    images = {s: f"containerize-test/monorepo-{s}-{session_id}" for s in SERVICES}
    for service, image in images.items():
        _set_image(root / "services" / service / "pyproject.toml", image)
    # Sources of the library no earlier run compiled: this run's compile build is seen.
    library = root / "libs" / "shared" / "src" / "shared" / "__init__.py"
    library.write_text(library.read_text() + f"# {session_id}\n")
    try:
        assert cli.main(["--project", str(root), "build"]) == 0
        out = capfd.readouterr().out
        # The pure-Python library built once, natively, for both platforms.
        assert (
            "compiled once for api, web: shared-1.4.0-py3-none-any.whl (linux-amd64, linux-arm64)\n"
        ) in out, out
        assert "building side by side (docker buildx bake): api/gunicorn, web/gunicorn" in out
        # A second run with no change builds nothing, and says why.
        assert cli.main(["--project", str(root), "build"]) == 0
        again = capfd.readouterr().out
        for service in SERVICES:
            assert f"== {service}: " in again
        assert again.count("gunicorn: unchanged since sha256:") == 2, again
        assert "nothing to build: every image of every target has the key" in again
        assert "bake" not in again
        yield {service: f"{image}:gunicorn" for service, image in images.items()}
    finally:
        process.run(
            ["docker", "image", "rm", "--force",
             *(f"{image}:{tag}" for image in images.values() for tag in TAGS)],
            check=False,
        )  # fmt: skip


def test_services_install_the_shared_library_as_a_wheel(monorepo_images: dict[str, str]) -> None:
    for service, tag in monorepo_images.items():
        for platform in PLATFORMS:
            _check_service(service, tag, platform)


def _check_service(service: str, tag: str, platform: Platform) -> None:
    where = f"{service} on {platform}"
    # The library's console script, and its version read by importlib.metadata.
    cli_out = process.run(
        ["docker", "run", "--rm", "--platform", str(platform), tag, "shared-cli", "--version"]
    )
    assert cli_out.stdout.strip() == "shared-cli 1.4.0", where
    # Installed, not editable: a wheel's files in the venv, and no source tree.
    found = process.run(
        ["docker", "run", "--rm", "--platform", str(platform), tag, "python", "-c",
         "import json, platform, shared, importlib.metadata as m; "
         "d = m.distribution('shared'); "
         "print(json.dumps([shared.__file__, d.read_text('INSTALLER'), d.version, "
         "platform.machine()]))"]
    )  # fmt: skip
    path, installer, version, machine_name = json.loads(found.stdout)
    assert machine_name == platform.machine, where
    assert path.startswith("/opt/venv/lib/python3.11/site-packages/shared/"), path
    assert (installer.strip(), version) == ("containerize", "1.4.0"), where
    container = containers.start(tag, platform=platform, port=8000)
    try:
        page = containers.get(container, "/", timeout=180)
        assert page.status == 200, page.body
        assert f"Hello from {service} (shared 1.4.0)".encode() in page.body, where
    finally:
        containers.remove(container)


def _set_image(pyproject: Path, image: str) -> None:
    text = pyproject.read_text()
    start = text.index('image = "')
    end = text.index("\n", start)
    pyproject.write_text(text[:start] + f'image = "{image}"' + text[end:])


def test_only_what_changed_is_rebuilt(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every target pushed once; then a run with no change builds nothing and says why, a
    change to one service rebuilds only that one, a change to the library both."""
    root = make_project("monorepo")
    images = {s: f"127.0.0.1:5000/containerize-test/monorepo-{s}-{session_id}" for s in SERVICES}
    for service, image in images.items():
        _set_image(root / "services" / service / "pyproject.toml", image)
    argv = ["--project", str(root), "build", "--push", "--platform", "linux/amd64"]

    def run() -> dict[str, str]:
        """What happened to each target: 'built' or 'unchanged'."""
        assert cli.main(argv) == 0
        out = capfd.readouterr().out
        found = {}
        for section in ("\n" + out).split("\n== ")[1:]:
            name = section.split(":", 1)[0]
            if "gunicorn: unchanged since sha256:" in section:
                found[name] = "unchanged"
        # The images built side by side, in the table printed last.
        for line in out.split("\nbuilt:\n", 1)[-1].splitlines() if "\nbuilt:\n" in out else ():
            name, slash, _ = line.strip().partition("/gunicorn: ")
            if slash:
                found[name] = "built"
        return found

    assert run() == {"api": "built", "web": "built"}
    assert run() == {"api": "unchanged", "web": "unchanged"}
    web = root / "services" / "web" / "web" / "__init__.py"
    web.write_text(web.read_text() + "# touched\n")
    assert run() == {"api": "unchanged", "web": "built"}
    shared = root / "libs" / "shared" / "src" / "shared" / "__init__.py"
    shared.write_text(shared.read_text().replace("Hello from", "Greetings from"))
    assert run() == {"api": "built", "web": "built"}
    for service, image in images.items():
        cli_out = process.run(
            ["docker", "run", "--rm", "--pull", "always", f"{image}:gunicorn",
             "python", "-c", f"import shared; print(shared.greeting({service!r}))"]
        )  # fmt: skip
        assert cli_out.stdout.strip() == f"Greetings from {service} (shared 1.4.0)"
    process.run(
        ["docker", "image", "rm", "--force",
         *(f"{image}:{tag}" for image in images.values() for tag in TAGS)],
        check=False,
    )  # fmt: skip


def _script_and_page_say(tag: str, script: str, text: str) -> None:
    """On each platform, *script* run in the image prints *text*, and the app serves it."""
    for platform in PLATFORMS:
        run = process.run(["docker", "run", "--rm", "--platform", str(platform), tag, script])
        assert run.stdout.strip() == text, platform
        container = containers.start(tag, platform=platform, port=8000)
        try:
            page = containers.get(container, "/", timeout=180)
            assert (page.status, page.body) == (200, text.encode()), platform
        finally:
            containers.remove(container)


def test_a_poetry_path_dependency_is_installed_as_a_wheel(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    root = make_project("poetry-pathdep")
    image = f"containerize-test/poetry-pathdep-{session_id}"
    tags = _build(root / "app", image, PLATFORMS)
    try:
        _script_and_page_say(f"{image}:gunicorn", "greet", "Hello from greeting 0.3.0")
    finally:
        process.run(["docker", "image", "rm", "--force", *tags], check=False)


def test_the_project_itself_with_its_version_from_git(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """A src/-layout package installed from its own lock, versioned by setuptools-scm
    from a git tag: built with no .git in the context, the version passed in."""
    root = make_project("scm-src")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    process.run([*git, "init", "-q", "-b", "main"], cwd=root)
    process.run([*git, "add", "-A"], cwd=root)
    process.run([*git, "commit", "-q", "-m", "start"], cwd=root)
    process.run([*git, "tag", "v3.1.0"], cwd=root)
    image = f"containerize-test/scm-src-{session_id}"
    tags = _build(root, image, PLATFORMS)
    try:
        _script_and_page_say(f"{image}:gunicorn", "scm-app", "scm-app 3.1.0")
    finally:
        process.run(["docker", "image", "rm", "--force", *tags], check=False)


def test_a_pdm_library_and_its_path_dependency_are_installed_as_wheels(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """A PDM project with ``distribution = true`` is installed itself, as ``pdm
    install`` would, beside its path dependency: both console scripts work."""
    root = make_project("pdm-pathdep")
    image = f"containerize-test/pdm-pathdep-{session_id}"
    tags = _build(root / "app", image)
    try:
        run = ["docker", "run", "--rm", "--platform", str(LINUX_AMD64), f"{image}:gunicorn"]
        greet = process.run([*run, "greet"])
        assert greet.stdout.strip() == "Hello from greeting 0.5.0"
        itself = process.run([*run, "pdm-app"])
        assert itself.stdout.strip() == "Hello from greeting 0.5.0, in pdm-app 2.0.0"
        container = containers.start(f"{image}:gunicorn", platform=LINUX_AMD64, port=8000)
        try:
            page = containers.get(container, "/", timeout=180)
            assert (page.status, page.body) == (
                200,
                b"Hello from greeting 0.5.0, in pdm-app 2.0.0",
            )
        finally:
            containers.remove(container)
    finally:
        process.run(["docker", "image", "rm", "--force", *tags], check=False)


def test_a_poetry_project_in_package_mode_is_installed_itself(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    root = make_project("poetry-package")
    image = f"containerize-test/poetry-package-{session_id}"
    tags = _build(root, image)
    try:
        run = ["docker", "run", "--rm", "--platform", str(LINUX_AMD64), f"{image}:gunicorn"]
        assert process.run([*run, "poetry-package"]).stdout.strip() == "poetry-package 3.2.0"
        container = containers.start(f"{image}:gunicorn", platform=LINUX_AMD64, port=8000)
        try:
            page = containers.get(container, "/", timeout=180)
            assert (page.status, page.body) == (200, b"poetry-package 3.2.0")
        finally:
            containers.remove(container)
    finally:
        process.run(["docker", "image", "rm", "--force", *tags], check=False)
