"""Every key of ``[tool.containerize]``, declared once.

Each :class:`~containerize.declare.Option` below carries the key, its kind and bounds,
its default, the sources it may come from (the file always; a ``CONTAINERIZE_*``
variable when ``env``; a command-line flag when ``flag``), its help text, and the check
that turns its value into the ``Config`` record's field. The loader
(:mod:`containerize.config`), the command line (:mod:`containerize.cli`) and the
README's table of keys (:func:`readme_table`) are made from these declarations; the
nested tables declare their keys beside their checks (:mod:`containerize.staticfiles`,
:mod:`containerize.testsettings`, :mod:`containerize.syspackages`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from containerize import bases, servers, syspackages, valuechecks
from containerize.appspec import APP_EXPECTS, check_app, check_app_directory
from containerize.declare import Flag, Option, Values, by_key, check_keys
from containerize.errors import ConfigError
from containerize.staticfiles import STATIC_OPTIONS, check_static
from containerize.testsettings import (
    BURST_OPTIONS,
    PROBE_OPTIONS,
    SERVICE_OPTIONS,
    TEST_OPTIONS,
    check_test,
)
from containerize.writablepaths import check_writable

_ALL_PLATFORMS = "default: tool.containerize.platforms"
_BUILDER_HELP = "the buildx builder to use"


def check_targets(table: dict[str, Any], where: str, values: Values) -> tuple[str, ...]:
    """The names of ``[tool.containerize.targets]``, each a table of known keys (checked
    in full when the target is built: :mod:`containerize.workspace`)."""
    known = [o.key for o in OPTIONS if o.key != "targets"]
    for name, entry in table.items():
        if not _TARGET_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}.{name}: {name!r} is not a target name",
                hint="use lower-case letters, digits and '-', starting with a letter",
            )
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{where}.{name}: expected a table, got {entry!r}",
                hint=f'write [tool.containerize.targets.{name}] with app = "..."',
            )
        check_keys(entry, known, f"{where}.{name}")
    return tuple(sorted(table))


_TARGET_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")

#: ``preload``'s values, as the image's entrypoint reads them (``WSGI_PRELOAD`` too).
PRELOAD = ("auto", "on", "off")


def check_preload(text: str, where: str, values: Values) -> str:
    if text.lower() not in PRELOAD:
        raise ConfigError(
            f"{where}: {text!r} is not a preload setting",
            hint='write preload = "auto" (the default), "on" or "off"',
        )
    return text.lower()


OPTIONS: tuple[Option, ...] = (
    Option(
        key="app",
        kind="str",
        expects=APP_EXPECTS,
        default=None,
        default_text="required",
        check=check_app,
        hint='name the WSGI application, e.g. app = "myproject.wsgi:application"',
    ),
    Option(
        key="app-directory",
        kind="str",
        expects="the folder the application is imported and run from, relative to "
        "pyproject.toml ('site' for site/manage.py; '.' for the project's own folder)",
        default=".",
        env=True,
        check=check_app_directory,
    ),
    Option(
        key="image",
        kind="str",
        expects="an image repository without a tag, e.g. 'registry.example/team/app'",
        default=None,
        default_text="the project's name",
        env=True,
        check=valuechecks.image,
    ),
    Option(
        key="base-image",
        kind="str",
        expects="an image reference",
        default=bases.DEFAULT_SUITE.official(bases.DEFAULT_SUITE.python),
        env=True,
        check=valuechecks.base_image,
    ),
    Option(
        key="platforms",
        kind="list",
        expects="a list of 'os/arch' platforms",
        default=("linux/amd64", "linux/arm64"),
        env=True,
        flag=Flag(
            name="--platform",
            dest="platforms",
            metavar="OS/ARCH",
            action="append",
            commands=(
                ("doctor", None),
                ("wheelhouse", f"build for this platform only (repeatable); {_ALL_PLATFORMS}"),
                ("build", f"build for this platform only (repeatable); {_ALL_PLATFORMS}"),
                ("test", f"test on this platform only (repeatable); {_ALL_PLATFORMS}"),
                ("release", f"release for this platform only (repeatable); {_ALL_PLATFORMS}"),
            ),
        ),
        check=valuechecks.platforms,
    ),
    Option(
        key="servers",
        kind="list",
        expects=f"a list of server names ({', '.join(servers.names())})",
        default=("gunicorn",),
        env=True,
        flag=Flag(
            name="--server",
            dest="servers",
            metavar="NAME",
            action="append",
            commands=(
                ("build", None),
                (
                    "test",
                    "test this server's image only (repeatable); default: every configured server",
                ),
                ("release", None),
            ),
        ),
        check=valuechecks.server_names,
    ),
    Option(
        key="port",
        kind="int",
        expects="a TCP port, 1-65535",
        default=8000,
        low=1,
        high=65535,
        problem="not a TCP port",
    ),
    # The servers' defaults; each can also be set per container (WSGI_WORKERS, ...).
    Option(
        key="workers",
        kind="int",
        expects="worker processes, 1-1024 (default: 2 x the container's CPUs + 1, at most "
        "what its memory limit holds, at start)",
        default=None,
        default_text="2 x CPUs + 1, memory allowing",
        low=1,
        high=1024,
    ),
    Option(
        key="worker-memory",
        kind="int",
        expects="MiB one worker needs, 1-65536: under a memory limit, workers are at most "
        "(limit - the server's reserve) / this (default: the server's, measured, or 1.25 x "
        "what the build's import check measured the loaded app to hold, where more)",
        default=None,
        default_text="the server's (64; cheroot 2), or 1.25 x the app's",
        low=1,
        high=65536,
    ),
    Option(
        key="threads",
        kind="int",
        expects="threads per worker, 1-1024 (default: the server's own)",
        default=None,
        default_text="the server's",
        low=1,
        high=1024,
    ),
    Option(
        key="timeout",
        kind="int",
        expects="seconds a request may take, 1-86400",
        default=30,
        low=1,
        high=86400,
    ),
    Option(
        key="keep-alive",
        kind="int",
        expects="seconds an idle keep-alive connection stays open, 1-3600",
        default=5,
        low=1,
        high=3600,
    ),
    Option(
        key="grace-period",
        kind="int",
        expects="seconds in-flight requests get to finish after SIGTERM, 1-3600 (keep it "
        "below the engine's stop timeout, 10 s by default)",
        default=8,
        low=1,
        high=3600,
    ),
    Option(
        key="max-requests",
        kind="int",
        expects="requests a worker serves before it is replaced, against slow leaks, "
        "0-1000000000 (0: never)",
        default=0,
        low=0,
        high=10**9,
    ),
    Option(
        key="max-requests-jitter",
        kind="int",
        expects="up to this many more requests per worker, so that workers are not "
        "replaced all at once, 0-1000000000 (default: a tenth of max-requests)",
        default=None,
        default_text="max-requests / 10",
        low=0,
        high=10**9,
    ),
    Option(
        key="allowed-hosts",
        kind="list",
        expects="a list of host names ('example.com', '.example.com' for a domain and "
        "its subdomains, '*' for any)",
        default=("*",),
        check=valuechecks.allowed_hosts,
    ),
    Option(
        key="trusted-proxies",
        kind="list",
        expects="a list of proxies' IP addresses or CIDR networks ('10.0.0.0/8') whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed",
        default=(),
        default_text="none",
        check=valuechecks.trusted_proxies,
    ),
    Option(
        key="access-log",
        kind="str",
        expects="the access log's format on stdout: 'common', 'json' or 'off' (the same "
        "fields on every server: time, remote address, method, path, status, bytes, "
        "duration)",
        default="common",
        check=valuechecks.access_log,
    ),
    Option(
        key="preload",
        kind="str",
        expects="'auto', 'on' or 'off': load the app once in the server's master process "
        "and fork the workers from it ('on'), or load it in each worker ('off'); 'auto' "
        "preloads when the build's import check left no thread, socket or child process "
        "running (Gunicorn and uWSGI; mod_wsgi and cheroot load it once a process; see "
        "'Preloading the app')",
        default="auto",
        check=check_preload,
    ),
    Option(
        key="import-check",
        kind="bool",
        expects="true or false: import the app once at build time",
        default=True,
        env=True,
    ),
    Option(
        key="layer-budget",
        kind="int",
        expects="the most dependency layers an image gets, 1-100: large packages get "
        "layers of their own, the others share layers grouped by what is bumped together "
        "(see 'Layers')",
        default=20,
        low=1,
        high=100,
        env=True,
    ),
    Option(
        key="lock",
        kind="paths",
        expects="the path of the lock file (poetry.lock, uv.lock, pylock.toml, Pipfile.lock, "
        "pdm.lock or a hashed requirements.txt), or a list of requirements files read as "
        "one lock",
        default=None,
        default_text="found in the project",
        check=valuechecks.locks,
        field="locks",
    ),
    Option(key="groups", kind="list", expects="a list of dependency groups", default=("main",)),
    Option(key="extras", kind="list", expects="a list of extras", default=()),
    Option(key="include", kind="list", expects="a list of glob patterns", default=()),
    Option(key="exclude", kind="list", expects="a list of glob patterns", default=()),
    Option(
        key="writable",
        kind="list",
        expects="a list of paths relative to the app folder that the app's user may write "
        "('server.log' a file, 'media/' a folder; see 'Writable paths')",
        default=(),
        default_text="none: the app folder is read-only",
        check=check_writable,
    ),
    Option(
        key="build-dir",
        kind="str",
        expects="a folder for containerize's own output, inside the project",
        default=".containerize",
        env=True,
        check=valuechecks.build_dir,
    ),
    Option(
        key="uid",
        kind="int",
        expects="a user id, 1-2147483647",
        default=10001,
        low=1,
        high=2**31 - 1,
        check=valuechecks.user_id,
    ),
    Option(
        key="gid",
        kind="int",
        expects="a group id, 1-2147483647 (default: uid)",
        default=None,
        default_text="uid",
        low=1,
        high=2**31 - 1,
        check=valuechecks.group_id,
    ),
    Option(
        key="static",
        kind="table",
        expects="a table with 'url' (a URL prefix such as '/static/'), 'dir' (a folder of "
        "the app) and optionally 'command' (an argv run at build time that fills it)",
        default=None,
        check=check_static,
        hint='write static = { url = "/static/", dir = "staticfiles" }',
    ),
    Option(
        key="healthcheck-path",
        kind="str",
        expects="a URL path starting with '/' (a query string is fine; percent-encode "
        "spaces and control characters)",
        default="/",
        check=valuechecks.healthcheck_path,
    ),
    Option(
        key="test",
        kind="table",
        expects="a table of what 'containerize test' checks in each running image: "
        f"{', '.join(option.key for option in TEST_OPTIONS)}",
        default={},
        check=check_test,
        hint='write [tool.containerize.test] with keys such as size-budget = "150 MiB"',
    ),
    Option(
        key="targets",
        kind="table",
        expects="a table of target name = a table of keys of [tool.containerize] that "
        "this target sets over the others (app, app-directory, image, servers...): one "
        "image per target, built from this folder and its lock",
        default={},
        check=check_targets,
        hint='write [tool.containerize.targets.api] with app = "api.wsgi:application"',
    ),
    Option(
        key="env",
        kind="table",
        expects="a table of environment variables, set in every image",
        default={},
        check=valuechecks.env,
    ),
    Option(
        key="builder",
        kind="str",
        expects="a buildx builder name",
        default=None,
        env=True,
        flag=Flag(
            name="--builder",
            dest="builder",
            metavar="NAME",
            commands=(("doctor", None), ("build", _BUILDER_HELP), ("release", _BUILDER_HELP)),
        ),
    ),
    Option(
        key="cache",
        kind="str",
        expects="where BuildKit's cache is kept between builds: 'registry' (exported with "
        "mode=max to <image>:buildcache-<server>, and <image>:buildcache-compile for the "
        "compile build, and imported from there) or 'none' (the builder's own only); "
        "--cache-to and --cache-from win",
        default="none",
        env=True,
        check=valuechecks.cache,
    ),
    Option(
        key="share",
        kind="str",
        expects="'registry' to share downloaded files and compiled wheels between machines: "
        "pulled from <image>/containerize-cache before anything is downloaded or compiled, "
        "and what was made here pushed there (hash-checked OCI artifacts); or 'none'",
        default="none",
        env=True,
        check=valuechecks.share,
    ),
    Option(
        key="cache-from",
        kind="list",
        expects="a list of buildx cache sources",
        default=(),
        flag=Flag(
            name="--cache-from",
            dest="cache_from",
            metavar="SPEC",
            action="append",
            commands=(("build", None), ("release", None)),
        ),
    ),
    Option(
        key="cache-to",
        kind="list",
        expects="a list of buildx cache destinations",
        default=(),
        flag=Flag(
            name="--cache-to",
            dest="cache_to",
            metavar="SPEC",
            action="append",
            commands=(("build", None), ("release", None)),
        ),
    ),
    Option(
        key="source", kind="str", expects="the source repository's URL (OCI label)", default=None
    ),
    Option(
        key="tag-templates",
        kind="table",
        expects="a table of server name = a list of release tag templates, such as "
        "gunicorn = ['{version}', '{major}.{minor}', 'latest'] (placeholders {version}, "
        "{major}, {minor}, {server}, {sha})",
        default={},
        check=valuechecks.tag_templates,
    ),
    Option(
        key="python-version",
        kind="str",
        expects="the base image's Python as '3.X', for planning without an engine",
        default=bases.DEFAULT_SUITE.python_text,
        check=valuechecks.python_version,
    ),
    Option(
        key="libc",
        kind="str",
        expects="the base image's C library, 'glibc-2.36' or 'musl-1.2', for planning "
        "without an engine",
        default=bases.DEFAULT_SUITE.libc,
        check=valuechecks.libc,
    ),
    Option(
        key="system-packages",
        kind="table",
        expects="a table of Debian packages: 'build' (to compile sdists), 'run' (in every "
        "image), and 'sdists' (per Python package: { build = [...], run = [...] })",
        default=None,
        check=valuechecks.system_packages,
        hint='write system-packages = { build = ["libpq-dev"], run = ["libpq5"] }',
    ),
)

BY_KEY = by_key(OPTIONS)

#: The nested tables' keys, by the dotted prefix the README shows them under.
NESTED: tuple[tuple[str, tuple[Option, ...]], ...] = (
    ("static.", STATIC_OPTIONS),
    ("test.", TEST_OPTIONS),
    ("test.burst.", BURST_OPTIONS),
    ("test.probes[].", PROBE_OPTIONS),
    ("test.services.NAME.", SERVICE_OPTIONS),
    ("system-packages.", syspackages.OPTIONS),
    ("system-packages.sdists.NAME.", syspackages.SDIST_OPTIONS),
)


#: CONTAINERIZE_* variables that are not options: the download cache, the engine's
#: state folder (root provisioning), the test suite's golden-file switch, and the cell
#: a project's own tests run against (set by the test matrix for pytest).
OTHER_VARIABLES = (
    "CONTAINERIZE_CACHE_DIR",
    "CONTAINERIZE_ENGINE_DIR",
    "CONTAINERIZE_REGEN",
    "CONTAINERIZE_TEST_CELL",
)

#: The markers around the README's table of keys.
README_START = "<!-- options: made from containerize/options.py; a unit test keeps it so -->"
README_END = "<!-- /options -->"


def flags(command: str) -> Iterator[tuple[Option, Flag, str | None]]:
    """The options *command* takes a flag for, with the flag and its help there."""
    for option in OPTIONS:
        if option.flag is not None:
            for name, help_text in option.flag.commands:
                if name == command:
                    yield option, option.flag, help_text


def readme_table() -> str:
    """The README's table of every key, between its markers."""
    rows = [
        "| key | type | default | variable | flag | what it is |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for option in OPTIONS:
        rows.append(_row(option.key, option))
        for prefix, nested in NESTED:
            if prefix.split(".")[0] == option.key:
                rows.extend(_row(prefix + sub.key, sub) for sub in nested)
    return "\n".join([README_START, "", *rows, "", README_END])


def _row(key: str, option: Option) -> str:
    cells = [
        f"`{key}`",
        option.type_text,
        _code(option.default_shown()) if option.default_text is None else option.default_text,
        f"`{option.env_var}`" if option.env else "",
        f"`{option.flag.name}`" if option.flag else "",
        option.expects,
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _code(text: str) -> str:
    return f"`{text}`" if text else ""
