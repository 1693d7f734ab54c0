"""Whether the app ``containerize init`` proposes imports: once, in the build's check stage.

When an engine answers, init builds the ``app-SERVER`` stage of the image it proposes
(:mod:`containerize.image.dockerfile`): the stage a build runs ``containerize_wsgi.py
--check`` in, as the app's user, offline, with the test environment as a BuildKit
secret. One server (gunicorn when the table has it: the quickest venv), one platform
(the check platform, :func:`containerize.image.plan.check_platform`), no image kept:
the result stays in BuildKit's cache, which the first build then reuses.

The verdict is written above ``app`` in the table, verified or not and why, so a
reader of ``pyproject.toml`` knows whether anyone has seen the app import. A failed
import does not stop init: the table is written, marked unverified, with the error's
last line and the way out (the test environment, or another candidate). init does not
try the other candidates in turn: each try is a build, and a proposal that fails only
for want of a real setting is right, while a candidate that imports may be the wrong app.

This module decides and words; :func:`containerize.commands.setup.init` runs the build.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, replace

from containerize.config import Config
from containerize.engine import buildx
from containerize.errors import BuildError
from containerize.image import plan
from containerize.platforms import Platform

#: How the written table ends a "not verified" comment: what will check it.
CHECKED_BY = "'containerize build' checks it"
#: The width of the table's comment lines, after '# '.
_WIDTH = 86
#: The line containerize_wsgi.py --check prints when the app does not load.
_FAILED_RE = re.compile(r"containerize: the application (?P<app>.+?) failed to load: (?P<error>.+)")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether the app imported, as the table's comment above ``app`` and as printed."""

    verified: bool
    comment: str  # above app = ... in the table (one or more lines, without '#')
    lines: tuple[str, ...]  # what init prints


@dataclass(frozen=True, kw_only=True)
class Check:
    """What init builds to import the app: the configuration cut to one server and
    one platform, and the stage's name."""

    config: Config
    server: str
    platform: Platform

    @property
    def target(self) -> str:
        return f"app-{self.server}"

    def described(self) -> str:
        return f"the check stage of the {self.server} image, on {self.platform}"


def not_verified(reason: str) -> Verdict:
    """The app was not imported, for *reason* (``no engine answered``)."""
    return Verdict(
        verified=False,
        comment=_wrap(f"app not verified: {reason}; {CHECKED_BY}"),
        lines=(f"app: not verified: {reason}; {CHECKED_BY}",),
    )


def cannot_check(
    *, engine: bool, lock_step: str | None, base_step: str | None, import_check: bool
) -> str | None:
    """Why the app cannot be imported now, or None: the engine does not answer, there
    is no lock yet (*lock_step* makes it), the base image is not built (*base_step*
    builds it), or the table turns the check off."""
    if not engine:
        return "no engine answered"
    if lock_step is not None:
        return f"no lock yet ('{lock_step}' makes one)"
    if base_step is not None:
        return f"its base image is not built yet ('{base_step}' builds it)"
    if not import_check:
        return "import-check is off"
    return None


def check_for(config: Config, native_arch: str) -> Check:
    """The build that imports *config*'s app once: one server, the check platform, and
    no static command (the build's check step runs a Python one after the import:
    init verifies the import, and the build runs the command)."""
    server = "gunicorn" if "gunicorn" in config.servers else config.servers[0]
    platform = plan.check_platform(config.platforms, native_arch)
    static = None if config.static is None else replace(config.static, command=())
    return Check(
        config=replace(config, servers=(server,), platforms=(platform,), static=static),
        server=server,
        platform=platform,
    )


def invocation(check: Check, inv: buildx.BuildInvocation) -> buildx.BuildInvocation:
    """*inv*, the build of *check*'s server, stopped at its check stage: no tag, no
    image, no cache exported; the result stays in BuildKit's cache."""
    return replace(
        inv,
        target=check.target,
        tags=(),
        labels=(),
        output=buildx.Output(kind="cacheonly"),
        cache_to=(),
        metadata_file=None,
    )


def verified(check: Check, app: str) -> Verdict:
    what = f"{app} imported in {check.described()}, with the test environment"
    return Verdict(
        verified=True,
        comment=_wrap(f"app verified by containerize init: {what}"),
        lines=(f"app: verified: {what}",),
    )


def import_failed(check: Check, app: str, exc: BuildError, *, others: tuple[str, ...]) -> Verdict:
    """The verdict for a check build that failed in its check stage: *app* did not
    import. *others*: how to choose the other candidates init found (``--app X``)."""
    error = _error_line(exc)
    ways = [
        "give the settings it reads real values in [tool.containerize.test] env (or a "
        "file named by env-file): they are used by the import check and the tests only",
    ]
    ways += [f"or choose another candidate: {other}" for other in others]
    ways.append("or, if it cannot import without its services, set import-check = false")
    service = _service_named(check, error)
    if service is not None:
        # The import connects to a service: no value makes that work offline, at
        # build time, without the service; the matrix imports it beside the service.
        ways = [
            f"the import connects to {service}, a service the test matrix starts beside "
            "the app; the import check runs at build time, without network or services: "
            "set import-check = false in [tool.containerize] (each test cell still "
            f"imports the app, with {service} running)",
            *(f"or choose another candidate: {other}" for other in others),
        ]
    comment = "\n".join(
        [
            _wrap(f"app not verified: importing it failed in {check.described()}:"),
            f"  {error}",
            f"fix that, then {CHECKED_BY} again",
        ]
    )
    lines = (
        f"app: {app} did NOT import in {check.described()}:",
        f"  {error}",
        *([f"  cause: {exc.cause}"] if exc.cause else []),
        *(f"  {line}" for line in exc.lines[-8:] if line.strip() and line.strip() != error),
        "to fix it: " + "; ".join(ways[:1]),
        *(f"  {way}" for way in ways[1:]),
        "the table is written, marked unverified",
    )
    return Verdict(verified=False, comment=comment, lines=lines)


def _service_named(check: Check, error: str) -> str | None:
    """The test service whose host name *error* names ('could not translate host
    name "db"', "connecting to cache:6379", "MySQL server on 'db'")."""
    test = getattr(check.config, "test", None)
    for service in getattr(test, "services", ()):
        if re.search(rf"[\"' ]{re.escape(service.name)}[\"':]", error):
            return str(service.name)
    return None


def is_import_failure(check: Check, exc: BuildError) -> bool:
    """Whether *exc* is the check stage's import failing (not a step before it)."""
    return any(_FAILED_RE.search(line) for line in exc.lines) or (
        f"stage {check.target}" in exc.message
    )


def _wrap(text: str) -> str:
    """*text* in lines a comment in ``pyproject.toml`` holds (86 characters)."""
    return "\n".join(textwrap.wrap(text, _WIDTH, break_on_hyphens=False))


def _error_line(exc: BuildError) -> str:
    """The traceback's last line: ``KeyError: 'SECRET_KEY'``."""
    for line in exc.lines:
        if match := _FAILED_RE.search(line):
            return match["error"].strip()
    meaningful = [line.strip() for line in exc.lines if line.strip()]
    return meaningful[-1] if meaningful else exc.message.splitlines()[0]
