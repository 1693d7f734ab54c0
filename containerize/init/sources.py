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
import re
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

#: Words in a file's name or folder that mean it is not what production installs.
DEV_WORDS = frozenset(
    {
        "dev", "devel", "develop", "development", "test", "tests", "testing", "lint",
        "linting", "docs", "doc", "documentation", "ci", "local", "typing", "mypy", "style",
        "format", "tox", "bench", "debug", "qa", "check", "checks", "pre-commit", "precommit",
        "coverage", "tools",
    }
)  # fmt: skip


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


def dev_word(path: PurePosixPath) -> str | None:
    """The word in *path*'s name (or folder) that names a development set, if any."""
    words = re.split(r"[-_.\s/]+", path.with_suffix("").as_posix().lower())
    for word in words:
        if word in DEV_WORDS:
            return word
    return None


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
    """The statements that may run when a module is imported, through ``if``/``try``/
    ``with``; never the body of ``if __name__ == "__main__":``, which an import skips."""
    pending = list(tree.body)
    while pending:
        statement = pending.pop(0)
        yield statement
        if isinstance(statement, ast.If) and is_main_guard(statement.test):
            pending[:0] = statement.orelse
        elif isinstance(statement, ast.If | ast.With):
            pending[:0] = [*statement.body, *getattr(statement, "orelse", [])]
        elif isinstance(statement, ast.Try):
            pending[:0] = [
                *statement.body,
                *(s for h in statement.handlers for s in h.body),
                *statement.orelse,
                *statement.finalbody,
            ]


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round): true only when run as a script."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


@dataclass(frozen=True, kw_only=True)
class Binding:
    """A name a module binds, what to, and in which statement."""

    name: str
    value: ast.AST
    statement: ast.stmt


def import_bindings(tree: ast.Module) -> list[Binding]:
    """The module-level names every import of *tree* binds, in source order.

    A name bound in one branch only (an ``if`` whose test is known only at run time,
    a ``try`` body without the same name in each handler, ``if __name__ ==
    "__main__":``) may be unbound after the import, so it is not here; a branch
    that raises does not count against the others.
    """
    return _sure(tree.body)


def _sure(body: list[ast.stmt]) -> list[Binding]:
    found: list[Binding] = []
    for statement in body:
        if isinstance(statement, ast.If):
            truth = _truth(statement.test)
            if truth is True:
                found += _sure(statement.body)
            elif truth is False:
                found += _sure(statement.orelse)
            else:
                found += _common([statement.body, statement.orelse])
        elif isinstance(statement, ast.With):
            found += _sure(statement.body)
        elif isinstance(statement, ast.Try):
            # The body may stop at any statement; what follows runs on every path that
            # got through: the body and else, or one of the handlers.
            found += _common(
                [[*statement.body, *statement.orelse], *(h.body for h in statement.handlers)]
            )
            found += _sure(statement.finalbody)
        else:
            found += [
                Binding(name=name, value=value, statement=statement)
                for name, value in bindings(statement)
            ]
    return found


def conditional_bindings(tree: ast.Module) -> list[tuple[Binding, str]]:
    """Module-level bindings that an import may skip, each with why (for notes)."""
    sure = {b.name for b in import_bindings(tree)}
    found: list[tuple[Binding, str]] = []

    def visit(body: list[ast.stmt], why: str | None) -> None:
        for statement in body:
            if isinstance(statement, ast.If):
                guard = is_main_guard(statement.test)
                line = statement.lineno
                inner = (
                    f'only under if __name__ == "__main__": (line {line}), which an import '
                    "does not run"
                    if guard
                    else f"only when {ast.unparse(statement.test)} (line {line}) at import"
                )
                visit(statement.body, why or inner)
                visit(
                    statement.orelse, why or (None if guard else f"only in the else of line {line}")
                )
            elif isinstance(statement, ast.With):
                visit(statement.body, why)
            elif isinstance(statement, ast.Try):
                line = statement.lineno
                visit(statement.body, why or f"in a try block (line {line}) that may fail first")
                for handler in statement.handlers:
                    visit(handler.body, why or f"only when the try of line {line} fails")
                visit(statement.orelse, why or f"only when the try of line {line} succeeds")
                visit(statement.finalbody, why)
            elif why is not None:
                found.extend(
                    (Binding(name=name, value=value, statement=statement), why)
                    for name, value in bindings(statement)
                    if name not in sure
                )

    visit(tree.body, None)
    return found


def _common(branches: list[list[ast.stmt]]) -> list[Binding]:
    """The bindings every branch that carries on makes (those of the first)."""
    going = [b for b in branches if not _stops(b)]
    if not going:
        return []
    each = [_sure(branch) for branch in going]
    names = set.intersection(*({b.name for b in found} for found in each))
    return [b for b in each[0] if b.name in names]


def _stops(body: list[ast.stmt]) -> bool:
    """Whether *body* ends by raising (``raise``, ``sys.exit(...)``)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ast.Raise):
        return True
    return (
        isinstance(last, ast.Expr)
        and isinstance(last.value, ast.Call)
        and ast.unparse(last.value.func) in ("sys.exit", "exit", "SystemExit")
    )


def _truth(test: ast.expr) -> bool | None:
    """What *test* is when the module is imported, when that is known without running it."""
    if is_main_guard(test):
        return False
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        return False
    return None


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


#: Unrendered template syntax: buildout's and Mako's ``${...}``, Jinja's ``{{ ... }}``
#: and ``{% ... %}``. A file holding it is a template for a config, not one.
_TEMPLATE = re.compile(r"\$\{[^}\n]*\}|\{\{.*?\}\}|\{%.*?%\}")


def template_line(text: str) -> tuple[int, str] | None:
    """The first line of *text* with unrendered template syntax (its number and the
    syntax), outside comments; None when there is none."""
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.lstrip().startswith(("#", ";")):
            continue
        match = _TEMPLATE.search(raw)
        if match is not None:
            return number, match.group(0)
    return None
