"""The content-addressed cache and the downloader, against a loopback index."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from simple_index_server import (
    SimpleIndexServer,
    html_page,
    publish,
    sdist_bytes,
    sha256_of,
    wheel_bytes,
    write_file,
)

from containerize import cli
from containerize.errors import FetchError
from containerize.resolve.cache import Cache
from containerize.resolve.fetch import FileRequest, fetch
from containerize.resolve.mismatch import HashMismatchError
from containerize.resolve.pipconfig import IndexSettings, IndexSource, discover

SECRET = "s3cr3t-pa55"
WHEEL = "demo-1.0-py3-none-any.whl"
SDIST = "demo-1.0.tar.gz"


@pytest.fixture
def server() -> Iterator[SimpleIndexServer]:
    with SimpleIndexServer() as running:
        yield running


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(root=tmp_path / "cache")


@pytest.fixture
def demo(server: SimpleIndexServer) -> dict[str, str]:
    """demo 1.0 (a wheel and an sdist) published on the server's /simple/ index."""
    return publish(
        server, "demo", {WHEEL: wheel_bytes("demo", "1.0"), SDIST: sdist_bytes("demo", "1.0")}
    )


def settings_for(server: SimpleIndexServer, path: str = "/simple/") -> IndexSettings:
    return IndexSettings(
        indexes=(IndexSource(name="test", url=f"{server.url}{path}", origin="the test"),)
    )


def request(filename: str, sha256: str, url: str | None = None, name: str = "demo") -> FileRequest:
    return FileRequest(
        name=canonicalize_name(name), version="1.0", filename=filename, sha256=sha256, url=url
    )


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_download_then_warm_cache_sends_nothing(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str], tmp_path: Path
) -> None:
    wanted = [request(SDIST, demo[SDIST]), request(WHEEL, demo[WHEEL])]
    dest = tmp_path / "wheelhouse"
    first = fetch(wanted, settings=settings_for(server), cache=cache, dest=dest)

    assert [f.filename for f in first.files] == [WHEEL, SDIST]  # sorted by file name
    assert (first.hits, first.misses) == (0, 2)
    assert first.bytes_downloaded == sum(f.cache_path.stat().st_size for f in first.files)
    wheel = first.files[0]
    assert wheel.cache_path == cache.root / "sha256" / demo[WHEEL][:2] / demo[WHEEL] / WHEEL
    assert wheel.path == dest / WHEEL
    assert wheel.source == f"{server.url}/files/{WHEEL}"
    assert sha256_of(wheel.path.read_bytes()) == demo[WHEEL]
    assert wheel.path.samefile(wheel.cache_path)  # hard-linked, not copied
    assert wheel.path.stat().st_mode & 0o777 == 0o644
    # One page look-up for the project, then the two files.
    assert [seen.path for seen in server.requests_to("/simple/")] == ["/simple/demo/"]

    before = len(server.seen)
    second = fetch(wanted, settings=settings_for(server), cache=cache, dest=dest)
    assert len(server.seen) == before  # not a single request
    assert (second.hits, second.misses, second.bytes_downloaded) == (2, 0, 0)
    assert sorted(p.name for p in dest.iterdir()) == [WHEEL, SDIST]


