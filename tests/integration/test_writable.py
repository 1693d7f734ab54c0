"""``tool.containerize.writable`` on the real engine, with flask-writes: a Flask app
that writes a log file named relative to its working directory at import, saves
uploads into ``media/`` and keeps a SQLite database in ``var/``.

Without the key the build stops at the import check, and the hint names the entry to
add; with it the image builds and passes ``containerize test`` (whose probes upload a
file in the running container), the listed paths alone are the app user's, and their
layer has fixed timestamps. linux/amd64 only: nothing here depends on the platform.
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import cli, process
from containerize.buildsteps.wheels import FIXED_EPOCH

LISTED = 'writable = ["server.log", "media/", "var/"]\n'

# Run in the image, as its user: what /app lets the user write before the app runs,
# who owns it, then the app imported (its log file and database written) and a file
# uploaded through it.
_PROBE = """
import json, os
def writable():
    found = []
    for root, dirs, files in os.walk("/app"):
        for name in dirs + files:
            path = os.path.join(root, name)
            if os.access(path, os.W_OK):
                found.append(path)
    if os.access("/app", os.W_OK):
        found.append("/app")
    return sorted(found)
before = writable()
owners = {p: [os.stat(p).st_uid, os.stat(p).st_gid] for p in before}
readme = os.stat("/app/media/README.txt")
import writes
answer = writes.app.test_client().get("/upload?name=check.txt")
print(json.dumps({
    "uid": os.getuid(),
    "before": before,
    "owners": owners,
    "readme": [readme.st_uid, oct(readme.st_mode & 0o777)],
    "status": answer.status_code,
    "log": open("/app/server.log").read(),
    "upload": open("/app/media/check.txt").read(),
    "database": os.path.exists("/app/var/app.sqlite3"),
    "after": writable(),
}))
"""


@pytest.fixture
def image(monkeypatch: pytest.MonkeyPatch, base_image: str) -> Iterator[str]:
    """A name of its own for the images; removed afterwards."""
    name = f"containerize-test/writable-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CONTAINERIZE_IMAGE", name)
    yield name
    listed = process.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name])
    if listed.stdout.split():
        process.run(["docker", "image", "rm", "--force", *listed.stdout.split()], check=False)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    with capsys.disabled():
        print(f"$ containerize {shlex.join(argv)}\n{captured.out}{captured.err}")
    return code, captured.out + captured.err


def test_the_listed_paths_alone_are_the_app_users(
    make_project: Callable[[str], Path],
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    project = make_project("flask-writes")
    pyproject = project / "pyproject.toml"
    table = pyproject.read_text()
    assert LISTED in table
    monkeypatch.chdir(project)

    # Without the key: the import check cannot create server.log, and says what to add.
    pyproject.write_text(table.replace(LISTED, ""))
    code, output = _run(["build", "--platform", "linux/amd64"], capsys)
    assert code != 0
    assert "cannot write '/app/server.log' in the app folder" in output
    assert 'writable = ["server.log"]' in output

    pyproject.write_text(table)
    code, output = _run(["build", "--platform", "linux/amd64"], capsys)
    assert code == 0, output
    # The probes upload a file and write the database in the running container.
    code, output = _run(["test", "--platform", "linux/amd64"], capsys)
    assert code == 0, output
    assert "gunicorn linux/amd64: passed" in output

    tag = f"{image}:gunicorn"
    python = ["--entrypoint", "/opt/venv/bin/python", tag, "-c", _PROBE]
    ran = process.run(["docker", "run", "--rm", "--network", "none", *python])
    seen = json.loads(ran.stdout)
    assert seen["uid"] == 10001
    # Only the listed paths, nothing else of the app folder, not the folder itself.
    assert seen["before"] == ["/app/media", "/app/server.log", "/app/var"]
    assert all(owner == [10001, 10001] for owner in seen["owners"].values())
    # The project's file in the listed folder stays root's and read-only.
    assert seen["readme"] == [0, "0o644"]
    assert seen["status"] == 200
    assert "loaded" in seen["log"]
    assert "saved check.txt" in seen["log"]
    assert seen["upload"] == "uploaded\n"
    assert seen["database"]
    # The log written by the import check at build time never reached the image.
    assert seen["log"].count("loaded") == 1
    assert seen["after"] == [
        "/app/media",
        "/app/media/check.txt",
        "/app/server.log",
        "/app/var",
        "/app/var/app.sqlite3",
    ]

    # The layer: exactly the listed paths (and the folders on the way), owned by the
    # app's user, each with the fixed timestamp: the same bytes on every build.
    members = _layer_with(tag, "app/server.log", tmp_path)
    assert {m.name.rstrip("/"): (m.uid, m.gid) for m in members} == {
        "app": (0, 0),
        "app/media": (10001, 10001),
        "app/server.log": (10001, 10001),
        "app/var": (10001, 10001),
    }
    assert {m.mtime for m in members} == {int(FIXED_EPOCH)}
    assert {m.name.rstrip("/"): oct(m.mode) for m in members if m.uid} == {
        "app/media": "0o755",
        "app/server.log": "0o644",
        "app/var": "0o755",
    }


def _layer_with(tag: str, name: str, tmp_path: Path) -> list[tarfile.TarInfo]:
    """The members of the image's layer that holds *name* (``docker save``'s layers)."""
    archive = tmp_path / "image.tar"
    process.run(["docker", "save", "--output", str(archive), tag], timeout=600)
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member) if member.isfile() else None
            if data is None:
                continue
            blob = data.read()
            try:
                with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
                    members = layer.getmembers()
            except tarfile.ReadError:
                continue
            names = {m.name for m in members}
            # Not the app's own layer, which may hold an empty mount point of the check.
            if name in names and "app/writes.py" not in names:
                return members
    raise AssertionError(f"no layer of {tag} holds {name}")
