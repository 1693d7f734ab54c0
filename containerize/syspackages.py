"""System (Debian) packages that Python packages need to compile and to run.

Some dependencies ship only an sdist that compiles against a C library: psycopg2 needs
``pg_config`` from ``libpq-dev`` to build and ``libpq5`` at run time. Three sources
say which Debian packages an image needs, in this order:

declared
    ``[tool.containerize.system-packages]``: ``build`` and ``run`` for the whole
    project, and ``sdists.<name>`` (``build``, ``run``) for one Python package;
well-known
    :data:`WELL_KNOWN`, a short table of what popular sdists need to compile, used for
    a package only when the project declares nothing for it (``build = []`` turns
    an entry off);
derived
    after an sdist is compiled on its target platform, the shared libraries its
    extension modules link against (ELF ``DT_NEEDED``), mapped to the Debian packages
    that ship them (``dpkg -S``), minus what the base image has already. They are
    recorded with the compiled wheel (:mod:`containerize.image.compile`).

Build packages go into the compile build only; run packages into the images.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.utils import NormalizedName, canonicalize_name

from containerize.declare import Option, check_keys
from containerize.errors import ConfigError

# Debian policy: lowercase letters, digits, '+', '-', '.', starting alphanumeric, at
# least two characters; so a name is never read as an apt-get option.
DEBIAN_PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+")

#: What popular sdists need to compile on Debian 12 (bookworm), besides the compiler
#: and Python's headers (always installed when an sdist is compiled). Every name was
#: checked to exist in bookworm; the run-time libraries are derived, not listed here.
WELL_KNOWN: Mapping[NormalizedName, tuple[str, ...]] = {
    canonicalize_name(name): packages
    for name, packages in {
        "psycopg2": ("libpq-dev",),  # pg_config and libpq-fe.h
        "mysqlclient": ("default-libmysqlclient-dev", "pkg-config"),
        # libldap2-dev is only a transitional name for libldap-dev in bookworm.
        "python-ldap": ("libldap-dev", "libsasl2-dev"),
        "pycairo": ("libcairo2-dev", "pkg-config"),
        "lxml": ("libxml2-dev", "libxslt1-dev"),
        "cffi": ("libffi-dev",),
        "pillow": ("libjpeg62-turbo-dev", "zlib1g-dev"),
    }.items()
}

_WHERE = "tool.containerize.system-packages"
_NAMES = "a list of Debian package names"
#: The keys of each ``sdists`` entry.
SDIST_OPTIONS: tuple[Option, ...] = (
    Option(
        key="build",
        kind="list",
        expects=f"{_NAMES} to compile it",
        default=None,
        default_text="the well-known list's, if any",
    ),
    Option(key="run", kind="list", expects=f"{_NAMES} its wheel needs at run time", default=()),
)
#: The keys of the ``system-packages`` table.
OPTIONS: tuple[Option, ...] = (
    Option(key="build", kind="list", expects=f"{_NAMES} to compile any sdist", default=()),
    Option(key="run", kind="list", expects=f"{_NAMES} in every image", default=()),
    Option(
        key="sdists",
        kind="table",
        expects="per Python package: { build = [...], run = [...] }",
        default={},
    ),
)


@dataclass(frozen=True, kw_only=True)
class SdistPackages:
    """What the project declares for one Python package: *build* is None when it
    declares no build packages (the well-known table then applies)."""

    build: tuple[str, ...] | None = None
    run: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SystemPackages:
    """``[tool.containerize.system-packages]``, checked."""

    build: tuple[str, ...] = ()  # in every compile build
    run: tuple[str, ...] = ()  # in every image
    sdists: tuple[tuple[NormalizedName, SdistPackages], ...] = ()

    def declared(self, name: str) -> SdistPackages | None:
        """What the project declares for the Python package *name*, if anything."""
        return dict(self.sdists).get(canonicalize_name(name))


#: A project that declares nothing.
NONE = SystemPackages()


@dataclass(frozen=True, kw_only=True)
class BuildNeeds:
    """The Debian packages one sdist is compiled with, and where that list came from."""

    name: NormalizedName
    packages: tuple[str, ...]
    origin: str  # 'declared', 'well-known' or 'none'

    def line(self) -> str:
        """What a build prints about it, so a user can see and override it."""
        where = f"{_WHERE}.sdists.{self.name}.build"
        shown = ", ".join(self.packages) or "no system package"
        if self.origin == "declared":
            return f"{self.name}: compiled with {shown} besides the compiler (declared in {where})"
        return (
            f"{self.name}: compiled with {shown} besides the compiler (containerize's "
            f"well-known table; set {where} to override, [] for none)"
        )


def build_needs(name: str, declared: SystemPackages) -> BuildNeeds:
    """The Debian packages the sdist of *name* needs to compile, besides the toolchain
    and the project-wide ``build`` list."""
    key = canonicalize_name(name)
    own = declared.declared(key)
    if own is not None and own.build is not None:
        return BuildNeeds(name=key, packages=own.build, origin="declared")
    if key in WELL_KNOWN:
        return BuildNeeds(name=key, packages=WELL_KNOWN[key], origin="well-known")
    return BuildNeeds(name=key, packages=(), origin="none")


def run_needs(names: Iterable[str], declared: SystemPackages) -> tuple[str, ...]:
    """The declared run packages of an image holding the Python packages *names*."""
    packages = set(declared.run)
    for name in names:
        own = declared.declared(name)
        if own is not None:
            packages.update(own.run)
    return tuple(sorted(packages))


def check_name(package: object, where: str) -> str:
    """*package* if it is a Debian package name, else a :class:`ConfigError`."""
    if not isinstance(package, str) or not DEBIAN_PACKAGE_RE.fullmatch(package):
        raise ConfigError(
            f"{where}: {package!r} is not a Debian package name",
            hint="Debian package names are lowercase letters, digits, '+', '-' and '.', "
            "such as 'libpq-dev' (find one with 'apt-cache search' or 'apt-file search')",
        )
    return package


def parse(value: object, where: str = _WHERE) -> SystemPackages:
    """Check the ``system-packages`` table; every error names the key and the fix."""
    if value is None:
        return SystemPackages()
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a table, got {value!r}",
            hint='write system-packages = { build = ["libpq-dev"], run = ["libpq5"] }',
        )
    check_keys(value, (o.key for o in OPTIONS), where)
    sdists_table = value.get("sdists", {})
    if not isinstance(sdists_table, dict):
        raise ConfigError(
            f"{where}.sdists: expected a table of Python package = {{ build = [...], "
            f"run = [...] }}, got {sdists_table!r}",
            hint="write [tool.containerize.system-packages.sdists]\n"
            'psycopg2 = { build = ["libpq-dev"] }',
        )
    sdists: dict[NormalizedName, SdistPackages] = {}
    for name, entry in sdists_table.items():
        at = f"{where}.sdists.{name}"
        key = canonicalize_name(name)
        if key in sdists:
            raise ConfigError(f"{at}: {key} is declared twice", hint="keep one entry")
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{at}: expected a table with 'build' and/or 'run', got {entry!r}",
                hint=f'write {name} = {{ build = ["libfoo-dev"], run = ["libfoo1"] }}',
            )
        check_keys(entry, (o.key for o in SDIST_OPTIONS), at)
        build = _names(entry["build"], f"{at}.build") if "build" in entry else None
        sdists[key] = SdistPackages(build=build, run=_names(entry.get("run", []), f"{at}.run"))
    return SystemPackages(
        build=_names(value.get("build", []), f"{where}.build"),
        run=_names(value.get("run", []), f"{where}.run"),
        sdists=tuple(sorted(sdists.items())),
    )


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(
            f"{where}: expected a list of Debian package names, got {value!r}",
            hint='write e.g. ["libpq-dev"], or [] for none',
        )
    return tuple(sorted({check_name(item, f"{where}[{i}]") for i, item in enumerate(value)}))
