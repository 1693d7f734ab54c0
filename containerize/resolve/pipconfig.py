"""Where files come from: pip's index configuration, read the way pip reads it.

:func:`discover` reads the user's pip configuration (the same files in the same order,
then ``PIP_*`` environment variables), adds the Poetry sources of the project and the
index options a lock file sets, and returns an :class:`IndexSettings`.

Credentials never leave in clear text: URLs are stored without their userinfo,
:class:`Credentials` hides itself from ``repr``, and every URL that reaches a log line
or an error message goes through :func:`redact_url` or :func:`redact_text`.
"""

from __future__ import annotations

import base64
import configparser
import difflib
import logging
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from containerize.errors import ConfigError

logger = logging.getLogger(__name__)

#: pip's own default, used when ``timeout`` is not configured.
DEFAULT_TIMEOUT = 15.0

# The sections pip reads for `pip download` / `pip install`, lowest priority first: a
# command's own section overrides [global] whatever file it is in, as in pip.
_SECTIONS = ("global", "install", "download")

PoetryPriority = Literal["primary", "supplemental", "explicit"]
_POETRY_PRIORITIES: dict[str, PoetryPriority] = {
    "primary": "primary",
    "default": "primary",  # Poetry < 1.8 spelling
    "supplemental": "supplemental",
    "secondary": "supplemental",  # deprecated in Poetry, searched after the primaries
    "explicit": "explicit",
}

_Source = TypeVar("_Source", "IndexSource", "FindLinks")

_USERINFO_RE = re.compile(r"(?<=://)[^/\s?#@]+@")


# --------------------------------------------------------------------------- redaction


def redact_url(url: str) -> str:
    """Return *url* with any ``user:password@`` replaced by ``***@``."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def redact_text(text: str) -> str:
    """Redact the userinfo of every URL inside free *text* (exception messages, lines)."""
    return _USERINFO_RE.sub("***@", text)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True, repr=False)
class Credentials:
    """HTTP Basic credentials; ``repr`` and ``str`` never show them."""

    username: str
    password: str

    def __repr__(self) -> str:
        return "Credentials(***)"

    __str__ = __repr__

    def header(self) -> str:
        """The value of an ``Authorization`` header."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True, kw_only=True)
class IndexSource:
    """A simple-API index (PEP 503/691), in the order it is searched.

    *url* ends with ``/`` and carries no userinfo: credentials written into the
    configured URL are kept apart in *credentials*, so the URL can be logged as it is.
    """

    name: str
    url: str
    origin: str
    credentials: Credentials | None = None


@dataclass(frozen=True, kw_only=True)
class FindLinks:
    """A pip ``find-links`` location: a local folder, or a page of links (URL).

    Local folders are stored as ``file://`` URLs; :attr:`path` gives them back.
    """

    url: str
    origin: str
    credentials: Credentials | None = None

    @property
    def path(self) -> Path | None:
        """The local folder, or ``None`` for a remote page."""
        return file_path(self.url)


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """Everything needed to look files up: indexes in search order, find-links, auth."""

    indexes: tuple[IndexSource, ...]
    find_links: tuple[FindLinks, ...] = ()
    netrc: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    cert: Path | None = None
    no_index: bool = False


# --------------------------------------------------------------------------- discovery


def pip_config_files(environ: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """pip's configuration files on Linux, lowest priority first, as pip lists them.

    Global (``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``), user
    (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``), site
    (``$VIRTUAL_ENV/pip.conf``, else this interpreter's prefix), then
    ``PIP_CONFIG_FILE``. As in pip, an existing ``PIP_CONFIG_FILE`` turns the user files
    off, and ``PIP_CONFIG_FILE=/dev/null`` turns every file off.
    """
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return ()
    home = Path(environ.get("HOME") or Path.home())
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and Path(env_file).exists()):
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    files.append(Path(environ.get("VIRTUAL_ENV") or sys.prefix) / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return tuple(files)


def pip_default_index_url() -> str:
    """The index pip uses when none is configured, taken from the installed pip.

    pip documents its default only in ``--help``; its internal constant is the one
    stable place to read it, so a missing or changed pip becomes a :class:`ConfigError`
    that tells the user to configure the index instead.
    """
    try:
        from pip._internal.models.index import PyPI  # noqa: PLC0415 (pip is optional)

        url = PyPI.simple_url
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            "no package index is configured and pip's default index cannot be read "
            "(pip is not importable from this Python)",
            hint="set PIP_INDEX_URL, or index-url in pip.conf, to your package index",
        ) from exc
    if not isinstance(url, str) or not url:
        raise ConfigError(
            "pip's default index is not a URL",
            hint="set PIP_INDEX_URL, or index-url in pip.conf, to your package index",
        )
    return url


