"""The checks of top-level ``[tool.containerize]`` values beyond their kind.

Each takes the value as its kind already checked it (a string, a tuple of strings, a
table...), where it came from, and the other keys' checked values; it returns what the
``Config`` record holds. :mod:`containerize.options` names each key's check.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from containerize import reference, servers, syspackages
from containerize import tagrules as tags
from containerize.declare import Values, env_table, url_path
from containerize.errors import ConfigError
from containerize.platforms import Platform, parse_platforms
from containerize.runtime import containerize_accesslog, containerize_hosts, containerize_proxies

_HOST_RE = containerize_hosts.ENTRY


def allowed_hosts(hosts: tuple[str, ...], where: str, values: Values) -> tuple[str, ...]:
    if not hosts:
        raise ConfigError(
            f"{where} is empty: every request would get 400",
            hint="list the host names the app serves, or ['*'] for any",
        )
    for i, host in enumerate(hosts):
        if host != "*" and not _HOST_RE.fullmatch(host):
            raise ConfigError(
                f"{where}[{i}]: {host!r} is not a host name",
                hint="write 'example.com', '.example.com' (and subdomains) or '*'; no port",
            )
    return tuple(host.lower() for host in hosts)


def trusted_proxies(entries: tuple[str, ...], where: str, values: Values) -> tuple[str, ...]:
    """Addresses or CIDR networks, written as the image's entry point will read them."""
    networks = []
    for i, entry in enumerate(entries):
        try:
            (network,) = containerize_proxies.check([entry], where=f"{where}[{i}]")
        except containerize_proxies.ProxiesError as exc:
            message, _, hint = str(exc).partition("; ")
            raise ConfigError(message, hint=hint) from None
        networks.append(str(network))
    return tuple(networks)


def access_log(text: str, where: str, values: Values) -> str:
    if text.lower() not in containerize_accesslog.FORMATS:
        raise ConfigError(
            f"{where}: {text!r} is not an access log format",
            hint=f"write one of {', '.join(repr(f) for f in containerize_accesslog.FORMATS)}",
        )
    return text.lower()


def image(text: str | None, where: str, values: Values) -> str:
    """The image repository; the project's name without one."""
    return str(reference.parse_repository(text or values.name, where=where))


#: Where BuildKit's cache is kept between builds: only in the builder (``none``), or in
#: the image's registry, one tag per build target (``registry``).
CacheMode = Literal["none", "registry"]
CACHE_MODES: tuple[CacheMode, ...] = ("none", "registry")


def cache(text: str, where: str, values: Values) -> CacheMode:
    """``none`` or ``registry``; ``registry`` needs an image that names its registry."""
    return _registry_mode(
        text,
        where,
        values,
        what="BuildKit's cache",
        kept="the cache is pushed to <image>:buildcache-<server>",
        other="--cache-to and --cache-from take any buildx cache spec",
    )


def share(text: str, where: str, values: Values) -> CacheMode:
    """Like :func:`cache`, for the downloaded files and compiled wheels."""
    return _registry_mode(
        text,
        where,
        values,
        what="the downloaded files and compiled wheels",
        kept="they are pushed to <image>/containerize-cache",
        other="without it each machine downloads and compiles for itself",
    )


def _registry_mode(
    text: str, where: str, values: Values, *, what: str, kept: str, other: str
) -> CacheMode:
    key = where.rsplit(".", 1)[-1]
    for mode in CACHE_MODES:
        if text == mode:
            break
    else:
        raise ConfigError(
            f"{where}: {text!r} is not one of {', '.join(map(repr, CACHE_MODES))}",
            hint=f'write {key} = "registry" ({what}, kept in the image\'s registry) or '
            f'"none"; {other}',
        )
    if mode == "registry":
        image_ref = reference.parse_repository(values.get("image"), where="image")
        if image_ref.domain is None:
            raise ConfigError(
                f'{where}: {key} = "registry" keeps {what} beside the image, but image '
                f"{image_ref.repository!r} names no registry",
                hint='name the registry in image, e.g. image = "registry.example:5000/team/app" '
                f"({kept})",
            )
    return mode


