"""Where files are fetched from: pip's index configuration and the simple-API client.

:func:`discover` reads the user's pip configuration the way pip does (the same files in
the same order, then ``PIP_*`` environment variables), adds the Poetry sources of the
project, and returns an :class:`IndexSettings`. :class:`IndexClient` reads project pages
from those indexes (PEP 691 JSON when offered, PEP 503 HTML otherwise, ``file://``
indexes and find-links folders too) and opens file downloads with the right credentials.

Credentials never leave this module in clear text: URLs are stored without their
userinfo, :class:`Credentials` hides itself from ``repr``, and every URL that reaches a
log line or an error message goes through :func:`redact_url` or :func:`redact_text`.
"""

from __future__ import annotations

import base64
import configparser
import difflib
import http.client
import json
import logging
import netrc
import os
import re
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from containerize import __version__
from containerize.errors import ConfigError, FetchError

logger = logging.getLogger(__name__)

#: pip's own default, used when ``timeout`` is not configured.
DEFAULT_TIMEOUT = 15.0

_JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# PEP 691: ask for JSON, accept HTML; an index that only speaks PEP 503 answers HTML.
_ACCEPT_SIMPLE = f"{_JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_USER_AGENT = f"containerize/{__version__}"

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
        return _file_path(self.url)


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """Everything needed to look files up: indexes in search order, find-links, auth."""

    indexes: tuple[IndexSource, ...]
    find_links: tuple[FindLinks, ...] = ()
    netrc: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    cert: Path | None = None
    no_index: bool = False


@dataclass(frozen=True, kw_only=True)
class IndexFile:
    """One file listed on a project page. *url* is absolute, without userinfo."""

    filename: str
    url: str
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None


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
        indexes.append(_index_source("index-url", setting.text.strip(), setting.origin))
    elif not no_index:
        indexes.append(_index_source("pip default", pip_default_index_url(), "pip's default"))
    if "extra-index-url" in values:
        setting = values["extra-index-url"]
        for position, url in enumerate(setting.text.split()):
            indexes.append(_index_source(f"extra-index-url[{position}]", url, setting.origin))
    indexes.extend(supplementals)
    indexes.extend(explicits)
    indexes.extend(
        _index_source(o, url, where) for o, url, where in lock_sources if o != "find-links"
    )

    if no_index:
        logger.debug("no-index is set: only find-links are searched")
        indexes = []

    find_links: list[FindLinks] = []
    if "find-links" in values:
        setting = values["find-links"]
        for location in setting.text.split():
            link = _find_links(location, setting.origin, project_dir, environ)
            if link is not None:
                find_links.append(link)
    named = (
        _find_links(at, where, project_dir, environ)
        for o, at, where in lock_sources
        if o == "find-links"
    )
    find_links.extend(link for link in named if link is not None)

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
    origin: str


def _read_pip_settings(files: Sequence[Path], environ: Mapping[str, str]) -> dict[str, _Setting]:
    # pip merges all files into one "section.key" table (later files win), then applies
    # the sections in order, then the environment.
    table: dict[tuple[str, str], _Setting] = {}
    for path in files:
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError) as exc:
            raise ConfigError(
                f"cannot read pip configuration {path}: {redact_text(str(exc))}",
                hint="fix the file, or point PIP_CONFIG_FILE elsewhere",
            ) from None
        logger.debug("reading pip configuration %s", path)
        for section in parser.sections():
            if section not in _SECTIONS:
                continue
            for key, text in parser.items(section):
                if text.strip():
                    name = _option_name(key)
                    table[section, name] = _Setting(text=text, origin=f"{path} [{section}] {name}")
    merged: dict[str, _Setting] = {}
    for section in _SECTIONS:
        for (where, name), setting in table.items():
            if where == section:
                merged[name] = setting
    for variable, text in sorted(environ.items()):
        if variable.startswith("PIP_") and text.strip():
            merged[_option_name(variable[4:])] = _Setting(
                text=text, origin=f"environment variable {variable}"
            )
    return merged


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


def _split_credentials(url: str) -> tuple[str, Credentials | None]:
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    credentials = Credentials(
        username=urllib.parse.unquote(username), password=urllib.parse.unquote(password)
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), credentials


