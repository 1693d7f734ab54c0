"""Registry credentials: the docker configuration and real credential helpers.

The helpers here are real programs on PATH speaking the docker-credential protocol
(``get`` reads the registry on standard input, answers JSON): the same boundary the
docker CLI has.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from containerize.errors import ConfigError
from containerize.reference import parse
from containerize.registry import credentials
from containerize.registry.client import endpoint, is_loopback, parse_challenge


def docker_config(tmp_path: Path, data: dict[str, object]) -> dict[str, str]:
    folder = tmp_path / "docker"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data))
    return {"DOCKER_CONFIG": str(folder), "HOME": str(tmp_path)}


def helper(tmp_path: Path, name: str, answers: dict[str, tuple[str, str]]) -> None:
    """Install ``docker-credential-<name>`` answering *answers* by registry, on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    answer = {k: {"ServerURL": k, "Username": u, "Secret": s} for k, (u, s) in answers.items()}
    cases = "".join(
        f"  \"{key}\") printf '%s' '{json.dumps(value)}' ;;\n" for key, value in answer.items()
    )
    script = folder / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 2\n'
        "read -r key\n"
        'case "$key" in\n'
        f"{cases}"
        "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_configuration_means_no_credentials(tmp_path: Path) -> None:
    assert credentials.lookup("registry.example", environ={"HOME": str(tmp_path)}) is None


def test_auths_entry_by_host_whatever_its_spelling(tmp_path: Path) -> None:
    env = docker_config(
        tmp_path, {"auths": {"https://registry.example/v2/": {"auth": basic("ann", "s3:cret")}}}
    )
    found = credentials.lookup("registry.example", environ=env)
    assert found is not None
    assert (found.username, found.password) == ("ann", "s3:cret")
    assert found.basic() == "Basic " + basic("ann", "s3:cret")
    # Printed (in a log, an error), credentials show no secret.
    assert "s3:cret" not in repr(found)
    assert credentials.lookup("other.example", environ=env) is None


def test_identity_token(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"auths": {"registry.example": {"identitytoken": "idt-9f8e7d"}}})
    found = credentials.lookup("registry.example", environ=env)
    assert found is not None
    assert found.identity_token == "idt-9f8e7d"
    assert found.basic() is None
    assert "idt-9f8e7d" not in repr(found)


def test_docker_hub_key(tmp_path: Path) -> None:
    env = docker_config(
        tmp_path, {"auths": {credentials.DOCKER_HUB_KEY: {"auth": basic("hub", "pw")}}}
    )
    for host in ("docker.io", "registry-1.docker.io"):
        found = credentials.lookup(host, environ=env)
        assert found is not None
        assert found.username == "hub"


def test_cred_helper_for_one_registry_wins(tmp_path: Path, on_path: None) -> None:
    helper(tmp_path, "team", {"registry.example": ("robot", "from-helper")})
    env = docker_config(
        tmp_path,
        {
            "credHelpers": {"registry.example": "team"},
            "auths": {"registry.example": {"auth": basic("old", "from-file")}},
        },
    )
    found = credentials.lookup("registry.example", environ=env)
    assert found is not None
    assert (found.username, found.password) == ("robot", "from-helper")
    assert found.source == "docker-credential-team"


def test_creds_store_with_nothing_falls_back_to_auths(tmp_path: Path, on_path: None) -> None:
    helper(tmp_path, "store", {"elsewhere.example": ("x", "y")})
    env = docker_config(
        tmp_path,
        {"credsStore": "store", "auths": {"registry.example": {"auth": basic("ann", "pw")}}},
    )
    found = credentials.lookup("registry.example", environ=env)
    assert found is not None
    assert found.username == "ann"


def test_helper_identity_token(tmp_path: Path, on_path: None) -> None:
    helper(tmp_path, "store", {"registry.example": ("<token>", "refresh")})
    env = docker_config(tmp_path, {"credsStore": "store"})
    found = credentials.lookup("registry.example", environ=env)
    assert found is not None
    assert (found.username, found.identity_token) == (None, "refresh")


def test_missing_helper_is_an_error_naming_it(tmp_path: Path) -> None:
    env = docker_config(tmp_path, {"credsStore": "nowhere-to-be-found"})
    with pytest.raises(ConfigError, match="docker-credential-nowhere-to-be-found") as info:
        credentials.lookup("registry.example", environ=env)
    assert info.value.hint is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("not json", "is not valid JSON"),
        ({"auths": {"registry.example": {"auth": "bm9jb2xvbg=="}}}, "is not base64 of"),
        ({"auths": ["registry.example"]}, "auths must be an object"),
    ],
)
def test_bad_configuration(tmp_path: Path, data: object, message: str) -> None:
    folder = tmp_path / "docker"
    folder.mkdir()
    (folder / "config.json").write_text(data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        credentials.lookup("registry.example", environ={"DOCKER_CONFIG": str(folder)})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("registry.example:5000", False),
        ("10.0.0.1:5000", False),
        ("localhost.example", False),
    ],
)
def test_loopback_registries_speak_plain_http(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_endpoints() -> None:
    assert endpoint(parse("python", where="t")) == ("registry-1.docker.io", "library/python")
    assert endpoint(parse("docker.io/team/app", where="t")) == ("registry-1.docker.io", "team/app")
    assert endpoint(parse("127.0.0.1:5000/a/b", where="t")) == ("127.0.0.1:5000", "a/b")


def test_challenges() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:team/app:pull,push",
    }
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