def test_lock_url_is_used_without_a_page_look_up(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    url = f"{server.url}/files/{WHEEL}"
    report = fetch([request(WHEEL, demo[WHEEL], url)], settings=settings_for(server), cache=cache)
    assert [seen.path for seen in server.seen] == [f"/files/{WHEEL}"]
    assert report.path(WHEEL) == cache.entry(demo[WHEEL], WHEEL)


def test_unreachable_lock_url_falls_back_to_the_indexes(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"{server.url}/gone/{WHEEL}"
    report = fetch([request(WHEEL, demo[WHEEL], url)], settings=settings_for(server), cache=cache)
    assert report.files[0].source == f"{server.url}/files/{WHEEL}"
    assert "404" in caplog.text


def test_tampered_file_is_rejected_and_not_kept(
    server: SimpleIndexServer, cache: Cache, tmp_path: Path
) -> None:
    honest = wheel_bytes("demo", "1.0")
    hashes = publish(server, "demo", {WHEEL: honest}, served={WHEEL: b"evil" + honest})
    dest = tmp_path / "wheelhouse"
    with pytest.raises(FetchError) as caught:
        fetch(
            [request(WHEEL, hashes[WHEEL])], settings=settings_for(server), cache=cache, dest=dest
        )
    text = str(caught.value)
    assert WHEEL in text
    assert f"{server.url}/files/{WHEEL}" in text
    assert hashes[WHEEL] in text
    assert sha256_of(b"evil" + honest) in text
    assert stored_files(cache.root) == []
    assert stored_files(dest) == []


def test_index_hash_differing_from_the_lock_stops_before_downloading(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    locked = "0" * 64
    with pytest.raises(FetchError) as caught:
        fetch([request(WHEEL, locked)], settings=settings_for(server), cache=cache)
    assert f"lists sha256 {demo[WHEEL]}, but the lock records {locked}" in str(caught.value)
    assert server.requests_to("/files/") == []


def test_missing_file_lists_the_indexes_tried(server: SimpleIndexServer, cache: Cache) -> None:
    settings = discover(
        Path(),
        environ={
            "PIP_INDEX_URL": f"{server.url}/simple",
            "PIP_EXTRA_INDEX_URL": f"http://u:{SECRET}@{server.host}/extra",
        },
        config_files=[],
    )
    with pytest.raises(FetchError) as caught:
        fetch([request(WHEEL, "1" * 64)], settings=settings, cache=cache)
    text = str(caught.value)
    assert f"{server.url}/simple/ (environment variable PIP_INDEX_URL)" in text
    assert f"{server.url}/extra/" in text
    assert "pip config debug" in text
    assert SECRET not in text
    assert [seen.path for seen in server.seen] == ["/simple/demo/", "/extra/demo/"]


def test_failures_are_collected(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    wanted = [
        request(WHEEL, demo[WHEEL]),
        request("absent-1.0.tar.gz", "2" * 64, name="absent"),
        request("gone-1.0.tar.gz", "3" * 64, name="gone"),
    ]
    with pytest.raises(FetchError, match="2 files could not be fetched") as caught:
        fetch(wanted, settings=settings_for(server), cache=cache)
    assert "absent-1.0.tar.gz" in str(caught.value)
    assert "gone-1.0.tar.gz" in str(caught.value)
    assert cache.lookup(demo[WHEEL], WHEEL) is not None  # the good one was kept


def test_corrupt_cache_entry_is_fetched_again(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    wanted = [request(WHEEL, demo[WHEEL])]
    fetch(wanted, settings=settings_for(server), cache=cache)
    cache.entry(demo[WHEEL], WHEEL).write_bytes(b"truncated")
    report = fetch(wanted, settings=settings_for(server), cache=cache)
    assert report.misses == 1
    assert sha256_of(report.path(WHEEL).read_bytes()) == demo[WHEEL]


def test_private_index_from_pip_configuration(
    server: SimpleIndexServer, cache: Cache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.protect("/private/", "deploy", SECRET)
    hashes = publish(
        server,
        "demo",
        {WHEEL: wheel_bytes("demo", "1.0")},
        index="/private/simple/",
        store="/private/files/",
    )
    conf = write_file(
        tmp_path,
        "pip.conf",
        f"[global]\nindex-url = http://deploy:{SECRET}@{server.host}/private/simple/\n".encode(),
    )
    environ = {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    settings = discover(tmp_path, environ=environ, config_files=[conf])
    with caplog.at_level(logging.DEBUG, logger="containerize"):
        report = fetch([request(WHEEL, hashes[WHEEL])], settings=settings, cache=cache)
    assert report.misses == 1
    # The download on the same host carried the credentials too.
    assert all(seen.authorization for seen in server.seen)
    assert [seen.path for seen in server.seen] == [
        "/private/simple/demo/",
        f"/private/files/{WHEEL}",
    ]
    assert SECRET not in caplog.text
    assert SECRET not in repr(report)


def test_private_index_with_netrc_and_wrong_password(
    server: SimpleIndexServer, cache: Cache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.protect("/private/", "deploy", "right")
    hashes = publish(
        server, "demo", {WHEEL: b"w"}, index="/private/simple/", store="/private/files/"
    )
    netrc_file = write_file(
        tmp_path, "netrc", f"machine 127.0.0.1 login deploy password {SECRET}\n".encode()
    )
    settings = IndexSettings(
        indexes=(IndexSource(name="p", url=f"{server.url}/private/simple/", origin="test"),),
        netrc=netrc_file,
    )
    with caplog.at_level(logging.DEBUG, logger="containerize"), pytest.raises(FetchError) as caught:
        fetch([request(WHEEL, hashes[WHEEL])], settings=settings, cache=cache)
    assert "401" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text


def test_lock_url_with_credentials_is_redacted(
    server: SimpleIndexServer, cache: Cache, caplog: pytest.LogCaptureFixture
) -> None:
    server.protect("/private/", "deploy", SECRET)
    data = wheel_bytes("demo", "1.0")
    server.add(f"/private/files/{WHEEL}", data, content_type="application/octet-stream")
    url = f"http://deploy:{SECRET}@{server.host}/private/files/{WHEEL}"
    with caplog.at_level(logging.DEBUG, logger="containerize"):
        report = fetch(
            [request(WHEEL, sha256_of(data), url)], settings=settings_for(server), cache=cache
        )
    assert report.files[0].source == f"http://***@{server.host}/private/files/{WHEEL}"
    assert SECRET not in caplog.text


def test_file_index_and_find_links_folder(cache: Cache, tmp_path: Path) -> None:
    wheel = wheel_bytes("demo", "1.0")
    sdist = sdist_bytes("other", "2.0")
    write_file(tmp_path / "index/files", WHEEL, wheel)
    write_file(
        tmp_path / "index/simple/demo",
        "index.html",
        html_page([(f"../../files/{WHEEL}#sha256={sha256_of(wheel)}", {})]).encode(),
    )
    write_file(tmp_path / "wheels", "other-2.0.tar.gz", sdist)
    settings = discover(
        tmp_path,
        environ={
            "PIP_INDEX_URL": (tmp_path / "index/simple").as_uri(),
            "PIP_FIND_LINKS": "wheels",
        },
        config_files=[],
    )
    wanted = [
        request(WHEEL, sha256_of(wheel)),
        FileRequest(
            name=canonicalize_name("other"),
            version="2.0",
            filename="other-2.0.tar.gz",
            sha256=sha256_of(sdist),
            url=None,
        ),
    ]
    report = fetch(wanted, settings=settings, cache=cache)
    assert report.misses == 2
    assert report.bytes_downloaded == len(wheel) + len(sdist)
    # A find-links folder carries no hash: it is checked while copying.
    write_file(tmp_path / "wheels", "bad-1.0.tar.gz", b"x")
    with pytest.raises(FetchError, match="hash mismatch"):
        fetch([request("bad-1.0.tar.gz", "4" * 64, name="bad")], settings=settings, cache=cache)


def test_parallel_downloads(server: SimpleIndexServer, cache: Cache, tmp_path: Path) -> None:
    wanted = []
    for number in range(12):
        name = f"pkg{number:02d}"
        filename = f"{name}-1.0-py3-none-any.whl"
        hashes = publish(server, name, {filename: wheel_bytes(name, "1.0")})
        wanted.append(request(filename, hashes[filename], name=name))
    wanted.append(wanted[0])  # the same file for a second platform
    report = fetch(
        reversed(wanted), settings=settings_for(server), cache=cache, dest=tmp_path / "out", jobs=4
    )
    assert [f.filename for f in report.files] == sorted(r.filename for r in wanted[:12])
    assert len(server.requests_to("/files/")) == 12


def test_inconsistent_requests(cache: Cache, server: SimpleIndexServer) -> None:
    with pytest.raises(FetchError, match="two different hashes"):
        fetch(
            [request(WHEEL, "a" * 64), request(WHEEL, "b" * 64)],
            settings=settings_for(server),
            cache=cache,
        )
    with pytest.raises(FetchError, match="not a sha256"):
        fetch([request(WHEEL, "abc")], settings=settings_for(server), cache=cache)
    assert server.seen == []


def test_cache_location(tmp_path: Path) -> None:
    assert Cache.default({"CONTAINERIZE_CACHE_DIR": str(tmp_path)}).root == tmp_path
    assert Cache.default({"XDG_CACHE_HOME": "/x", "HOME": "/h"}).root == Path(
        "/x/containerize/files"
    )
    assert Cache.default({"HOME": "/h"}).root == Path("/h/.cache/containerize/files")


def test_copy_when_hard_links_fail(
    server: SimpleIndexServer,
    cache: Cache,
    demo: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_links(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("containerize.resolve.cache.os.link", no_links)
    dest = tmp_path / "wheelhouse"
    report = fetch(
        [request(WHEEL, demo[WHEEL])], settings=settings_for(server), cache=cache, dest=dest
    )
    placed = report.path(WHEEL)
    assert placed == dest / WHEEL
    assert not placed.samefile(report.files[0].cache_path)
    assert sha256_of(placed.read_bytes()) == demo[WHEEL]
    assert sorted(p.name for p in dest.iterdir()) == [WHEEL]  # no temporary file left


# --------------------------------------------------------------------------- hash diagnoses


class CuttingServer:
    """Serves one file on 127.0.0.1, cutting the connection halfway for the first
    *cuts* requests; with *declare_length* false it sends no Content-Length."""

    def __init__(self, body: bytes, *, cuts: int, declare_length: bool = True) -> None:
        self.body = body
        self.cuts = cuts
        self.declare_length = declare_length
        self.requests = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.requests += 1
                cut = served.requests <= served.cuts
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if served.declare_length:
                    self.send_header("Content-Length", str(len(served.body)))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(served.body[: len(served.body) // 2] if cut else served.body)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/files/{WHEEL}"

    def __enter__(self) -> CuttingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


NOWHERE = IndexSettings(indexes=())


def test_a_download_cut_short_is_retried_once(
    cache: Cache, caplog: pytest.LogCaptureFixture
) -> None:
    body = wheel_bytes("demo", "1.0") * 20
    with CuttingServer(body, cuts=1) as served:
        report = fetch([request(WHEEL, sha256_of(body), served.url)], settings=NOWHERE, cache=cache)
    assert served.requests == 2
    assert report.misses == 1
    assert "cut short" in caplog.text
    assert "trying once more" in caplog.text


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "lock-size"])
def test_a_download_cut_short_twice_blames_the_network(
    cache: Cache, tmp_path: Path, declare_length: bool
) -> None:
    body = wheel_bytes("demo", "1.0") * 20
    wanted = FileRequest(
        name=canonicalize_name("demo"),
        version="1.0",
        filename=WHEEL,
        sha256=sha256_of(body),
        url=None,
        size=len(body),  # what uv.lock and pylock.toml record
    )
    with CuttingServer(body, cuts=2, declare_length=declare_length) as served:
        wanted = FileRequest(**{**wanted.__dict__, "url": served.url})
        with pytest.raises(HashMismatchError) as caught:
            fetch([wanted], settings=NOWHERE, cache=cache, dest=tmp_path / "out")
    assert served.requests == 2
    error = caught.value
    assert error.mismatch.kind == "truncated"
    text = str(error)
    assert f"{WHEEL}: hash mismatch: the download from {served.url} was cut short twice" in text
    assert f"{len(body) // 2} of {len(body)} bytes arrived" in text
    assert sha256_of(body) in text
    assert sha256_of(body[: len(body) // 2]) in text
    assert "the lock is fine, do not re-lock" in text
    assert stored_files(cache.root) == []
    assert stored_files(tmp_path / "out") == []


def test_a_file_changed_on_the_index_says_so_before_downloading(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    locked = "0" * 64
    with pytest.raises(HashMismatchError) as caught:
        fetch([request(WHEEL, locked)], settings=settings_for(server), cache=cache)
    error = caught.value.naming("/p/poetry.lock", "poetry lock")
    assert error.mismatch.kind == "changed"
    assert error.message == (
        f"{WHEEL}: hash mismatch: {server.url}/simple/ lists sha256 {demo[WHEEL]}, but "
        f"/p/poetry.lock records {locked}: the file changed on the index since the project "
        "was locked, or the lock was edited; the file was not kept"
    )
    assert error.hint is not None
    assert "re-lock with 'poetry lock'" in error.hint
    assert server.requests_to("/files/") == []


def test_a_file_changed_behind_a_lock_url_is_told_by_the_index_listing(
    server: SimpleIndexServer, cache: Cache, demo: dict[str, str]
) -> None:
    locked = "5" * 64
    url = f"{server.url}/files/{WHEEL}"
    with pytest.raises(HashMismatchError) as caught:
        fetch([request(WHEEL, locked, url)], settings=settings_for(server), cache=cache)
    assert caught.value.mismatch.kind == "changed"
    assert f"lists sha256 {demo[WHEEL]}, but the lock records {locked}" in str(caught.value)
    assert f"the bytes it serves hash to {demo[WHEEL]}" in str(caught.value)


def test_bytes_changed_in_transit_are_called_tampering(
    server: SimpleIndexServer, cache: Cache
) -> None:
    honest = wheel_bytes("demo", "1.0")
    evil = b"evil" + honest
    hashes = publish(server, "demo", {WHEEL: honest}, served={WHEEL: evil})
    with pytest.raises(HashMismatchError) as caught:
        fetch([request(WHEEL, hashes[WHEEL])], settings=settings_for(server), cache=cache)
    error = caught.value.naming("/p/uv.lock", "uv lock")
    assert error.mismatch.kind == "corrupted"
    assert error.message == (
        f"{WHEEL}: hash mismatch: the bytes from {server.url}/files/{WHEEL} hash to sha256 "
        f"{sha256_of(evil)} ({len(evil)} bytes), but both the index and /p/uv.lock record "
        f"{hashes[WHEEL]}: the download was corrupted or tampered with in transit; the file "
        "was not kept"
    )
    assert error.hint is not None
    assert "do not re-lock" in error.hint
    assert stored_files(cache.root) == []


def test_a_mismatch_without_an_index_hash_says_both_causes(cache: Cache) -> None:
    body = wheel_bytes("demo", "1.0")
    with CuttingServer(body, cuts=0) as served, pytest.raises(HashMismatchError) as caught:
        fetch([request(WHEEL, "6" * 64, served.url)], settings=NOWHERE, cache=cache)
    assert caught.value.mismatch.kind == "unexplained"
    assert "the index lists no hash to tell whether the file changed upstream or in transit" in (
        caught.value.message
    )


def test_mismatches_name_the_lock_through_the_cli(
    server: SimpleIndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command names the lock file and its re-lock command in each case."""
    honest = wheel_bytes("gunicorn", "23.0.0")
    name = "gunicorn-23.0.0-py3-none-any.whl"
    hashes = publish(server, "gunicorn", {name: honest})
    project = tmp_path / "project"
    write_file(
        project,
        "pyproject.toml",
        b'[project]\nname = "demo-app"\nversion = "1"\ndependencies = []\n'
        b'[tool.containerize]\napp = "hello:application"\nplatforms = ["linux/amd64"]\n',
    )
    write_file(project, "hello.py", b"application = None\n")
    locked = "7" * 64
    write_file(
        project,
        "pylock.toml",
        (
            'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "gunicorn"\n'
            f'version = "23.0.0"\n[[packages.wheels]]\nname = "{name}"\n'
            f'hashes = {{sha256 = "{locked}"}}\n'
        ).encode(),
    )
    for variable in [v for v in os.environ if v.startswith(("PIP_", "CONTAINERIZE_"))]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple/")
    monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no docker
    assert cli.main(["--project", str(project), "wheelhouse"]) == 4
    err = capsys.readouterr().err
    assert f"but {project / 'pylock.toml'} records {locked}" in err
    assert f"lists sha256 {hashes[name]}" in err
    assert "re-lock with 'pip lock -o pylock.toml ." in err
    assert "Traceback" not in err