def _index_source(name: str, url: str, origin: str) -> IndexSource:
    url = url.strip()
    if not url:
        raise ConfigError(f"{origin}: the index URL of {name!r} is empty")
    if "://" not in url:
        # pip accepts a bare folder as an index; make it a file URL like pip does.
        url = Path(url).absolute().as_uri()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in {"http", "https", "file"}:
        raise ConfigError(
            f"{origin}: {redact_url(url)} is not an http(s):// or file:// URL",
            hint="check the index URL in your pip configuration or pyproject.toml",
        )
    bare, credentials = _split_credentials(url)
    return IndexSource(
        name=name, url=bare.rstrip("/") + "/", origin=origin, credentials=credentials
    )


def _find_links(
    location: str, origin: str, project_dir: Path, environ: Mapping[str, str]
) -> FindLinks | None:
    if "://" in location:
        bare, credentials = _split_credentials(location)
        path = _file_path(bare)
        if path is None:
            return FindLinks(url=bare, origin=origin, credentials=credentials)
    else:
        if location.startswith("~"):
            home = environ.get("HOME") or str(Path.home())
            location = home + location[1:]
        path = project_dir / location
    if not path.exists():
        logger.debug("skipping find-links %s from %s: it does not exist", path, origin)
        return None
    return FindLinks(url=path.absolute().as_uri(), origin=origin)


def _usable_indexes(indexes: Sequence[IndexSource]) -> tuple[IndexSource, ...]:
    usable = []
    for index in _unique_by_url(indexes):
        path = _file_path(index.url)
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


def _file_path(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    return Path(urllib.request.url2pathname(parts.path))


# --------------------------------------------------------------------------- parsing


def project_of(filename: str) -> NormalizedName | None:
    """The normalized project name of a wheel or sdist file name, if it is one."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))


def parse_html_page(text: str, page_url: str) -> list[IndexFile]:
    """Parse a PEP 503 page (or a find-links page) whose address is *page_url*."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    files = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urllib.parse.urljoin(base, href).partition("#")
        url, _ = _split_credentials(url)
        hash_name, _, digest = fragment.partition("=")
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2])
        if not filename:
            continue
        yanked = "data-yanked" in attrs
        files.append(
            IndexFile(
                filename=filename,
                url=url,
                sha256=digest.lower() if hash_name.lower() == "sha256" and digest else None,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
            )
        )
    return files


