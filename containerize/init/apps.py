"""WSGI applications found in a project's sources, and the one ``init`` chooses.

What counts, strongest first (:data:`RANKS`): Django's ``WSGI_APPLICATION`` (read by
:mod:`containerize.init.django`); a ``wsgi.py`` or a ``.wsgi`` script that binds
``application``, or a module-level ``def application(environ, start_response)``; a
Flask app object at module level; a Flask application factory. Flask apps are found
the way ``flask --app`` finds them: an object named ``app`` or ``application`` first,
else the module's only ``Flask(...)`` instance, else a factory named ``create_app`` or
``make_app`` that returns one and can be called without arguments. A Paste Deploy
file (an ``.ini`` with ``[app:...]``, ``[composite:...]``, ``[pipeline:...]`` or
``[filter-app:...]`` sections) ranks with the WSGI entry points: ``main`` when it has
one, else each application no other section of the file refers to.

The strongest kind found wins. Two different applications of that kind are an error
that lists them, with the ``--app`` option that chooses.
"""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Literal

from containerize.errors import ConfigError
from containerize.init.model import Evidence
from containerize.init.sources import (
    MAX_DEPTH,
    ROOT,
    SourceFile,
    Sources,
    bindings,
    resolve_import,
    top_level,
)

AppKind = Literal["django", "wsgi", "paste", "flask-app", "flask-factory"]
#: Lower is stronger: an explicit WSGI entry point beats an inferred Flask app.
RANKS: dict[AppKind, int] = {
    "django": 0,
    "wsgi": 1,
    "paste": 1,
    "flask-app": 2,
    "flask-factory": 3,
}
FACTORY_NAMES = ("create_app", "make_app")
_FLASK_OBJECT_NAMES = ("app", "application")
# A URL prefix tool.containerize.static accepts.
_URL_PREFIX = re.compile(r"/(?:[A-Za-z0-9._~-]+/)+")


