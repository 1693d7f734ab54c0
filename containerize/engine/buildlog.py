"""Reading a failed build's BuildKit log (``--progress=plain``) into a short summary.

BuildKit's plain log interleaves every step (a *vertex*): ``#12 [linux/arm64 compile
3/5] RUN ...`` names one, ``#12 4.031 text`` is a line of its output, ``#12 ERROR:
...`` says it failed. :func:`summarize` finds the failing step, names its stage and
platform (and the sdist being compiled, from the line ``wheels.py build`` prints
before each), keeps the step's last meaningful lines without BuildKit's prefixes, and
matches them against :data:`DIAGNOSES`: failures whose fix is known, such as a
missing ``pg_config`` or header file (a system package to declare), a missing
compiler, or a server (or any package) that imports ``pkg_resources`` from a lock
without setuptools.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

_VERTEX_RE = re.compile(
    r"^#(?P<id>\d+) \[(?:(?P<platform>[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?) )?"
    r"(?P<stage>[^\s\]]+)(?: (?P<step>\d+/\d+))?\] (?P<text>.*)$"
)
_LINE_RE = re.compile(r"^#(?P<id>\d+) (?:\d+\.\d+ )(?P<text>.*)$")
_ERROR_RE = re.compile(r"^#(?P<id>\d+) ERROR: (?P<text>.*)$")
_COMPILING_RE = re.compile(r"^containerize: compiling (?P<sdist>\S+)$")
# pip's and the step script's own closing words: true, but they bury the cause.
_NOISE_RE = re.compile(
    r"^(?:note: This error originates from a subprocess|hint: See above for|"
    r"ERROR: Failed to build|ERROR: Failed building wheel|ERROR: Could not build wheels|"
    r"error: subprocess-exited-with-error|error: failed-wheel-build-for-install|"
    r"╰─> See above for output|[│║ ]*$|full command: |cwd: |"
    r"Building wheel for \S+ \(.*\): (?:started|finished with status 'error')|"
    r"\[end of output\]|error: metadata-generation-failed|"
    r"\u00d7 Encountered error while|╰─> from file://|note: This is an issue with the package|"
    r"containerize: error: building a wheel from .* failed|"
    r"containerize: fix it, or set tool\.containerize\.import-check)"
)
_SHOWN = 12

#: Headers a C compiler failed to find, by file name (or folder), and the Debian
#: package (bookworm) that ships them.
HEADERS = {
    "Python.h": "python3-dev",
    "libpq-fe.h": "libpq-dev",
    "pg_config.h": "libpq-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "ldap.h": "libldap-dev",
    "lber.h": "libldap-dev",
    "sasl/sasl.h": "libsasl2-dev",
    "cairo.h": "libcairo2-dev",
    "ffi.h": "libffi-dev",
    "openssl/": "libssl-dev",
    "libxml/": "libxml2-dev",
    "libxslt/": "libxslt1-dev",
    "zlib.h": "zlib1g-dev",
    "jpeglib.h": "libjpeg62-turbo-dev",
    "yaml.h": "libyaml-dev",
    "apr.h": "libapr1-dev",
    "httpd.h": "apache2-dev",
}
#: Commands a build failed to find, and the Debian package that ships them.
COMMANDS = {
    "pg_config": "libpq-dev",
    "mysql_config": "default-libmysqlclient-dev",
    "mariadb_config": "libmariadb-dev",
    "pkg-config": "pkg-config",
    "xml2-config": "libxml2-dev",
    "xslt-config": "libxslt1-dev",
    "apxs": "apache2-dev",
    "apxs2": "apache2-dev",
}
_COMPILERS = ("gcc", "cc", "g++", "c++", "x86_64-linux-gnu-gcc", "aarch64-linux-gnu-gcc")


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """What a failure means and how to fix it; *package*: a Debian package to declare."""

    cause: str
    package: str | None = None
    fix: str | None = None


@dataclass(frozen=True, kw_only=True)
class Failure:
    """The failing step of a build, as far as its log tells."""

    stage: str | None
    platform: str | None
    step: str | None  # the instruction, shortened
    sdist: str | None  # the sdist being compiled when it failed
    lines: tuple[str, ...]
    diagnosis: Diagnosis | None

    @property
    def python_package(self) -> str | None:
        """The Python package name of :attr:`sdist`."""
        if self.sdist is None:
            return None
        try:
            return str(parse_sdist_filename(self.sdist)[0])
        except InvalidSdistFilename:
            return None


def _header(match: re.Match[str]) -> Diagnosis:
    header = match["header"]
    package = HEADERS.get(header) or next(
        (pkg for key, pkg in HEADERS.items() if key.endswith("/") and header.startswith(key)),
        None,
    )
    fix = None if package else f"find the package that ships it with 'apt-file search {header}'"
    return Diagnosis(
        cause=f"the C header {header} is missing: its -dev package is not installed",
        package=package,
        fix=fix,
    )


def _command(match: re.Match[str]) -> Diagnosis:
    command = match["command"] or match["missing"]
    if command in _COMPILERS:
        return _compiler(match)
    return Diagnosis(
        cause=f"the build runs {command}, which is not installed",
        package=COMMANDS.get(command),
        fix=None if command in COMMANDS else f"find it with 'apt-file search bin/{command}'",
    )


def _compiler(match: re.Match[str]) -> Diagnosis:
    return Diagnosis(
        cause="the sdist needs a C compiler, which the build step does not have",
        package="gcc",
    )


def _library(match: re.Match[str]) -> Diagnosis:
    library = match["library"]
    return Diagnosis(
        cause=f"the shared library {library} is not installed where the step runs",
        fix=f"declare the Debian package that ships it as a run package: "
        f'[tool.containerize.system-packages] run = ["..."] (find it with '
        f"'apt-file search {library}')",
    )


def _pkgconfig(match: re.Match[str]) -> Diagnosis:
    name = match["pc"]
    return Diagnosis(
        cause=f"pkg-config cannot find {name}: its -dev package is not installed",
        fix=f"find the package that ships {name}.pc with 'apt-file search {name}.pc'",
    )


def _apt(match: re.Match[str]) -> Diagnosis:
    return Diagnosis(
        cause=f"apt cannot find the Debian package {match['name']!r} in the base image's "
        "package sources",
        fix="check the name in tool.containerize.system-packages (it must exist in the base "
        "image's Debian release: 'apt-cache policy NAME' there)",
    )


def _rust(match: re.Match[str]) -> Diagnosis:
    return Diagnosis(
        cause="the sdist needs a Rust compiler",
        fix="use a version of the package that ships a wheel for this platform (compiling "
        "Rust offline also needs its crates), or a base image that has one",
    )


def _permission(match: re.Match[str]) -> Diagnosis:
    path = match["path"]
    # A relative path is the working directory's: the app folder, where the import check
    # and the servers run; the app's user owns nothing in the image but /tmp and its home.
    in_app = not path.startswith("/") or path.startswith("/app/")
    where = (
        f"cannot write {path!r} in the app folder (its working directory, owned by root)"
        if in_app
        else f"cannot write {path!r}"
    )
    elsewhere = (
        f"make the app write {path!r} under /tmp or a mounted volume (a path it reads from "
        "the environment), or turn the file off where the app has a switch for it (such as "
        "LOG_TO_STDOUT=1, in [tool.containerize.env] for every image or "
        "[tool.containerize.test] env for the check alone)"
    )
    if not in_app:
        return Diagnosis(
            cause=f"the app's user (not root: tool.containerize.uid) {where}",
            fix=elsewhere + "; or, if the app cannot load without writing there, set "
            "tool.containerize.import-check = false",
        )
    entry = writable_entry(path)
    return Diagnosis(
        cause=f"the app's user (not root: tool.containerize.uid) {where}",
        fix=f'let the app\'s user write that path alone: writable = ["{entry}"] in '
        "[tool.containerize] (paths relative to the app folder; a folder, with a trailing "
        "'/', for files the app creates in it); or " + elsewhere + ". import-check = false "
        "would only move the failure to the container's start",
    )


def writable_entry(path: str) -> str:
    """What ``tool.containerize.writable`` lists for *path*, which the app could not
    write: a file of the app folder itself; else the folder that holds it (where the
    app may also create it, or rotate it); a name without a suffix is taken for a
    folder (``os.mkdir('logs')``). Relative to /app (the app folder without
    app-directory)."""
    relative = path.removeprefix("/app/").removeprefix("./").strip("/")
    folder, _, name = relative.rpartition("/")
    if "." not in name:
        return relative + "/"
    return folder + "/" if folder else name


#: The fix's last resort when a package needs pkg_resources: buildlog does not know the
#: project's lock tool, so it names the step every tool has.
_ADD_SETUPTOOLS = (
    "add setuptools (it provides pkg_resources) to your dependencies and re-lock, "
    "so that the lock pins it"
)


def _server_pkg_resources(match: re.Match[str]) -> Diagnosis:
    server, version = match["server"], match["version"]
    return Diagnosis(
        cause=f"the server {server} {version} imports pkg_resources, which comes with "
        "setuptools, and the lock pins no setuptools: the container could not start it",
        fix=f"let containerize's own pin of {server} be used (it needs no pkg_resources): "
        f"drop {server} from the project's dependencies and re-lock (or upgrade it to a "
        f"version that does not import pkg_resources); or {_ADD_SETUPTOOLS}",
    )


def _pkg_resources(match: re.Match[str]) -> Diagnosis:
    return Diagnosis(
        # Also seen in a container's start log (the test matrix) and, rarely, in an sdist's
        # build: the wording holds in all three.
        cause="a package imports pkg_resources, which comes with setuptools, and no "
        "setuptools is installed where it runs (the lock pins none)",
        fix="upgrade that package (the traceback names its file) to a version that does not "
        f"import pkg_resources, and re-lock; or {_ADD_SETUPTOOLS}",
    )


#: Known failures, matched against the failing step's lines, first match wins.
DIAGNOSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Diagnosis]], ...] = (
    # containerize_wsgi.py --check's line for a server that does not import, before the
    # traceback's own line (which any package's missing pkg_resources shows).
    (
        re.compile(
            r"containerize: the server, (?P<server>\S+) (?P<version>\S+), cannot be "
            r"imported: No module named '?pkg_resources'?"
        ),
        _server_pkg_resources,
    ),
    (re.compile(r"No module named '?pkg_resources'?"), _pkg_resources),
    (re.compile(r"(?P<command>pg_config) executable not found"), _command),
    (re.compile(r"fatal error: (?P<header>[\w/.+-]+\.h): No such file or directory"), _header),
    (re.compile(r"E: Unable to locate package (?P<name>\S+)"), _apt),
    (
        re.compile(
            r"(?:command '|unable to execute '?)(?:/usr/bin/)?"
            r"(?P<command>[\w.+-]*(?:gcc|cc|\+\+))'?(?: failed)?: No such file or directory"
        ),
        _compiler,
    ),
    (
        re.compile(
            r"(?P<command>" + "|".join(re.escape(c) for c in COMMANDS) + r")['\"]?:? "
            r"(?:not found|command not found|No such file or directory)"
            r"|No such file or directory: '(?P<missing>"
            + "|".join(re.escape(c) for c in COMMANDS)
            + r")'"
        ),
        _command,
    ),
    (
        re.compile(r"(?P<library>[\w.+-]+\.so[\w.]*): cannot open shared object file"),
        _library,
    ),
    # cffi's dlopen by name (WeasyPrint's GObject and Pango, for one): no '.so' in it.
    (re.compile(r"cannot load library '(?P<library>[^']+)'"), _library),
    (
        re.compile(
            r"Package '?(?P<pc>[\w.+-]+)'?,? (?:required by .*, )?"
            r"(?:not found|was not found in the pkg-config search path)"
        ),
        _pkgconfig,
    ),
    (re.compile(r"can't find Rust compiler|error: cargo (?:rustc )?failed"), _rust),
    (
        re.compile(r"PermissionError: \[Errno 13\] Permission denied: '(?P<path>[^']+)'"),
        _permission,
    ),
)


def strip(line: str) -> str | None:
    """*line* without BuildKit's ``#N 1.234`` prefix; None for BuildKit's own lines."""
    match = _LINE_RE.match(line)
    return match["text"] if match else None


def summarize(log: str, platforms: Sequence[str] = ()) -> Failure | None:
    """The failing step of *log* (a plain-progress BuildKit log); None if none failed.

    *platforms*: the build's, to name the platform when BuildKit does not (a build
    for one platform).
    """
    names: dict[str, re.Match[str]] = {}
    output: dict[str, list[str]] = {}
    failed: str | None = None
    for raw in log.splitlines():
        line = raw.rstrip()
        if match := _VERTEX_RE.match(line):
            names.setdefault(match["id"], match)
        elif match := _ERROR_RE.match(line):
            failed = failed or match["id"]
        elif match := _LINE_RE.match(line):
            output.setdefault(match["id"], []).append(match["text"])
    if failed is None:
        return None
    vertex = names.get(failed)
    lines = output.get(failed, [])
    sdist = None
    for i, line in enumerate(lines):
        if match := _COMPILING_RE.match(line):
            sdist, start = match["sdist"], i
    if sdist is not None:
        lines = lines[start:]
    diagnosis, at = diagnose(lines)
    meaningful = [line.strip() for line in lines if not _NOISE_RE.match(line.strip())]
    if at is not None:
        # From the line that says what went wrong; else the step's last lines.
        cause = lines[at].strip()
        meaningful = meaningful[meaningful.index(cause) :] if cause in meaningful else meaningful
    platform = vertex["platform"] if vertex else None
    if platform is None and len(platforms) == 1:
        platform = platforms[0]
    return Failure(
        stage=vertex["stage"] if vertex else None,
        platform=platform,
        step=_shorten(vertex["text"]) if vertex else None,
        sdist=sdist,
        lines=tuple(meaningful[:_SHOWN] if at is not None else meaningful[-_SHOWN:]),
        diagnosis=diagnosis,
    )


def diagnose(lines: Sequence[str]) -> tuple[Diagnosis | None, int | None]:
    """The first known failure *lines* show, and the index of the line that shows it."""
    for pattern, explain in DIAGNOSES:
        for i, line in enumerate(lines):
            if match := pattern.search(line):
                return explain(match), i
    return None, None


def _shorten(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
