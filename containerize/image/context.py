"""The build context, assembled by containerize: only what the image needs.

The context holds the rendered Dockerfile and an ``app/`` folder with the
application's files: those of its app folder (``app-directory``), the project's own
folder by default. VCS data, environment files, virtual environments, caches and
tests never enter it. It is written next to its final place and renamed into it, so a
half-written context is never used.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from containerize.config import DEFAULT_EXCLUDES, Config
from containerize.errors import ConfigError
from containerize.fsutil import replacing_dir

# Lock and build files: installing them is the wheelhouse's job, not the app layer's.
_PROJECT_FILES = (
    "poetry.lock",
    "pylock.toml",
    "pylock.*.toml",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "pdm.lock",
    "requirements.txt",
    "requirements.in",
    "containerize.lock",
    "containerize-build.lock",
)


# Modules Python has imported before it runs any application (site imports os, io,
# codecs, ...): a package of the app with one of these names is never imported, as
# sys.modules already holds the standard library's.
_STARTUP_MODULES = frozenset(
    {"site", "os", "sys", "io", "abc", "codecs", "stat", "encodings", "posixpath", "builtins"}
)


@dataclass(frozen=True, kw_only=True)
class Context:
    """An assembled build context."""

    root: Path
    files: tuple[PurePosixPath, ...]  # relative to root / "app", and to the app folder

    @property
    def dockerfile(self) -> Path:
        return self.root / "Dockerfile"


def app_files(config: Config) -> tuple[PurePosixPath, ...]:
    """The application files that go into the image, relative to the app folder
    (``app-directory``), sorted. Nothing outside that folder goes in: the lock and
    ``pyproject.toml`` beside it are for building, not for running."""
    excludes = (*DEFAULT_EXCLUDES, *_PROJECT_FILES)
    root = config.app_root
    locks = {os.path.relpath(path, root) for path in config.locks}  # never in the image
    build_dir = config.build_dir.resolve()
    chosen: list[PurePosixPath] = []
    for path in _walk(root, excludes, build_dir):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if config.include and not any(_matches(relative, pattern) for pattern in config.include):
            continue
        if any(_matches(relative, pattern) for pattern in config.exclude) or str(relative) in locks:
            continue
        chosen.append(relative)
    chosen = _without_the_project_file(config, chosen)
    if not chosen:
        raise ConfigError(
            f"no application files to put in the image from {root}",
            hint="check tool.containerize.include and exclude (relative to app-directory)",
        )
    wanted = config.app.files()
    if not any(PurePosixPath(name) in chosen for name in wanted):
        inside = "" if config.app_directory == PurePosixPath(".") else f" in {root}"
        raise ConfigError(
            f"tool.containerize.app: {str(config.app)!r} is not among the files that go "
            f"into the image (looked for {' and '.join(wanted)}{inside})",
            hint="fix app (relative to app-directory), or include the file in "
            "tool.containerize.include",
        )
    top = (config.app.module or "").partition(".")[0]
    if top in _STARTUP_MODULES:
        raise ConfigError(
            f"tool.containerize.app: {str(config.app)!r} starts with {top!r}, the name of "
            f"the standard library's {top} module, which Python imports before any "
            f"application: the app's own {top}/ is never imported",
            hint=f"rename the app's package {top}/ (Django's startproject refuses the "
            "name for this reason), and app with it",
        )
    static = config.static
    if static and not static.command:
        folder = PurePosixPath(static.dir)
        if not any(folder in path.parents for path in chosen):
            raise ConfigError(
                f"tool.containerize.static.dir: no files under {static.dir!r} go into the image",
                hint="fix dir, include the folder, or give static.command to make it at build time",
            )
    return tuple(sorted(chosen))


def _without_the_project_file(config: Config, chosen: list[PurePosixPath]) -> list[PurePosixPath]:
    """*chosen* without the project's ``pyproject.toml``, which is for building and
    holds the test settings (``[tool.containerize.test]``: variables, services'
    passwords) that must never reach an image. It goes in only when ``include`` names
    it, and then only when it holds none of them."""
    own = PurePosixPath(os.path.relpath(config.project_dir / "pyproject.toml", config.app_root))
    if own not in chosen:
        return chosen
    if not any(_matches(own, pattern) for pattern in config.include):
        return [path for path in chosen if path != own]
    test = config.test
    if test.env or any(service.env or service.app_env for service in test.services):
        raise ConfigError(
            f"tool.containerize.include: {own} goes into the image, and its "
            "[tool.containerize.test] holds variables (env, or a service's env or app-env) "
            "that must never be baked into an image",
            hint="move those values to a dotenv file named by tool.containerize.test.env-file "
            "(never copied into an image), or drop pyproject.toml from include",
        )
    return chosen


def assemble(
    dockerfile: str,
    *,
    app_root: Path,
    files: tuple[PurePosixPath, ...],
    dest: Path,
    extra: Mapping[str, bytes] | None = None,
) -> Context:
    """Write the context into *dest*, atomically replacing what was there: *files*
    (:func:`app_files`) from the app folder *app_root*, and the Dockerfile.

    *extra* holds containerize's own files (entrypoint, server settings) by path.
    """
    with replacing_dir(dest) as staging:
        for name, data in (extra or {}).items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o644)
        for relative in files:
            target = staging / "app" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(app_root / relative, target)
            # Same modes for everyone: readable by the app user, writable only by root.
            mode = 0o755 if os.access(app_root / relative, os.X_OK) else 0o644
            target.chmod(mode)
        (staging / "Dockerfile").write_text(dockerfile)
    return Context(root=dest, files=files)


def _walk(root: Path, excludes: Sequence[str], skip: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not _excluded(name, excludes) and (here / name).resolve() != skip
        )
        for name in sorted(filenames):
            path = here / name
            if not _excluded(name, excludes) and path.is_file():
                yield path


def _excluded(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _matches(path: PurePosixPath, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    return (
        fnmatch.fnmatchcase(str(path), pattern)
        or fnmatch.fnmatchcase(path.name, pattern)
        or path.match(pattern)
        or any(str(parent) == pattern for parent in path.parents)
    )