@dataclass(frozen=True, kw_only=True)
class StaticFolder:
    """Static files an app serves: *url* from *dir* (project-relative)."""

    url: str
    dir: str
    command: tuple[str, ...] = ()
    why: tuple[Evidence | str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One WSGI application ``init`` could write as ``app``."""

    kind: AppKind
    spec: str  # as tool.containerize.app takes it, relative to import_root
    import_root: PurePosixPath  # the folder its modules are imported from
    source: PurePosixPath  # the file that defines it
    why: tuple[Evidence, ...]
    static: StaticFolder | None = field(default=None, compare=False)

    @property
    def rank(self) -> int:
        return RANKS[self.kind]

    def described(self) -> str:
        where = "" if self.import_root == ROOT else f", imported from {self.import_root}/"
        return f"{self.spec} ({'; '.join(str(e) for e in self.why)}{where})"


def find(sources: Sources, extra: Iterable[Candidate] = ()) -> list[Candidate]:
    """Every application in *sources*, plus *extra* (Django's), one entry per app."""
    found: dict[tuple[PurePosixPath, str], Candidate] = {}
    for candidate in [*extra, *_wsgi(sources), *_paste(sources), *_flask(sources)]:
        key = (candidate.import_root, candidate.spec)
        known = found.get(key)
        if known is None:
            found[key] = candidate
            continue
        stronger, weaker = sorted((known, candidate), key=lambda c: c.rank)
        found[key] = replace(
            stronger,
            why=(*stronger.why, *(e for e in weaker.why if e not in stronger.why)),
            static=stronger.static or weaker.static,
        )
    return sorted(found.values(), key=lambda c: (c.rank, c.source, c.spec))


def choose(candidates: Sequence[Candidate], sources: Sources, *, wanted: str | None) -> Candidate:
    """The application to write: *wanted* (``--app``), else the strongest one found."""
    if wanted is not None:
        matching = [c for c in candidates if c.spec == wanted.strip()]
        if len(matching) == 1:
            return matching[0]
        return Candidate(
            kind="wsgi",
            spec=wanted.strip(),
            import_root=ROOT,
            source=PurePosixPath("pyproject.toml"),
            why=(Evidence(what="chosen with --app", file="the command line"),),
        )
    if not candidates:
        raise _nothing_found(sources)
    best = [c for c in candidates if c.rank == candidates[0].rank]
    if len(best) > 1:
        listed = "\n".join(f"  {c.described()}" for c in best)
        raise ConfigError(
            f"{len(best)} WSGI applications found; which one does the image serve?\n{listed}",
            hint=f"choose one: containerize init --app {best[0].spec!r}",
        )
    return best[0]


def _nothing_found(sources: Sources) -> ConfigError:
    searched = f"{len(sources.paths)} Python file(s) in {sources.project_dir}"
    if sources.truncated:
        searched += " (the first ones only: the project has more)"
    skipped = ""
    if sources.unparsable:
        shown = ", ".join(sources.unparsable[:5]) + (", ..." if len(sources.unparsable) > 5 else "")
        skipped = f"; could not parse {shown}"
    return ConfigError(
        f"no WSGI application found: searched {searched}, up to {MAX_DEPTH} folders deep "
        "(not tests, virtual environments, build output or hidden folders), for Django's "
        "WSGI_APPLICATION in a settings module, a wsgi.py or .wsgi file that defines "
        "'application', a module-level 'def application(environ, start_response)', a "
        "Paste Deploy .ini file, a Flask app object, or a Flask factory "
        "create_app()/make_app() that returns one" + skipped,
        hint="name it: containerize init --app 'package.module:callable' (or a factory "
        "'package:create_app()')",
    )


# --- WSGI entry points ------------------------------------------------------------


def _wsgi(sources: Sources) -> Iterator[Candidate]:
    for source in sources.containing("application"):
        found = _wsgi_binding(source)
        spec = _spec(source, "application")
        if found is None or spec is None:
            continue
        what, line = found
        yield Candidate(
            kind="wsgi",
            spec=spec,
            import_root=source.import_root if source.module else ROOT,
            source=source.path,
            why=(Evidence(what=what, file=source.path.as_posix(), line=line),),
        )


# --- Paste Deploy -----------------------------------------------------------------

#: The sections of a Paste Deploy file that make a WSGI application.
_PASTE_APP_KINDS = ("app", "composite", "pipeline", "filter-app")


def _paste(sources: Sources) -> Iterator[Candidate]:
    for path in sources.ini_paths:
        text = sources.read_text(path)
        if text is None:
            continue
        for name, line in _paste_apps(text):
            spec = path.as_posix() if name == "main" else f"{path.as_posix()}#{name}"
            what = f"Paste Deploy application {name!r}"
            yield Candidate(
                kind="paste",
                spec=spec,
                import_root=ROOT,
                source=path,
                why=(Evidence(what=what, file=path.as_posix(), line=line),),
            )


def _paste_apps(text: str) -> list[tuple[str, int]]:
    """The applications a Paste Deploy file serves, with their section's line: ``main``
    if it has one, else those that no other section of the file uses."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    apps: dict[str, str] = {}  # name -> section
    for section in parser.sections():
        kind, sep, name = section.partition(":")
        if sep and kind.strip() in _PASTE_APP_KINDS and name.strip():
            apps.setdefault(name.strip(), section)
    if not apps:
        return []
    lines = {
        match.group(1): number
        for number, raw in enumerate(text.splitlines(), start=1)
        if (match := re.match(r"\s*\[([^\]]+)\]", raw))
    }
    if "main" in apps:
        return [("main", lines.get(apps["main"], 0))]
    used: set[str] = set()
    for section in apps.values():
        values = parser[section]
        for key, value in values.items():
            if section.startswith("pipeline:") and key == "pipeline":
                used.update(value.split()[-1:])  # the app at the end of the pipeline
            elif (section.startswith("composite:") and key.startswith("/")) or (
                section.startswith("filter-app:") and key == "next"
            ):
                used.add(value.strip())
    return [(name, lines.get(section, 0)) for name, section in apps.items() if name not in used]


def _wsgi_binding(source: SourceFile) -> tuple[str, int] | None:
    """The first module-level ``application`` that makes *source* a WSGI entry point:
    any binding in a ``wsgi.py`` or ``.wsgi`` file, a WSGI function elsewhere."""
    for statement in top_level(source.tree):
        for name, value in bindings(statement):
            if name != "application":
                continue
            if source.path.name == "wsgi.py":
                return "'application' in a wsgi.py", statement.lineno
            if source.path.suffix == ".wsgi":
                return "'application' in a .wsgi file", statement.lineno
            if _is_wsgi_function(value):
                return "def application(environ, start_response)", statement.lineno
    return None


def _is_wsgi_function(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef):
        return False
    args = node.args
    return len(args.posonlyargs) + len(args.args) == 2 and not args.kwonlyargs


def _spec(source: SourceFile, name: str, call: str = "") -> str | None:
    """``module:name`` (a script's path for ``.wsgi``); None if it cannot be imported."""
    if source.path.suffix == ".wsgi":
        return source.path.as_posix() if name == "application" and not call else None
    if source.module is None:
        return None
    return f"{source.module}:{name}{call}"


# --- Flask ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _FlaskNames:
    """How a module refers to ``flask.Flask``: by name, or as an attribute of a module."""

    classes: frozenset[str]
    modules: frozenset[str]

    @classmethod
    def of(cls, tree: ast.Module) -> _FlaskNames:
        classes: set[str] = set()
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "flask" and not node.level:
                classes.update(a.asname or a.name for a in node.names if a.name == "Flask")
            elif isinstance(node, ast.Import):
                modules.update(a.asname or a.name for a in node.names if a.name == "flask")
        return cls(classes=frozenset(classes), modules=frozenset(modules))

    def call(self, node: ast.AST | None) -> ast.Call | None:
        """*node* if it is a ``Flask(...)`` call."""
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.classes:
            return node
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "Flask"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.modules
        ):
            return node
        return None


def _flask(sources: Sources) -> Iterator[Candidate]:
    for source in sources.containing("Flask", *FACTORY_NAMES):
        if source.module is None:
            continue
        yield from _flask_module(source, sources)


def _flask_module(source: SourceFile, sources: Sources) -> Iterator[Candidate]:
    names = _FlaskNames.of(source.tree)
    factories = _factories(source, names)
    imported = _imported_factories(source, sources)
    objects: list[Candidate] = []
    for statement in top_level(source.tree):
        if not isinstance(statement, ast.Assign | ast.AnnAssign):
            continue
        for name, value in bindings(statement):
            call = names.call(value)
            made_by: tuple[SourceFile, ast.FunctionDef, ast.Call] | None = None
            if call is None and isinstance(value, ast.Call) and not value.args:
                func = value.func
                if isinstance(func, ast.Name) and func.id in factories:
                    made_by = (source, *factories[func.id])
                elif isinstance(func, ast.Name) and func.id in imported:
                    made_by = imported[func.id]
            if call is None and made_by is None:
                continue
            what = f"{name} = {ast.unparse(value)}"
            why = [Evidence(what=what, file=source.path.as_posix(), line=statement.lineno)]
            static = None
            if call is not None:
                static = _flask_static(source, call, sources)
            elif made_by is not None:
                maker, function, inner = made_by
                why.append(_factory_evidence(maker, function))
                static = _flask_static(maker, inner, sources)
            objects.append(
                Candidate(
                    kind="flask-app",
                    spec=f"{source.module}:{name}",
                    import_root=source.import_root,
                    source=source.path,
                    why=tuple(why),
                    static=static,
                )
            )
    # Flask's own order: 'app' or 'application', else the only instance.
    preferred = [c for c in objects if c.spec.rpartition(":")[2] in _FLASK_OBJECT_NAMES]
    if preferred or objects:
        yield from preferred[:1] or objects
        return
    for name, (function, call) in factories.items():
        yield Candidate(
            kind="flask-factory",
            spec=f"{source.module}:{name}()",
            import_root=source.import_root,
            source=source.path,
            why=(_factory_evidence(source, function),),
            static=_flask_static(source, call, sources),
        )


def _factory_evidence(source: SourceFile, function: ast.FunctionDef) -> Evidence:
    return Evidence(
        what=f"def {function.name}() returns a Flask app",
        file=source.path.as_posix(),
        line=function.lineno,
    )


def _factories(
    source: SourceFile, names: _FlaskNames
) -> dict[str, tuple[ast.FunctionDef, ast.Call]]:
    """Module-level ``create_app``/``make_app`` that return a ``Flask(...)`` and can be
    called without arguments, with that call."""
    found: dict[str, tuple[ast.FunctionDef, ast.Call]] = {}
    for statement in top_level(source.tree):
        if not isinstance(statement, ast.FunctionDef) or statement.name not in FACTORY_NAMES:
            continue
        args = statement.args
        required = len(args.posonlyargs) + len(args.args) - len(args.defaults)
        if required > 0 or any(d is None for d in args.kw_defaults):
            continue
        assigned: dict[str, ast.Call] = {}
        for node in ast.walk(statement):
            if isinstance(node, ast.Assign) and (call := names.call(node.value)) is not None:
                assigned.update({t.id: call for t in node.targets if isinstance(t, ast.Name)})
        for node in ast.walk(statement):
            if not isinstance(node, ast.Return):
                continue
            call = names.call(node.value)
            if call is None and isinstance(node.value, ast.Name):
                call = assigned.get(node.value.id)
            if call is not None:
                found[statement.name] = (statement, call)
                break
    return found


def _imported_factories(
    source: SourceFile, sources: Sources
) -> dict[str, tuple[SourceFile, ast.FunctionDef, ast.Call]]:
    """``from package import create_app`` in *source*, when that is a Flask factory."""
    found: dict[str, tuple[SourceFile, ast.FunctionDef, ast.Call]] = {}
    for statement in top_level(source.tree):
        if not isinstance(statement, ast.ImportFrom):
            continue
        module = resolve_import(source, statement)
        wanted = {a.name: a.asname or a.name for a in statement.names if a.name in FACTORY_NAMES}
        if module is None or not wanted:
            continue
        other = sources.module(module, near=source.import_root)
        if other is None or other.path == source.path:
            continue
        factories = _factories(other, _FlaskNames.of(other.tree))
        for name, alias in wanted.items():
            if name in factories:
                found[alias] = (other, *factories[name])
    return found


def _flask_static(source: SourceFile, call: ast.Call, sources: Sources) -> StaticFolder | None:
    """The static folder ``Flask(__name__, ...)`` serves, if it exists in the project."""
    if not call.args or not (isinstance(call.args[0], ast.Name) and call.args[0].id == "__name__"):
        return None  # Flask's root is not this file's folder: not guessed
    options: dict[str, object] = {"static_folder": "static", "static_url_path": None}
    for keyword in call.keywords:
        if keyword.arg in options:
            try:
                options[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                return None
    folder, url = options["static_folder"], options["static_url_path"]
    if not isinstance(folder, str) or not folder or folder.startswith("/"):
        return None
    directory = source.path.parent / folder
    if ".." in directory.parts or not (sources.project_dir / directory).is_dir():
        return None
    prefix = f"{url}/" if isinstance(url, str) else f"/{PurePosixPath(folder).name}/"
    if not _URL_PREFIX.fullmatch(prefix):
        return None
    return StaticFolder(
        url=prefix,
        dir=directory.as_posix(),
        why=(
            Evidence(
                what=f"Flask serves {directory.as_posix()}/ under {prefix}",
                file=source.path.as_posix(),
                line=call.lineno,
            ),
        ),
    )