def discover(
    project_dir: Path,
    *,
    environ: Mapping[str, str] = os.environ,
    poetry_sources: Sequence[tuple[str, str, str]] = (),
    config_files: Sequence[Path] | None = None,
    lock_sources: Sequence[tuple[str, str, str]] = (),
) -> IndexSettings:
    """Read pip's configuration and the project's Poetry sources into settings.

    pip's files are read in pip's order (:func:`pip_config_files`, or *config_files*
    when given, which lets a caller or a test leave the machine's files out), sections
    ``[global]`` < ``[install]`` < ``[download]``; ``PIP_*`` variables in *environ*
    override them all. List values are split on any whitespace. Relative find-links
    folders are taken from *project_dir*.

    *poetry_sources* are ``(name, url, priority)`` from ``tool.poetry.source``. A
    primary source replaces the default index (pip's ``index-url``, or pip's own
    default); then come pip's extra indexes, then supplemental, then explicit sources
    (a locked file is identified by its hash, so searching them all is safe).
    *lock_sources* are ``(option, url, origin)`` that the lock file itself sets
    (``index-url``, ``extra-index-url`` or ``find-links`` in a requirements file): they
    are searched after the user's own indexes and find-links, which know this machine.
    ``PIP_NO_INDEX`` keeps only find-links. Local folders and ``file://`` indexes that
    are missing or empty are skipped with a debug log.
    """
    files = pip_config_files(environ) if config_files is None else tuple(config_files)
    values = _read_pip_settings(files, environ)

    no_index = _boolean(values.get("no-index"))
    timeout = _timeout(values.get("timeout"))
    cert = Path(values["cert"].text.strip()) if "cert" in values else None

    indexes: list[IndexSource] = []
    primaries: list[IndexSource] = []
    supplementals: list[IndexSource] = []
    explicits: list[IndexSource] = []
    for position, (name, url, priority) in enumerate(poetry_sources):
        where = f"pyproject.toml tool.poetry.source[{position}]"
        kind = _POETRY_PRIORITIES.get(priority.strip().lower())
        if kind is None:
            near = difflib.get_close_matches(priority, list(_POETRY_PRIORITIES), n=1)
            raise ConfigError(
                f"{where}: unknown priority {priority!r} for source {name!r}",
                hint=f"did you mean {near[0]!r}?"
                if near
                else "use primary, supplemental or explicit",
            )
        source = _index_source(name, url, where)
        {"primary": primaries, "supplemental": supplementals, "explicit": explicits}[kind].append(
            source
        )

    if primaries:
        indexes.extend(primaries)
    elif "index-url" in values:
        setting = values["index-url"]
        text = setting.text.strip()
        if any(c.isspace() for c in text):
            raise ConfigError(
                f"{setting.origin}: {redact_url(text)!r} holds a space: an index URL is one "
                "word (percent-encode a space as %20)",
                hint=setting.fix,
            )
        indexes.append(_index_source("index-url", text, setting.origin, hint=setting.fix))
    elif not no_index:
        indexes.append(_index_source("pip default", pip_default_index_url(), "pip's default"))
    if "extra-index-url" in values:
        setting = values["extra-index-url"]
        for position, url in enumerate(setting.text.split()):
            indexes.append(
                _index_source(f"extra-index-url[{position}]", url, setting.origin, hint=setting.fix)
            )
    indexes.extend(supplementals)
    indexes.extend(explicits)
    indexes.extend(
        _index_source(o, url, where, hint=f"fix or remove --{o} at {where}")
        for o, url, where in lock_sources
        if o != "find-links"
    )

    if no_index:
        logger.debug("no-index is set: only find-links are searched")
        indexes = []

    find_links: list[FindLinks] = []
    if "find-links" in values:
        setting = values["find-links"]
        for location in setting.text.split():
            find_links.append(
                _find_links(location, setting.origin, project_dir, environ, hint=setting.fix)
            )
    find_links.extend(
        _find_links(at, where, project_dir, environ, hint=f"fix or remove --find-links at {where}")
        for o, at, where in lock_sources
        if o == "find-links"
    )

    return IndexSettings(
        indexes=_usable_indexes(indexes),
        find_links=tuple(_unique_by_url(find_links)),
        netrc=_netrc_path(environ),
        timeout=timeout,
        cert=cert,
        no_index=no_index,
    )