def base_image(text: str, where: str, values: Values) -> str:
    return str(reference.parse(text, where=where))


def platforms(names: tuple[str, ...], where: str, values: Values) -> tuple[Platform, ...]:
    return parse_platforms(names, where=where)


def server_names(names: tuple[str, ...], where: str, values: Values) -> tuple[str, ...]:
    if not names:
        raise ConfigError(f"{where} is empty", hint=f"choose from {', '.join(servers.names())}")
    for i, name in enumerate(names):
        servers.get(name, where=f"{where}[{i}]")
        if name in names[:i]:
            raise ConfigError(f"{where}[{i}]: {name!r} is already listed", hint="list it once")
    return names


def locks(value: str | tuple[str, ...] | None, where: str, values: Values) -> tuple[Path, ...]:
    """The lock files, each one existing; several are read as one lock."""
    if value is None:
        return ()
    items = (
        [(value, where)]
        if isinstance(value, str)
        else [(text, f"{where}[{i}]") for i, text in enumerate(value)]
    )
    if not items:
        raise ConfigError(
            f"{where} is empty", hint="name a lock file, or remove the key to find it"
        )
    found: list[Path] = []
    for text, at in items:
        lock = values.project_dir / text
        if not lock.is_file():
            raise ConfigError(
                f"{at}: {lock} does not exist",
                hint="name the lock file relative to pyproject.toml, or remove the key to find it",
            )
        if lock in found:
            raise ConfigError(f"{at}: {text!r} is already listed", hint="list it once")
        found.append(lock)
    return tuple(found)


def build_dir(text: str, where: str, values: Values) -> Path:
    """The build folder: never the project itself nor a folder that contains it."""
    project_dir = values.project_dir
    path = (project_dir / text).resolve()
    if path == project_dir or path in project_dir.parents:
        what = "the project folder" if path == project_dir else "a folder that holds the project"
        raise ConfigError(
            f"{where}: {path} is {what}; containerize replaces what is in its build folder",
            hint="use a folder of its own, such as the default '.containerize'",
        )
    return path


def user_id(value: int, where: str, values: Values) -> int:
    if value == 0:
        raise ConfigError(
            f"{where}: 0 is root, and the image never runs as root",
            hint=f"use an id from 1 to {2**31 - 1}",
        )
    return value


def group_id(value: int | None, where: str, values: Values) -> int:
    """The group id; the user id without one."""
    return values.get("uid") if value is None else user_id(value, where, values)


def healthcheck_path(text: str, where: str, values: Values) -> str:
    return url_path(text, where)


def env(table: dict[str, Any], where: str, values: Values) -> tuple[tuple[str, str], ...]:
    return env_table(table, where)


def python_version(text: str, where: str, values: Values) -> tuple[int, int]:
    match = re.fullmatch(r"3\.(\d{1,2})", text)
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not '3.X'", hint="e.g. '3.12'")
    return (3, int(match[1]))


def libc(text: str, where: str, values: Values) -> tuple[Literal["glibc", "musl"], tuple[int, int]]:
    match = re.fullmatch(r"(glibc|musl)-(\d{1,3})\.(\d{1,3})", text)
    if match is None:
        raise ConfigError(
            f"{where}: {text!r} is not a C library version",
            hint="write 'glibc-2.36' (Debian 12) or 'musl-1.2' (Alpine)",
        )
    name: Literal["glibc", "musl"] = "glibc" if match[1] == "glibc" else "musl"
    return (name, (int(match[2]), int(match[3])))


def tag_templates(
    table: dict[str, Any], where: str, values: Values
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    templates: dict[str, tuple[str, ...]] = {}
    for name, value in table.items():
        servers.get(name, where=f"{where}.{name}")
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ConfigError(
                f"{where}.{name}: expected a list of tag templates, got {value!r}",
                hint=f"write {name} = ['{{version}}-{{server}}', '{{server}}']",
            )
        templates[name] = tuple(items)
    tags.check_templates(templates, where=where)
    return tuple(sorted(templates.items()))


def system_packages(
    table: dict[str, Any] | None, where: str, values: Values
) -> syspackages.SystemPackages:
    return syspackages.parse(table, where) if table is not None else syspackages.NONE