def parse_json_page(data: bytes, page_url: str) -> list[IndexFile]:
    """Parse a PEP 691 JSON project page whose address is *page_url*."""
    try:
        page = json.loads(data)
        version = str(page["meta"]["api-version"])
        if version.split(".", maxsplit=1)[0] != "1":
            raise FetchError(
                f"{redact_url(page_url)} speaks simple API version {version}, not 1.x",
                hint="point the index URL at a PEP 503/691 simple index",
            )
        files = []
        for entry in page["files"]:
            hashes: dict[str, Any] = entry.get("hashes") or {}
            yanked = entry.get("yanked", False)
            url, _ = _split_credentials(urllib.parse.urljoin(page_url, str(entry["url"])))
            files.append(
                IndexFile(
                    filename=str(entry["filename"]),
                    url=url,
                    sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
                    requires_python=entry.get("requires-python") or None,
                    yanked=bool(yanked),
                    yanked_reason=yanked if isinstance(yanked, str) and yanked else None,
                )
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FetchError(
            f"{redact_url(page_url)} answered malformed PEP 691 JSON ({type(exc).__name__})",
            hint="check that the URL is a simple index, or report it to the index's owner",
        ) from None
    return files


# --------------------------------------------------------------------------- client


class _AuthHandler(urllib.request.BaseHandler):
    """Adds Basic auth per request host, redirects included, never across hosts."""

    handler_order = 400  # before the HTTP handlers send the request

    def __init__(self, lookup: Any) -> None:
        self._lookup = lookup

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        # An "unredirected" header is not copied when urllib follows a redirect, so a
        # redirect to another host never carries these credentials along.
        credentials = self._lookup(request.full_url)
        if credentials is not None:
            request.add_unredirected_header("Authorization", credentials.header())
        return request

    https_request = http_request


class IndexClient:
    """Reads project pages and opens downloads for one :class:`IndexSettings`.

    Project pages are remembered for the client's lifetime, so one client per fetch
    run reads each page once. Safe to share between threads.
    """

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self._netrc = _load_netrc(settings.netrc)
        self._credentials: dict[tuple[str, int | None], Credentials] = {}
        sources: tuple[IndexSource | FindLinks, ...] = (*settings.indexes, *settings.find_links)
        for source in sources:
            if source.credentials is not None:
                self._credentials.setdefault(_host_key(source.url), source.credentials)
        try:
            context = ssl.create_default_context(
                cafile=str(settings.cert) if settings.cert is not None else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the CA bundle {settings.cert}: {exc.strerror or exc}",
                hint="fix cert in pip.conf (or PIP_CERT), or remove it to use the system's",
            ) from None
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context), _AuthHandler(self.credentials_for)
        )
        self._lock = threading.Lock()
        self._pages: dict[tuple[str, str], tuple[threading.Lock, list[list[IndexFile]]]] = {}

    def credentials_for(self, url: str) -> Credentials | None:
        """Credentials for *url*: from a configured URL on that host, else netrc."""
        found = self._credentials.get(_host_key(url))
        if found is not None:
            return found
        host = urllib.parse.urlsplit(url).hostname
        if self._netrc is None or host is None:
            return None
        entry = self._netrc.authenticators(host)
        if entry is None:
            return None
        login, _, password = entry
        return Credentials(username=login, password=password or "")

    def project_files(self, source: IndexSource | FindLinks, name: str) -> list[IndexFile]:
        """The files of project *name* at *source*; empty if the project is not there.

        Raises :class:`FetchError` when the source cannot be read (HTTP errors other
        than 404/410, timeouts, refused connections, malformed pages).
        """
        project = canonicalize_name(name)
        key = (source.url, project)
        with self._lock:
            slot = self._pages.setdefault(key, (threading.Lock(), []))
        page_lock, memo = slot
        with page_lock:
            if not memo:
                memo.append(self._read_project_files(source, project))
            return list(memo[0])

    def _read_project_files(
        self, source: IndexSource | FindLinks, project: NormalizedName
    ) -> list[IndexFile]:
        if isinstance(source, IndexSource):
            return self._index_page(source, project)
        path = source.path
        if path is not None and path.is_dir():
            files = _folder_files(path)
        elif path is not None:
            files = parse_html_page(_read_local(path, source.origin), source.url)
        else:
            files = self._find_links_page(source)
        return [f for f in files if project_of(f.filename) == project]

    def _index_page(self, index: IndexSource, project: NormalizedName) -> list[IndexFile]:
        # Tolerate an IndexSource built by hand without the trailing slash.
        page_url = urllib.parse.urljoin(index.url.rstrip("/") + "/", f"{project}/")
        folder = _file_path(page_url)
        if folder is not None:
            # pip reads index.html from a file:// project folder; a bare folder of files
            # is accepted too.
            if (folder / "index.html").is_file():
                page = folder / "index.html"
                return parse_html_page(_read_local(page, index.origin), page.as_uri())
            return _folder_files(folder) if folder.is_dir() else []
        logger.debug("reading %s", page_url)
        result = self._get(page_url, accept=_ACCEPT_SIMPLE, origin=index.origin)
        if result is None:
            logger.debug("%s is not on %s", project, page_url)
            return []
        final_url, content_type, charset, body = result
        if content_type == _JSON_TYPE:
            return parse_json_page(body, final_url)
        return parse_html_page(body.decode(charset or "utf-8", "replace"), final_url)

    def _find_links_page(self, source: FindLinks) -> list[IndexFile]:
        with self._lock:
            slot = self._pages.setdefault((source.url, ""), (threading.Lock(), []))
        page_lock, memo = slot
        with page_lock:
            if not memo:
                result = self._get(source.url, accept="text/html", origin=source.origin)
                if result is None:
                    logger.warning("find-links %s from %s was not found", source.url, source.origin)
                    memo.append([])
                else:
                    final_url, _, charset, body = result
                    memo.append(
                        parse_html_page(body.decode(charset or "utf-8", "replace"), final_url)
                    )
            return memo[0]

    def _get(
        self, url: str, *, accept: str, origin: str
    ) -> tuple[str, str, str | None, bytes] | None:
        """GET a page: (final URL, content type, charset, body), or None on 404/410."""
        try:
            with self._open_http(url, accept=accept) as response:
                return (
                    response.geturl(),
                    response.headers.get_content_type(),
                    response.headers.get_content_charset(),
                    response.read(),
                )
        except _NotFound:
            return None
        except TimeoutError:
            raise self._timeout_error(url, origin) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._network_error(url, origin, exc) from None

    @contextmanager
    def open(self, url: str) -> Iterator[IO[bytes]]:
        """Open a file download for streaming; ``file://`` URLs are opened directly.

        Raises :class:`FetchError` (404 included); errors while reading the stream are
        :class:`OSError` and left to the caller, which knows what it was writing.
        """
        bare, credentials = _split_credentials(url)
        path = _file_path(bare)
        if path is not None:
            try:
                stream: IO[bytes] = path.open("rb")
            except OSError as exc:
                raise FetchError(
                    f"cannot read {path}: {exc.strerror}",
                    hint="check that the folder in your pip configuration still has the file",
                ) from None
            with stream:
                yield stream
            return
        if credentials is not None:
            with self._lock:
                self._credentials.setdefault(_host_key(bare), credentials)
        with ExitStack() as stack:
            try:
                response = stack.enter_context(self._open_http(bare, accept="*/*"))
            except _NotFound:
                raise FetchError(
                    f"{redact_url(bare)} answered 404 Not Found",
                    hint="the file has gone from that index; re-lock, or configure an index "
                    "that has it",
                ) from None
            except TimeoutError:
                raise self._timeout_error(bare, "the download URL") from None
            except (OSError, http.client.HTTPException) as exc:
                raise self._network_error(bare, "the download URL", exc) from None
            yield response

    @contextmanager
    def _open_http(self, url: str, *, accept: str) -> Iterator[Any]:
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            url, headers={"Accept": accept, "User-Agent": _USER_AGENT}
        )
        try:
            response = self._opener.open(request, timeout=self.settings.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                raise _NotFound from None
            raise
        with response:
            yield response

    def _timeout_error(self, url: str, origin: str) -> FetchError:
        return FetchError(
            f"{redact_url(url)} did not answer within {self.settings.timeout:g}s "
            f"(configured in {origin})",
            hint="check the network or proxy settings, or raise PIP_DEFAULT_TIMEOUT",
        )

    def _network_error(
        self, url: str, origin: str, exc: OSError | http.client.HTTPException
    ) -> FetchError:
        shown = redact_url(url)
        if isinstance(exc, urllib.error.HTTPError):
            if exc.code in (401, 403):
                host = urllib.parse.urlsplit(url).hostname
                return FetchError(
                    f"{shown} answered {exc.code} {exc.reason}: access denied "
                    f"(configured in {origin})",
                    hint=f"give credentials for {host} in ~/.netrc (machine {host}) or in "
                    "the index URL, and check they are still valid",
                )
            return FetchError(
                f"{shown} answered HTTP {exc.code} {exc.reason} (configured in {origin})",
                hint="the index may be down or the URL wrong; retry later or fix it",
            )
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return self._timeout_error(url, origin)
        if isinstance(reason, ssl.SSLError):
            return FetchError(
                f"TLS failed for {shown}: {redact_text(str(reason))}",
                hint="set cert in pip.conf (or PIP_CERT) to the CA bundle that signs the "
                "index's certificate",
            )
        return FetchError(
            f"cannot reach {shown} (configured in {origin}): {redact_text(str(reason))}",
            hint="check the URL, the network and proxy settings (https_proxy, no_proxy)",
        )


class _NotFound(Exception):
    """404 or 410: the project or file is not on this index."""


def _host_key(url: str) -> tuple[str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return (parts.hostname or "", port)


def _load_netrc(path: Path | None) -> netrc.netrc | None:
    if path is None or not path.is_file():
        return None
    try:
        return netrc.netrc(str(path))
    except netrc.NetrcParseError as exc:
        # The parser's message can quote a password: show only where it went wrong.
        raise ConfigError(
            f"cannot parse {path} near line {exc.lineno}",
            hint="fix the netrc file, or point NETRC at another one",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _read_local(path: Path, origin: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FetchError(
            f"cannot read {path} (configured in {origin}): {exc.strerror}",
            hint="fix or remove that entry in your pip configuration",
        ) from None


def _folder_files(folder: Path) -> list[IndexFile]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise FetchError(
            f"cannot list {folder}: {exc.strerror}",
            hint="fix or remove that find-links entry in your pip configuration",
        ) from None
    # No hash is recorded in a folder: the downloader hashes the file as it copies it.
    return [
        IndexFile(filename=entry.name, url=entry.absolute().as_uri(), sha256=None)
        for entry in entries
        if entry.is_file()
    ]
