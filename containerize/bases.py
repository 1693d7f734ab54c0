"""The base images containerize knows, by the Python they carry.

Two families fit an image's needs (glibc, a ``python3`` on PATH, ``venv``):

* the Debian suites ``containerize base-image`` builds from Debian's own packages into
  the loopback registry, for machines that cannot pull an image: each suite ships one
  Python (:data:`SUITES`);
* the official ``python:3.X-slim-<suite>`` images, for machines that can pull them.

:func:`fitting` names, for a Python constraint (a lock's ``requires-python``), every
image of both families that satisfies it, so that an error can say which base to use
and how to get it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from packaging.specifiers import SpecifierSet

from containerize.errors import ConfigError

#: Where ``containerize base-image`` pushes the images it builds.
LOCAL_REPOSITORY = "127.0.0.1:5000/containerize/python"
#: The Python versions containerize builds images for (its own server and tool locks
#: hold wheels for these), each with an official slim image on every suite below.
SUPPORTED_PYTHONS: tuple[tuple[int, int], ...] = ((3, 10), (3, 11), (3, 12), (3, 13))
# Patch releases tried against a constraint such as '>=3.11.4': a version counts when
# one of its patch releases fits, as an image's Python is its line's latest.
_PATCHES = range(30)


@dataclass(frozen=True, kw_only=True)
class Suite:
    """A Debian release ``containerize base-image`` can build a Python image from."""

    name: str  # the codename apt knows it by
    release: int  # Debian's version number
    python: tuple[int, int]  # the version of its python3 package
    libc: str  # as tool.containerize.libc spells it

    @property
    def python_text(self) -> str:
        return version_text(self.python)

    @property
    def libc_version(self) -> tuple[Literal["glibc", "musl"], tuple[int, int]]:
        """:attr:`libc` as a name and an (X, Y) version: ``("glibc", (2, 36))``."""
        name, _, version = self.libc.partition("-")
        major, _, minor = version.partition(".")
        return ("musl" if name == "musl" else "glibc", (int(major), int(minor)))

    @property
    def tag(self) -> str:
        return f"{self.python_text}-{self.name}"

    @property
    def local_ref(self) -> str:
        """The image ``containerize base-image`` builds from this suite."""
        return f"{LOCAL_REPOSITORY}:{self.tag}"

    @property
    def build_command(self) -> str:
        """The command that builds :attr:`local_ref`."""
        if self == DEFAULT_SUITE:
            return "containerize base-image"
        return f"containerize base-image --python {self.python_text}"

    def official(self, python: tuple[int, int]) -> str:
        """The official slim image of *python* on this suite."""
        return f"python:{version_text(python)}-slim-{self.name}"


#: Known suites, oldest first. The first is the default: the one the tests and CI use.
SUITES: tuple[Suite, ...] = (
    Suite(name="bookworm", release=12, python=(3, 11), libc="glibc-2.36"),
    Suite(name="trixie", release=13, python=(3, 13), libc="glibc-2.41"),
)
DEFAULT_SUITE = SUITES[0]


def known_text() -> str:
    """``bookworm (Python 3.11), trixie (Python 3.13)``."""
    return ", ".join(f"{s.name} (Python {s.python_text})" for s in SUITES)


def by_name(name: str) -> Suite:
    """The suite called *name*; an unknown name is an error naming the known ones."""
    for suite in SUITES:
        if suite.name == name:
            return suite
    close = difflib.get_close_matches(name, [s.name for s in SUITES], n=1)
    raise ConfigError(
        f"unknown Debian suite {name!r}"
        + (f" (did you mean {close[0]!r}?)" if close else "")
        + f"; containerize builds base images from: {known_text()}",
        hint="choose one of those with --suite, or a Python with --python",
    )


def by_python(text: str) -> Suite:
    """The suite whose Python is *text* (``3.13``); errors name the known ones."""
    match = re.fullmatch(r"(\d+)\.(\d+)", text.strip())
    if match is None:
        raise ConfigError(
            f"--python {text!r} is not a Python version",
            hint="write major.minor, for example '--python 3.13'",
        )
    version = (int(match[1]), int(match[2]))
    for suite in SUITES:
        if suite.python == version:
            return suite
    officials = [s.official(version) for s in SUITES] if version in SUPPORTED_PYTHONS else []
    raise ConfigError(
        f"no Debian suite containerize builds base images from ships Python {text}; "
        f"known: {known_text()}",
        hint=(
            f"set base-image to {' or '.join(officials)} where that registry can be reached, "
            "or choose one of the Pythons above"
            if officials
            else "choose one of the Pythons above"
        ),
    )


def choose(*, suite: str | None = None, python: str | None = None) -> Suite:
    """The suite named by *suite* or carrying *python*; the default when neither is given."""
    if suite is not None and python is not None:
        by_suite, by_version = by_name(suite), by_python(python)
        if by_suite != by_version:
            raise ConfigError(
                f"--suite {suite} has Python {by_suite.python_text}, not {python}",
                hint="give one of --suite and --python",
            )
        return by_suite
    if suite is not None:
        return by_name(suite)
    if python is not None:
        return by_python(python)
    return DEFAULT_SUITE


def allows(specifier: SpecifierSet, version: tuple[int, int]) -> bool:
    """Whether some patch release of *version* satisfies *specifier*."""
    return any(specifier.contains(f"{version_text(version)}.{patch}") for patch in _PATCHES)


@dataclass(frozen=True, kw_only=True)
class Fitting:
    """The base images whose Python satisfies a constraint."""

    local: tuple[Suite, ...]  # built by 'containerize base-image'
    official: tuple[str, ...]  # pulled from Docker Hub

    def hint(self) -> str:
        """How to choose one: each image, the command that builds a local one, the key."""
        if not self.local and not self.official:
            return "no base image containerize knows fits; change requires-python and re-lock"
        parts = [f"{s.local_ref} (built here by '{s.build_command}')" for s in self.local]
        if self.official:
            parts.append(f"where Docker Hub can be reached, {', '.join(self.official)}")
        return (
            "set base-image in [tool.containerize] (or CONTAINERIZE_BASE_IMAGE) to a base "
            "with a Python that fits: " + "; ".join(parts) + "; or change requires-python "
            "and re-lock"
        )


def fitting(specifier: SpecifierSet) -> Fitting:
    """The known base images with a Python that *specifier* allows, newest Python last."""
    return Fitting(
        local=tuple(s for s in SUITES if allows(specifier, s.python)),
        official=tuple(
            suite.official(version)
            for version in SUPPORTED_PYTHONS
            if allows(specifier, version)
            for suite in SUITES
        ),
    )


_OFFICIAL = re.compile(r"(?:docker\.io/)?(?:library/)?python:(\d+)\.(\d+)(?:[.-].*)?")


def unreachable_hint(ref: str) -> str:
    """What to do when *ref* cannot be resolved: for a base ``containerize base-image``
    builds, the command that builds it; for an official ``python:X.Y-...`` image, the
    base ``containerize base-image`` builds with that Python, or the ones it builds
    when none has it."""
    generic = "check tool.containerize.base-image and that its registry is reachable"
    built_here = [s for s in SUITES if s.local_ref == ref.strip()]
    if built_here:
        # The loopback registry answers, but 'containerize base-image' has not made
        # this one yet (a fresh machine, or a registry that was emptied).
        return f"'{built_here[0].build_command}' builds it here from Debian's packages"
    match = _OFFICIAL.fullmatch(ref.strip())
    if match is None:
        return generic
    python = (int(match[1]), int(match[2]))
    same = [s for s in SUITES if s.python == python]
    if same:
        return (
            f"{generic}; where it cannot be, set base-image to {same[0].local_ref}, which "
            f"'{same[0].build_command}' builds here from Debian's packages"
        )
    return (
        f"{generic}; no base containerize builds here has Python {version_text(python)} "
        f"({known_text()}): 'containerize base-image --python X.Y' builds one of those, then "
        "set base-image and python-version to it (a lock's requires-python must allow it)"
    )


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
