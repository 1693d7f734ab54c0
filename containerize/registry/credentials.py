"""Registry credentials, read the way the docker CLI reads them, and nowhere else.

``$DOCKER_CONFIG/config.json`` (else ``~/.docker/config.json``) says where they are:

- ``credHelpers`` names a credential helper for one registry;
- ``credsStore`` names the helper that holds every other registry's credentials;
- ``auths`` holds ``base64(user:password)`` (or an identity token) per registry, as
  ``docker login`` writes them without a helper.

A helper is the program ``docker-credential-<name>``: ``get`` with the registry on
standard input answers ``{"Username": ..., "Secret": ...}``; the user name
``<token>`` means the secret is an identity token. This module never writes
credentials, never passes them on a command line, and never logs them: a
:class:`Credentials` prints as the registry and user name alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from containerize import process
from containerize.errors import CommandError, ConfigError

#: The key Docker Hub's credentials are stored under, whatever host its API has.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HELPER_TIMEOUT = 60
_IDENTITY_TOKEN_USER = "<token>"  # noqa: S105 (the docker CLI's marker, not a secret)


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What a registry is logged in with: a user and password, or an identity token."""

    registry: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = ""  # where they came from, for messages: a helper or the config file

    def basic(self) -> str | None:
        """The value of a Basic ``Authorization`` header, when there is a password."""
        if self.username is None or self.password is None:
            return None
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The docker CLI's configuration file."""
    folder = environ.get("DOCKER_CONFIG")
    if folder:
        return Path(folder) / "config.json"
    return Path(environ.get("HOME") or Path.home()) / ".docker" / "config.json"


def key_for(host: str) -> str:
    """The key a registry's credentials are stored under (Docker Hub has its own)."""
    return DOCKER_HUB_KEY if host in DOCKER_HUB_HOSTS else host


def lookup(
    host: str,
    *,
    environ: Mapping[str, str] = os.environ,
    run_helper: Callable[[str, str], Mapping[str, str] | None] | None = None,
) -> Credentials | None:
    """The credentials the docker CLI would use for registry *host*, or None.

    *run_helper* (helper name, registry key) answers a helper's ``get``; the default
    runs ``docker-credential-<name>``.
    """
    path = config_path(environ)
    config = _read_config(path)
    key = key_for(host)
    helper = _helper_for(config, key, path)
    ask = run_helper or get_from_helper
    if helper is not None:
        answer = ask(helper, key)
        if answer is not None:
            return _from_helper(key, answer, helper)
    return _from_auths(config, key, path)


def get_from_helper(helper: str, key: str) -> Mapping[str, str] | None:
    """Ask ``docker-credential-<helper> get`` for *key*; None when it has nothing.

    Its output is never logged nor put into an error: it holds the secret.
    """
    program = f"docker-credential-{helper}"
    try:
        result = process.run([program, "get"], input=key, check=False, timeout=_HELPER_TIMEOUT)
    except CommandError as exc:
        raise ConfigError(
            f"{config_path()}: the credential helper {program!r} cannot be run: {exc.message}",
            hint=f"install {program}, or remove {helper!r} from credsStore/credHelpers",
        ) from None
    if result.returncode != 0:
        if "credentials not found" in (result.stdout + result.stderr).lower():
            return None
        raise ConfigError(
            f"the credential helper {program} failed for {key} (exit code {result.returncode})",
            hint=f"run 'docker login {key}' again, or check {program}",
        )
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ConfigError(
            f"the credential helper {program} answered something other than JSON for {key}",
            hint=f'check {program}: \'get\' must print {{"Username": ..., "Secret": ...}}',
        )
    return {str(k): str(v) for k, v in answer.items() if isinstance(v, str)}


def _read_config(path: Path) -> Mapping[str, object]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc}",
            hint="fix it, or log in again with 'docker login'",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _helper_for(config: Mapping[str, object], key: str, path: Path) -> str | None:
    helpers = config.get("credHelpers") or {}
    if not isinstance(helpers, dict):
        raise ConfigError(f"{path}: credHelpers must be an object of registry: helper")
    for registry, helper in helpers.items():
        if _normal(str(registry)) == _normal(key) and isinstance(helper, str) and helper:
            return helper
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _from_helper(key: str, answer: Mapping[str, str], helper: str) -> Credentials | None:
    username, secret = answer.get("Username"), answer.get("Secret")
    if not secret:
        return None
    source = f"docker-credential-{helper}"
    if username == _IDENTITY_TOKEN_USER:
        return Credentials(registry=key, identity_token=secret, source=source)
    return Credentials(registry=key, username=username or "", password=secret, source=source)


def _from_auths(config: Mapping[str, object], key: str, path: Path) -> Credentials | None:
    auths = config.get("auths") or {}
    if not isinstance(auths, dict):
        raise ConfigError(f"{path}: auths must be an object of registry: entry")
    entry = next(
        (value for name, value in auths.items() if _normal(str(name)) == _normal(key)), None
    )
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(registry=key, identity_token=token, source=str(path))
    encoded = entry.get("auth")
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        pair = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        pair = ""
    username, sep, password = pair.partition(":")
    if not sep:
        raise ConfigError(
            f"{path}: auths.{key}.auth is not base64 of 'user:password'",
            hint=f"log in again with 'docker login {key}'",
        )
    return Credentials(registry=key, username=username, password=password, source=str(path))


def _normal(name: str) -> str:
    """A registry key without scheme or path, as the docker CLI compares them;
    Docker Hub's key stays as it is."""
    if name == DOCKER_HUB_KEY:
        return name
    for scheme in ("https://", "http://"):
        if name.startswith(scheme):
            name = name[len(scheme) :]
    return name.split("/", 1)[0]