@dataclass(frozen=True, kw_only=True)
class _Setting:
    text: str
    origin: str  # "<file> [<section>] <key>" or "environment variable PIP_<KEY>"
    fix: str  # how to fix it, where it is


# The settings that name where files come from: an empty value is a mistake, not "unset".
_LOCATIONS = ("index-url", "extra-index-url", "find-links")


def _read_pip_settings(files: Sequence[Path], environ: Mapping[str, str]) -> dict[str, _Setting]:
    # pip merges all files into one "section.key" table (later files win), then applies
    # the sections in order, then the environment.
    table: dict[tuple[str, str], _Setting] = {}
    for path in files:
        if path.is_file():
            table.update(_read_pip_file(path))
    merged: dict[str, _Setting] = {}
    for section in _SECTIONS:
        for (where, name), setting in table.items():
            if where == section:
                merged[name] = setting
    for variable, text in sorted(environ.items()):
        if not variable.startswith("PIP_"):
            continue
        name = _option_name(variable[4:])
        setting = _Setting(
            text=text,
            origin=f"environment variable {variable}",
            fix=f"fix {variable}, or unset it ('unset {variable}')",
        )
        if _given(name, setting):
            merged[name] = setting
    return merged


def _read_pip_file(path: Path) -> dict[tuple[str, str], _Setting]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}, line {line}" if line else str(path)
        # The parser's own text quotes the line, which may hold a password: not shown.
        problem = {
            configparser.MissingSectionHeaderError: "a setting before any [section] header",
            configparser.DuplicateSectionError: "a [section] given twice",
            configparser.DuplicateOptionError: "a setting given twice in one section",
        }.get(type(exc), "not an INI file pip can read")
        raise ConfigError(
            f"cannot read pip configuration {where}: {problem}",
            hint="fix the file (pip.conf is INI: a [global] header, then 'key = value' "
            "lines), or point PIP_CONFIG_FILE elsewhere",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read pip configuration {path}: not UTF-8 text (byte {exc.start})",
            hint="save the file as UTF-8, or point PIP_CONFIG_FILE elsewhere",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read pip configuration {path}: {exc.strerror or exc}",
            hint="fix the file's permissions, or point PIP_CONFIG_FILE elsewhere",
        ) from None
    logger.debug("reading pip configuration %s", path)
    table = {}
    for section in parser.sections():
        if section not in _SECTIONS:
            continue
        for key, text in parser.items(section):
            name = _option_name(key)
            setting = _Setting(
                text=text,
                origin=f"{path} [{section}] {name}",
                fix=f"fix or remove '{key}' in the [{section}] section of {path}",
            )
            if _given(name, setting):
                table[section, name] = setting
    return table


def _given(name: str, setting: _Setting) -> bool:
    """Whether *setting* has a value; an empty index or find-links is an error."""
    if setting.text.strip():
        return True
    if name in _LOCATIONS:
        raise ConfigError(f"{setting.origin} is empty", hint=setting.fix)
    return False


# Option names pip accepts for the same setting.
_ALIASES = {"default-timeout": "timeout"}


def _option_name(key: str) -> str:
    name = key.strip().lower().replace("_", "-").removeprefix("--")
    return _ALIASES.get(name, name)


def _boolean(setting: _Setting | None) -> bool:
    if setting is None:
        return False
    text = setting.text.strip().lower()
    if text in {"1", "y", "yes", "t", "true", "on"}:
        return True
    if text in {"0", "n", "no", "f", "false", "off"}:
        return False
    raise ConfigError(f"{setting.origin}: {text!r} is not a yes/no value", hint="use true or false")


def _timeout(setting: _Setting | None) -> float:
    if setting is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(setting.text.strip())
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(
            f"{setting.origin}: {setting.text.strip()!r} is not a timeout in seconds",
            hint="use a positive number, for example 60",
        )
    return value


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    credentials = Credentials(
        username=urllib.parse.unquote(username), password=urllib.parse.unquote(password)
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), credentials


