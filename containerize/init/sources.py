"""The project's Python sources as ``containerize init`` reads them: parsed, never run.

:class:`Sources` walks the project once (a few folders deep, skipping what never goes
into an image: virtual environments, tests, caches), then parses files on demand and
keeps them. Each file gets a module name the way Python would import it: up through
the folders that hold an ``__init__.py``; the folder above the topmost package is the
file's *import root* (the project itself, ``src`` in a src layout, ``site`` for a
Django project kept in a subfolder).
"""

from __future__ import annotations

import ast
import fnmatch
import keyword
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from containerize.config import DEFAULT_EXCLUDES

#: Folders below the project that are searched: ``src/pkg/sub/wsgi.py`` is 3 deep.
MAX_DEPTH = 4
#: Files looked at, at most: a project with more is searched in part (and says so).
MAX_FILES = 5000
#: Larger files are generated code or data, not an application's entry point.
MAX_BYTES = 1_000_000
#: Besides the image's default excludes: installed packages, front-end dependencies.
_SKIPPED_FOLDERS = (*DEFAULT_EXCLUDES, "site-packages", "node_modules", "__pypackages__", ".*")
ROOT = PurePosixPath(".")


@dataclass(frozen=True, kw_only=True)
class SourceFile:
    """One parsed file of the project."""

    path: PurePosixPath  # relative to the project
    text: str
    tree: ast.Module
    import_root: PurePosixPath  # the folder its module name starts from
    module: str | None  # the dotted name under import_root; None: not importable

    @property
    def package(self) -> str:
        """The package relative imports in this file start from."""
        if self.module is None:
            return ""
        if self.path.name == "__init__.py":
            return self.module
        return self.module.rpartition(".")[0]


class Sources:
    """The project's ``.py`` (and ``.wsgi``) files, parsed when first asked for."""

    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.paths, self.truncated = _walk(project_dir)
        #: ``.ini`` files, read as text (Paste Deploy configurations among them).
        self.ini_paths = tuple(path for path in self.paths if path.suffix == ".ini")
        self.paths = tuple(path for path in self.paths if path.suffix != ".ini")
        self.unparsable: list[str] = []
        self._parsed: dict[PurePosixPath, SourceFile | None] = {}

    def containing(self, *words: str) -> Iterator[SourceFile]:
        """The parsable files whose text holds one of *words*, in path order."""
        for path in self.paths:
            source = self.get(path)
            if source is not None and any(word in source.text for word in words):
                yield source

    def read_text(self, path: PurePosixPath) -> str | None:
        """The text of the file at *path* (project-relative); None if unreadable."""
        file = self.project_dir / path
        try:
            if not file.is_file() or file.stat().st_size > MAX_BYTES:
                return None
            return file.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            self.unparsable.append(path.as_posix())
            return None

    def get(self, path: PurePosixPath) -> SourceFile | None:
        """The parsed file at *path* (project-relative); None if absent or unparsable."""
        if path not in self._parsed:
            self._parsed[path] = self._parse(path)
        return self._parsed[path]

    def module(self, name: str, *, near: PurePosixPath) -> SourceFile | None:
        """The file of module *name* as imported from a folder at or above *near*.

        The nearest import root wins, as for Django's settings beside its wsgi.py.
        """
        relative = PurePosixPath(*name.split("."))
        for root in (near, *near.parents):
            for candidate in (
                root / relative.with_name(relative.name + ".py"),
                root / relative / "__init__.py",
            ):
                source = self.get(candidate)
                if source is not None:
                    return source
        return None

    def _parse(self, path: PurePosixPath) -> SourceFile | None:
        file = self.project_dir / path
        try:
            if not file.is_file() or file.stat().st_size > MAX_BYTES:
                return None
            text = file.read_bytes().decode("utf-8")
            with warnings.catch_warnings():
                # Invalid escape sequences in the user's code are not ours to report.
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(text, filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            self.unparsable.append(path.as_posix())
            return None
        root, module = module_name(self.project_dir, path)
        return SourceFile(path=path, text=text, tree=tree, import_root=root, module=module)


def module_name(project_dir: Path, path: PurePosixPath) -> tuple[PurePosixPath, str | None]:
    """(import root, dotted module name) of the file at *path*, as Python imports it."""
    stem = path.name.removesuffix(".py")
    if not path.name.endswith(".py") or not _identifier(stem):
        return path.parent, None
    names = [] if stem == "__init__" else [stem]
    folder = path.parent
    while folder != ROOT and _identifier(folder.name):
        if not (project_dir / folder / "__init__.py").is_file():
            break
        names.insert(0, folder.name)
        folder = folder.parent
    if stem == "__init__" and folder == path.parent:
        return folder, None  # an __init__.py in a folder that is not a package name
    return folder, ".".join(names) or None


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _walk(project_dir: Path) -> tuple[tuple[PurePosixPath, ...], bool]:
    found: list[PurePosixPath] = []
    for folder, dirs, files in os.walk(project_dir):
        relative = PurePosixPath(Path(folder).relative_to(project_dir).as_posix())
        depth = len(relative.parts)
        dirs[:] = sorted(
            d
            for d in dirs
            if depth < MAX_DEPTH and not any(fnmatch.fnmatch(d, p) for p in _SKIPPED_FOLDERS)
        )
        for name in sorted(files):
            if name.endswith((".py", ".wsgi", ".ini")) and not name.startswith("."):
                found.append(relative / name)
                if len(found) >= MAX_FILES:
                    return tuple(sorted(found)), True
    return tuple(sorted(found)), False


def top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """The statements that run when a module is imported, through ``if``/``try``/``with``."""
    pending = list(tree.body)
    while pending:
        statement = pending.pop(0)
        yield statement
        if isinstance(statement, ast.If | ast.With):
            pending[:0] = [*statement.body, *getattr(statement, "orelse", [])]
        elif isinstance(statement, ast.Try):
            pending[:0] = [
                *statement.body,
                *(s for h in statement.handlers for s in h.body),
                *statement.orelse,
                *statement.finalbody,
            ]


def bindings(statement: ast.stmt) -> Iterator[tuple[str, ast.AST]]:
    """The names *statement* binds at its level, each with what it binds it to."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield statement.name, statement
    elif isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name):
                yield target.id, statement.value
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        if isinstance(statement.target, ast.Name):
            yield statement.target.id, statement.value
    elif isinstance(statement, ast.Import | ast.ImportFrom):
        for alias in statement.names:
            if alias.name != "*":
                yield (alias.asname or alias.name).split(".")[0], statement


def resolve_import(source: SourceFile, statement: ast.ImportFrom) -> str | None:
    """The absolute module a ``from X import ...`` in *source* reads from."""
    if statement.level == 0:
        return statement.module
    base = source.package.split(".") if source.package else []
    if statement.level - 1 > len(base):
        return None
    base = base[: len(base) - (statement.level - 1)]
    return ".".join([*base, *([statement.module] if statement.module else [])]) or None
