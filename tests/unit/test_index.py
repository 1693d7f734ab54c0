"""pip configuration discovery and the simple-API client, against a loopback index."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from simple_index_server import (
    JSON_TYPE,
    SimpleIndexServer,
    html_page,
    publish,
    sha256_of,
    wheel_bytes,
    write_file,
)

from containerize.errors import ConfigError, FetchError
from containerize.resolve.client import IndexClient
from containerize.resolve.pipconfig import (
    FindLinks,
    IndexSettings,
    IndexSource,
    discover,
    pip_config_files,
    redact_text,
    redact_url,
)

SECRET = "s3cr3t-pa55"


@pytest.fixture
def server() -> Iterator[SimpleIndexServer]:
    with SimpleIndexServer() as running:
        yield running


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """An environment whose pip files all live under tmp_path."""
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "xdg-dirs"),
        "VIRTUAL_ENV": str(tmp_path / "venv"),
    }


def isolated_files(environ: dict[str, str], tmp_path: Path) -> list[Path]:
    """pip's files for *environ*, less the machine's own /etc/pip.conf."""
    return [path for path in pip_config_files(environ) if tmp_path in path.parents]


def settings_for(*indexes: IndexSource, **kwargs: object) -> IndexSettings:
    return IndexSettings(indexes=indexes, **kwargs)  # type: ignore[arg-type]


def index(url: str, name: str = "test") -> IndexSource:
    return IndexSource(name=name, url=url, origin=f"test index {name}")


# --------------------------------------------------------------------------- discovery


def test_pip_config_files_follow_pips_order(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["PIP_CONFIG_FILE"] = str(tmp_path / "missing.conf")
    assert pip_config_files(environ) == (
        tmp_path / "xdg-dirs/pip/pip.conf",
        Path("/etc/pip.conf"),
        tmp_path / "home/.pip/pip.conf",
        tmp_path / "xdg-config/pip/pip.conf",
        tmp_path / "venv/pip.conf",
        tmp_path / "missing.conf",
    )


def test_existing_pip_config_file_turns_user_files_off(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    env_file = write_file(tmp_path, "env.conf", b"")
    environ["PIP_CONFIG_FILE"] = str(env_file)
    files = pip_config_files(environ)
    assert tmp_path / "home/.pip/pip.conf" not in files
    assert files[-1] == env_file
    environ["PIP_CONFIG_FILE"] = os.devnull
    assert pip_config_files(environ) == ()


def test_discover_layers_files_like_pip(tmp_path: Path, environ: dict[str, str]) -> None:
    (tmp_path / "wheels").mkdir()
    write_file(
        tmp_path / "xdg-dirs/pip",
        "pip.conf",
        b"[global]\nindex-url = https://global.invalid/simple\n"
        b"[install]\nextra-index-url = https://install.invalid/simple\n",
    )
    write_file(
        tmp_path / "xdg-config/pip",
        "pip.conf",
        b"[global]\nindex_url = https://user.invalid/simple\n"
        b"extra-index-url =\n    https://extra-a.invalid/simple\n    https://extra-b.invalid/simple\n"
        b"timeout = 60\n",
    )
    write_file(tmp_path / "venv", "pip.conf", b"[download]\nfind-links = wheels\n")
    settings = discover(tmp_path, environ=environ, config_files=isolated_files(environ, tmp_path))

    assert [(i.name, i.url) for i in settings.indexes] == [
        ("index-url", "https://user.invalid/simple/"),
        # [install] beats [global] whatever file it is in, as in pip.
        ("extra-index-url[0]", "https://install.invalid/simple/"),
    ]
    assert settings.indexes[0].origin == f"{tmp_path}/xdg-config/pip/pip.conf [global] index-url"
    assert settings.indexes[1].origin.endswith("xdg-dirs/pip/pip.conf [install] extra-index-url")
    assert settings.find_links == (
        FindLinks(
            url=(tmp_path / "wheels").as_uri(),
            origin=f"{tmp_path}/venv/pip.conf [download] find-links",
        ),
    )
    assert settings.timeout == 60
    assert settings.netrc is None


def test_environment_overrides_files(tmp_path: Path, environ: dict[str, str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    conf = write_file(
        tmp_path,
        "pip.conf",
        b"[global]\nindex-url = https://file.invalid/simple\n"
        b"extra-index-url = https://file-extra.invalid/simple\ntimeout = 60\n",
    )
    environ |= {
        "PIP_CONFIG_FILE": str(conf),
        "PIP_INDEX_URL": "https://env.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "https://env-1.invalid/simple  https://env-2.invalid/simple",
        "PIP_FIND_LINKS": f"{tmp_path / 'a'} {tmp_path / 'b'}",
        "PIP_DEFAULT_TIMEOUT": "7",
    }
    settings = discover(tmp_path, environ=environ, config_files=[conf])
    assert [i.url for i in settings.indexes] == [
        "https://env.invalid/simple/",
        "https://env-1.invalid/simple/",
        "https://env-2.invalid/simple/",
    ]
    assert settings.indexes[0].origin == "environment variable PIP_INDEX_URL"
    assert [f.path for f in settings.find_links] == [tmp_path / "a", tmp_path / "b"]
    assert settings.timeout == 7


def test_no_index_keeps_only_find_links(tmp_path: Path, environ: dict[str, str]) -> None:
    environ |= {
        "PIP_INDEX_URL": "https://env.invalid/simple",
        "PIP_NO_INDEX": "yes",
        "PIP_FIND_LINKS": str(tmp_path),
    }
    settings = discover(tmp_path, environ=environ, config_files=[])
    assert settings.indexes == ()
    assert settings.no_index
    assert [f.path for f in settings.find_links] == [tmp_path]
    environ["PIP_NO_INDEX"] = "maybe"
    with pytest.raises(ConfigError, match="PIP_NO_INDEX"):
        discover(tmp_path, environ=environ, config_files=[])


def test_poetry_sources_are_ordered_by_priority(tmp_path: Path, environ: dict[str, str]) -> None:
    environ |= {
        "PIP_INDEX_URL": "https://pip.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "https://pip-extra.invalid/simple",
    }
    sources = [
        ("late", "https://explicit.invalid/simple", "explicit"),
        ("extra", "https://supplemental.invalid/simple", "supplemental"),
        ("main", "https://primary.invalid/simple/", "primary"),
    ]
    settings = discover(tmp_path, environ=environ, config_files=[], poetry_sources=sources)
    assert [(i.name, i.url) for i in settings.indexes] == [
        ("main", "https://primary.invalid/simple/"),  # replaces pip's index-url
        ("extra-index-url[0]", "https://pip-extra.invalid/simple/"),
        ("extra", "https://supplemental.invalid/simple/"),
        ("late", "https://explicit.invalid/simple/"),
    ]
    assert settings.indexes[0].origin == "pyproject.toml tool.poetry.source[2]"

    without_primary = discover(
        tmp_path, environ=environ, config_files=[], poetry_sources=sources[:2]
    )
    assert without_primary.indexes[0].url == "https://pip.invalid/simple/"

    with pytest.raises(ConfigError, match="did you mean 'primary'"):
        discover(
            tmp_path,
            environ=environ,
            config_files=[],
            poetry_sources=[("x", "https://x.invalid/", "primery")],
        )


def test_empty_local_indexes_are_skipped(
    tmp_path: Path, environ: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    filled = tmp_path / "filled"
    write_file(filled / "demo", "index.html", b"")
    environ |= {
        "PIP_INDEX_URL": filled.as_uri(),
        "PIP_EXTRA_INDEX_URL": (tmp_path / "empty").as_uri(),
    }
    with caplog.at_level(logging.DEBUG, logger="containerize"):
        settings = discover(tmp_path, environ=environ, config_files=[])
    assert [i.url for i in settings.indexes] == [filled.as_uri() + "/"]
    assert "missing or empty" in caplog.text


# A malformed location is reported by where it was set (file and key, or variable)
# with how to fix it: never a traceback, never skipped.
BAD_LOCATIONS = [
    ("index-url", "htp:/x", "'htp:/x' is not a URL (no '://') nor a folder"),
    ("index-url", "https:/pypi.example/simple", "is not a URL (no '://') nor a folder"),
    ("index-url", "https//pypi.example/simple", "is not a URL (no '://') nor a folder"),
    ("index-url", "https://pypi.example/my index/", "holds a space"),
    ("index-url", "ftp://pypi.example/simple", "is not an http(s):// or file:// URL"),
    ("index-url", "https:///simple", "names no host"),
    ("index-url", "http://pypi.example:99999/simple", "has an invalid port"),
    ("index-url", "file:///nonexistent/simple", "the index folder /nonexistent/simple does not"),
    ("index-url", "/nonexistent/simple", "the index folder /nonexistent/simple does not exist"),
    ("extra-index-url", "https://ok.example/simple htp:/x", "'htp:/x' is not a URL"),
    ("extra-index-url", "gopher://x.example/", "is not an http(s):// or file:// URL"),
    ("find-links", "/nonexistent/wheels", "find-links location /nonexistent/wheels does not"),
    ("find-links", "file:///nonexistent/wheels", "location /nonexistent/wheels does not exist"),
    ("find-links", "htps://wheels.example/", "is not an http(s):// or file:// URL"),
    ("find-links", "https:wheels.example", "is not a URL (no '://') nor a folder"),
]


@pytest.mark.parametrize(("key", "value", "problem"), BAD_LOCATIONS)
def test_bad_location_in_pip_conf_names_file_and_key(
    tmp_path: Path, environ: dict[str, str], key: str, value: str, problem: str
) -> None:
    conf = write_file(tmp_path, "pip.conf", f"[install]\n{key} = {value}\n".encode())
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, environ=environ, config_files=[conf])
    assert str(caught.value).startswith(f"{conf} [install] {key}: ")
    assert problem in caught.value.message
    assert caught.value.hint is not None
    assert f"fix or remove '{key}' in the [install] section of {conf}" in caught.value.hint


@pytest.mark.parametrize(("key", "value", "problem"), BAD_LOCATIONS)
def test_bad_location_in_the_environment_names_the_variable(
    tmp_path: Path, environ: dict[str, str], key: str, value: str, problem: str
) -> None:
    variable = "PIP_" + key.upper().replace("-", "_")
    environ[variable] = value
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, environ=environ, config_files=[])
    assert caught.value.message.startswith(f"environment variable {variable}: ")
    assert problem in caught.value.message
    assert caught.value.hint is not None
    assert caught.value.hint.startswith(f"fix {variable}, or unset it ('unset {variable}')")


@pytest.mark.parametrize("key", ["index-url", "extra-index-url", "find-links"])
def test_empty_location_is_an_error(tmp_path: Path, environ: dict[str, str], key: str) -> None:
    conf = write_file(tmp_path, "pip.conf", f"[global]\n{key} =\n".encode())
    with pytest.raises(ConfigError, match=f"{conf} \\[global\\] {key} is empty"):
        discover(tmp_path, environ=environ, config_files=[conf])
    variable = "PIP_" + key.upper().replace("-", "_")
    with pytest.raises(ConfigError, match=f"environment variable {variable} is empty") as caught:
        discover(tmp_path, environ={**environ, variable: " "}, config_files=[])
    assert caught.value.hint == f"fix {variable}, or unset it ('unset {variable}')"


def test_bad_location_in_a_poetry_source_names_it(tmp_path: Path, environ: dict[str, str]) -> None:
    with pytest.raises(
        ConfigError, match=re.escape("tool.poetry.source[0]: 'htp:/x' is not a URL")
    ):
        discover(
            tmp_path, environ=environ, config_files=[], poetry_sources=[("x", "htp:/x", "primary")]
        )


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://user:{SECRET}@pypi.example/simple",
        f"https:/user:{SECRET}@pypi.example/simple",
        f"https://user:{SECRET}@pypi.example/my simple",
    ],
)
def test_credentials_in_a_bad_url_stay_hidden(
    tmp_path: Path, environ: dict[str, str], url: str
) -> None:
    environ["PIP_INDEX_URL"] = url
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, environ=environ, config_files=[])
    assert SECRET not in str(caught.value)


def test_default_index_comes_from_pip(
    tmp_path: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pip._internal.models.index import PyPI  # noqa: PLC0415 (the thing under test)

    settings = discover(tmp_path, environ=environ, config_files=[])
    assert [(i.url, i.origin) for i in settings.indexes] == [
        (PyPI.simple_url.rstrip("/") + "/", "pip's default")
    ]
    monkeypatch.setitem(sys.modules, "pip._internal.models.index", None)
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, environ=environ, config_files=[])
    assert "PIP_INDEX_URL" in str(caught.value)


def test_credentials_are_split_off_and_hidden(tmp_path: Path, environ: dict[str, str]) -> None:
    environ["PIP_INDEX_URL"] = f"https://deploy:{SECRET}@private.invalid/simple"
    settings = discover(tmp_path, environ=environ, config_files=[])
    source = settings.indexes[0]
    assert source.url == "https://private.invalid/simple/"
    assert source.credentials is not None
    assert source.credentials.password == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(source.credentials)


def test_netrc_is_found_and_parse_errors_hide_secrets(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    netrc_file = write_file(tmp_path / "home", ".netrc", b"machine a login u password p\n")
    assert discover(tmp_path, environ=environ, config_files=[]).netrc == netrc_file
    broken = write_file(
        tmp_path, "broken-netrc", f"machine a login u password {SECRET} junk\n".encode()
    )
    environ["NETRC"] = str(broken)
    settings = discover(tmp_path, environ=environ, config_files=[])
    with pytest.raises(ConfigError) as caught:
        IndexClient(settings)
    assert str(broken) in str(caught.value)
    assert SECRET not in str(caught.value)


def test_unreadable_config_is_reported_redacted(tmp_path: Path, environ: dict[str, str]) -> None:
    conf = write_file(tmp_path, "bad.conf", f"https://u:{SECRET}@host.invalid/\n".encode())
    with pytest.raises(ConfigError) as caught:
        discover(tmp_path, environ=environ, config_files=[conf])
    assert str(conf) in str(caught.value)
    assert SECRET not in str(caught.value)


def test_redaction() -> None:
    assert redact_url(f"https://u:{SECRET}@h.invalid:8080/x") == "https://***@h.invalid:8080/x"
    assert redact_url("https://h.invalid/x") == "https://h.invalid/x"
    assert redact_text(f"see https://tok@h.invalid/ and http://u:{SECRET}@g.invalid/x") == (
        "see https://***@h.invalid/ and http://***@g.invalid/x"
    )


# --------------------------------------------------------------------------- client


def test_html_page(server: SimpleIndexServer) -> None:
    wheel = wheel_bytes("demo_pkg", "1.0")
    digest = sha256_of(wheel)
    server.add(
        "/simple/demo-pkg/",
        html_page(
            [
                (f"../../files/demo_pkg-1.0-py3-none-any.whl#sha256={digest}", {}),
                (
                    "/files/demo_pkg-0.9.tar.gz#md5=abc",
                    {"data-requires-python": ">=3.8", "data-yanked": "broken"},
                ),
                (f"{server.url}/elsewhere/demo_pkg-0.8.tar.gz", {"data-yanked": ""}),
            ]
        ),
    )
    client = IndexClient(settings_for(index(f"{server.url}/simple/")))
    files = client.project_files(client.settings.indexes[0], "Demo_Pkg")
    assert [(f.filename, f.url, f.sha256) for f in files] == [
        (
            "demo_pkg-1.0-py3-none-any.whl",
            f"{server.url}/files/demo_pkg-1.0-py3-none-any.whl",
            digest,
        ),
        ("demo_pkg-0.9.tar.gz", f"{server.url}/files/demo_pkg-0.9.tar.gz", None),
        ("demo_pkg-0.8.tar.gz", f"{server.url}/elsewhere/demo_pkg-0.8.tar.gz", None),
    ]
    assert files[1].requires_python == ">=3.8"
    assert (files[1].yanked, files[1].yanked_reason) == (True, "broken")
    assert (files[2].yanked, files[2].yanked_reason) == (True, None)
    assert not files[0].yanked
    (seen,) = server.requests_to("/simple/")
    assert seen.path == "/simple/demo-pkg/"
    assert JSON_TYPE in seen.accept
    # Pages are remembered for the client's lifetime.
    client.project_files(client.settings.indexes[0], "demo-pkg")
    assert len(server.requests_to("/simple/")) == 1


def test_json_page_is_preferred(server: SimpleIndexServer) -> None:
    digest = "a" * 64
    server.add_negotiated(
        "/simple/demo/",
        html_body=html_page([("/html-only/demo-1.0.tar.gz", {})]),
        json_body=json.dumps(
            {
                "meta": {"api-version": "1.1"},
                "name": "demo",
                "files": [
                    {
                        "filename": "demo-1.0.tar.gz",
                        "url": "../../files/demo-1.0.tar.gz",
                        "hashes": {"sha256": digest},
                        "requires-python": ">=3.9",
                        "yanked": "bad build",
                    }
                ],
            }
        ),
    )
    client = IndexClient(settings_for(index(f"{server.url}/simple")))
    (file,) = client.project_files(client.settings.indexes[0], "demo")
    assert file.url == f"{server.url}/files/demo-1.0.tar.gz"
    assert (file.sha256, file.requires_python, file.yanked_reason) == (digest, ">=3.9", "bad build")


def test_malformed_json_page(server: SimpleIndexServer) -> None:
    server.add("/simple/demo/", '{"files": 3}', content_type=JSON_TYPE)
    client = IndexClient(settings_for(index(f"{server.url}/simple/")))
    with pytest.raises(FetchError, match="malformed PEP 691 JSON"):
        client.project_files(client.settings.indexes[0], "demo")


def test_redirect_resolves_links_against_the_final_page(server: SimpleIndexServer) -> None:
    server.redirect("/simple/demo/", "/moved/demo/")
    server.add("/moved/demo/", html_page([("demo-1.0.tar.gz#sha256=" + "b" * 64, {})]))
    client = IndexClient(settings_for(index(f"{server.url}/simple/")))
    (file,) = client.project_files(client.settings.indexes[0], "demo")
    assert file.url == f"{server.url}/moved/demo/demo-1.0.tar.gz"


def test_missing_project_is_empty_and_errors_name_the_url(server: SimpleIndexServer) -> None:
    server.add("/simple/broken/", "oops", status=503)
    client = IndexClient(settings_for(index(f"{server.url}/simple/")))
    assert client.project_files(client.settings.indexes[0], "absent") == []
    with pytest.raises(FetchError) as caught:
        client.project_files(client.settings.indexes[0], "broken")
    assert f"{server.url}/simple/broken/ answered HTTP 503" in str(caught.value)


def test_timeout(server: SimpleIndexServer) -> None:
    server.add("/simple/slow/", "late", delay=3)
    client = IndexClient(settings_for(index(f"{server.url}/simple/"), timeout=0.3))
    with pytest.raises(FetchError, match=r"did not answer within 0\.3s"):
        client.project_files(client.settings.indexes[0], "slow")


def test_refused_connection(server: SimpleIndexServer) -> None:
    # A port that was just free: nothing listens there.
    with SimpleIndexServer() as gone:
        url = gone.url
    client = IndexClient(settings_for(index(f"{url}/simple/")))
    with pytest.raises(FetchError, match="cannot reach"):
        client.project_files(client.settings.indexes[0], "demo")


@pytest.mark.parametrize("via", ["netrc", "url"])
def test_basic_auth(
    server: SimpleIndexServer, tmp_path: Path, via: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.protect("/private/", "deploy", SECRET)
    publish(server, "demo", {"demo-1.0.tar.gz": b"x"}, index="/private/simple/")
    if via == "netrc":
        netrc_file = write_file(
            tmp_path, "netrc", f"machine 127.0.0.1 login deploy password {SECRET}\n".encode()
        )
        settings = settings_for(index(f"{server.url}/private/simple/"), netrc=netrc_file)
    else:
        source = discover(
            tmp_path,
            environ={"PIP_INDEX_URL": f"http://deploy:{SECRET}@{server.host}/private/simple"},
            config_files=[],
        ).indexes[0]
        settings = settings_for(source)
    with caplog.at_level(logging.DEBUG, logger="containerize"):
        (file,) = IndexClient(settings).project_files(settings.indexes[0], "demo")
    assert file.filename == "demo-1.0.tar.gz"
    assert SECRET not in caplog.text


def test_wrong_credentials_are_never_shown(
    server: SimpleIndexServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.protect("/private/", "deploy", "right")
    source = discover(
        tmp_path,
        environ={"PIP_INDEX_URL": f"http://deploy:{SECRET}@{server.host}/private/simple"},
        config_files=[],
    ).indexes[0]
    with caplog.at_level(logging.DEBUG, logger="containerize"), pytest.raises(FetchError) as caught:
        IndexClient(settings_for(source)).project_files(source, "demo")
    text = str(caught.value)
    assert "401" in text
    assert "netrc" in text
    assert SECRET not in text
    assert SECRET not in caplog.text


def test_credentials_do_not_follow_a_redirect_to_another_host(server: SimpleIndexServer) -> None:
    source = discover(
        Path(),
        environ={"PIP_INDEX_URL": f"http://deploy:{SECRET}@{server.host}/simple"},
        config_files=[],
    ).indexes[0]
    server.redirect("/simple/demo/", f"http://localhost:{server.url.rsplit(':', 1)[1]}/other/demo/")
    server.add("/other/demo/", html_page([]))
    IndexClient(settings_for(source)).project_files(source, "demo")
    first, second = server.requests_to("/")
    assert first.authorization is not None
    assert second.path == "/other/demo/"
    assert second.authorization is None


def test_file_index_and_find_links(tmp_path: Path, server: SimpleIndexServer) -> None:
    wheel = wheel_bytes("demo", "1.0")
    files_dir = tmp_path / "index/files"
    write_file(files_dir, "demo-1.0-py3-none-any.whl", wheel)
    write_file(
        tmp_path / "index/simple/demo",
        "index.html",
        html_page(
            [(f"../../files/demo-1.0-py3-none-any.whl#sha256={sha256_of(wheel)}", {})]
        ).encode(),
    )
    folder = tmp_path / "wheels"
    write_file(folder, "demo-1.0-py3-none-any.whl", wheel)
    write_file(folder, "other-2.0.tar.gz", b"")
    write_file(folder, "README.txt", b"")
    server.add("/links/", html_page([("/f/demo-2.0.tar.gz", {}), ("/f/other-1.0.tar.gz", {})]))
    settings = discover(
        tmp_path,
        environ={
            "PIP_INDEX_URL": (tmp_path / "index/simple").as_uri(),
            "PIP_FIND_LINKS": f"wheels {server.url}/links/",
        },
        config_files=[],
    )
    client = IndexClient(settings)
    (from_index,) = client.project_files(settings.indexes[0], "demo")
    assert from_index.url == (files_dir / "demo-1.0-py3-none-any.whl").as_uri()
    assert from_index.sha256 == sha256_of(wheel)
    local, remote = settings.find_links
    (from_folder,) = client.project_files(local, "demo")
    assert (from_folder.filename, from_folder.sha256) == ("demo-1.0-py3-none-any.whl", None)
    (from_page,) = client.project_files(remote, "demo")
    assert from_page.url == f"{server.url}/f/demo-2.0.tar.gz"
    client.project_files(remote, "other")
    assert len(server.requests_to("/links/")) == 1
    assert client.project_files(settings.indexes[0], "absent") == []


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    settings = discover(
        tmp_path,
        environ={"PIP_INDEX_URL": "https://x.invalid/simple", "PIP_CERT": str(tmp_path / "no.pem")},
        config_files=[],
    )
    with pytest.raises(ConfigError, match="cannot load the CA bundle"):
        IndexClient(settings)