def _index_source(name: str, url: str, origin: str, *, hint: str | None = None) -> IndexSource:
    fix = hint or "fix the index URL in your pip configuration or pyproject.toml"
    url = url.strip()
    if not url:
        raise ConfigError(f"{origin}: the index URL of {name!r} is empty", hint=fix)
    if "://" not in url:
        _not_a_mangled_url(url, origin, fix)
        # pip accepts a bare folder as an index; make it a file URL like pip does.
        url = Path(url).absolute().as_uri()
    _check_url(url, origin, fix)
    bare, credentials = split_credentials(url)
    path = file_path(bare)
    if path is not None and not path.is_dir():
        raise ConfigError(
            f"{origin}: the index folder {path} does not exist",
            hint=f"{fix}, or create the folder (a PEP 503 layout: <project>/index.html)",
        )
    return IndexSource(
        name=name, url=bare.rstrip("/") + "/", origin=origin, credentials=credentials
    )


def _find_links(
    location: str, origin: str, project_dir: Path, environ: Mapping[str, str], *, hint: str
) -> FindLinks:
    if "://" in location:
        _check_url(location, origin, hint)
        bare, credentials = split_credentials(location)
        path = file_path(bare)
        if path is None:
            return FindLinks(url=bare, origin=origin, credentials=credentials)
    else:
        _not_a_mangled_url(location, origin, hint)
        if location.startswith("~"):
            home = environ.get("HOME") or str(Path.home())
            location = home + location[1:]
        path = project_dir / location
    if not path.exists():
        raise ConfigError(
            f"{origin}: the find-links location {path} does not exist",
            hint=f"{hint}, or create the folder",
        )
    return FindLinks(url=path.absolute().as_uri(), origin=origin)


# "htp:/x", "https:/x", "http//x": a scheme with its slashes wrong, not a folder name.
_MANGLED_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:|^https?//", re.IGNORECASE)


def _not_a_mangled_url(text: str, origin: str, fix: str) -> None:
    if _MANGLED_URL_RE.match(text):
        # Without '://' there is no netloc to redact: hide whatever precedes an '@'.
        shown = text if "@" not in text else "***@" + text.rpartition("@")[2]
        raise ConfigError(
            f"{origin}: {shown!r} is not a URL (no '://') nor a folder",
            hint=f"{fix}: write scheme://host/path, such as https://pypi.example/simple/",
        )


def _check_url(url: str, origin: str, fix: str) -> None:
    """Refuse a URL pip could not use: unknown scheme, no host, bad port, a space."""
    shown = redact_url(url)
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ConfigError(
            f"{origin}: {shown!r} holds a space or a control character",
            hint=f"{fix}; percent-encode a space as %20",
        )
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https", "file"}:
        raise ConfigError(
            f"{origin}: {shown} is not an http(s):// or file:// URL",
            hint=f"{fix}: an index is https://host/path/ (or a local folder)",
        )
    if scheme != "file" and not parts.hostname:
        raise ConfigError(f"{origin}: {shown} names no host", hint=f"{fix}: https://host/path/")
    try:
        parts.port  # noqa: B018 (parsing it is the check)
    except ValueError:
        raise ConfigError(
            f"{origin}: {shown} has an invalid port", hint=f"{fix}: a port is 1-65535"
        ) from None


def _usable_indexes(indexes: Sequence[IndexSource]) -> tuple[IndexSource, ...]:
    usable = []
    for index in _unique_by_url(indexes):
        path = file_path(index.url)
        if path is not None and not (path.is_dir() and any(path.iterdir())):
            logger.debug(
                "skipping index %s from %s: the folder is missing or empty",
                index.url,
                index.origin,
            )
            continue
        usable.append(index)
    return tuple(usable)


def _unique_by_url(sources: Sequence[_Source]) -> list[_Source]:
    seen: set[str] = set()
    unique = []
    for source in sources:
        if source.url not in seen:
            seen.add(source.url)
            unique.append(source)
    return unique


def _netrc_path(environ: Mapping[str, str]) -> Path | None:
    explicit = environ.get("NETRC")
    if explicit:
        return Path(explicit)
    home = environ.get("HOME") or str(Path.home())
    path = Path(home) / ".netrc"
    return path if path.is_file() else None


def file_path(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    return Path(urllib.request.url2pathname(parts.path))
