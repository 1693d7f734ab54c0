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

The strongest kind found wins. Among several of that kind, the one the project's own
start command serves (``gunicorn microblog:app`` in a ``Procfile``, a shell script or a
Dockerfile's ``CMD``) is chosen; otherwise two different applications are an error
that lists them, with the ``--app`` option that chooses.
"""

from __future__ import annotations

import ast
import configparser
import re
import shlex
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
    conditional_bindings,
    dev_word,
    import_bindings,
    resolve_import,
    template_line,
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
# A WSGI server's command line that names the app as module:attribute.
_SERVER_COMMAND = re.compile(r"\b(?:gunicorn|waitress-serve|uwsgi|mod_wsgi-express)\b(.*)")
_SPEC_WORD = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(?:\(\))?")
# Files that start the project's server: Procfiles, shell scripts, Dockerfiles.
_START_FILES = ("Procfile*", "*.sh", "bin/*.sh", "Dockerfile*", "Containerfile*")
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

    def described(self, *, folder: bool = True) -> str:
        where = (
            "" if self.import_root == ROOT or not folder else f", imported from {self.import_root}/"
        )
        return f"{self.spec} ({'; '.join(str(e) for e in self.why)}{where})"


def find(
    sources: Sources, extra: Iterable[Candidate] = (), *, notes: list[str] | None = None
) -> list[Candidate]:
    """Every application in *sources*, plus *extra* (Django's), one entry per app.

    Apps a module binds only on some paths (under ``if __name__ == "__main__":``, in
    one branch) are no candidates: each is named in *notes*, with why.
    """
    notes = [] if notes is None else notes
    found: dict[tuple[PurePosixPath, str], Candidate] = {}
    flask = list(_flask(sources, notes))
    for candidate in [*extra, *_wsgi(sources, notes), *_paste(sources, notes), *flask]:
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


def choose(
    candidates: Sequence[Candidate],
    sources: Sources,
    *,
    wanted: str | None,
    directory: PurePosixPath | None = None,
    passed_over: Sequence[str] = (),
    started: Sequence[tuple[str, Evidence]] = (),
) -> Candidate:
    """The application to write: *wanted* (``--app``), else the strongest one found;
    only those imported from *directory* (``--app-directory``) when it is given.
    *passed_over*: the notes of :func:`find`, which an error of nothing found repeats.
    *started*: the specs the project's own start commands serve (:func:`started`),
    which decide between apps of the same strength."""
    if directory is not None:
        candidates = [c for c in candidates if c.import_root == directory] or [
            c for c in candidates if c.source.is_relative_to(directory)
        ]
    if wanted is not None:
        matching = [c for c in candidates if c.spec == wanted.strip()]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            raise _ambiguous(matching, candidates)
        return Candidate(
            kind="wsgi",
            spec=wanted.strip(),
            import_root=directory or ROOT,
            source=PurePosixPath("pyproject.toml"),
            why=(Evidence(what="chosen with --app", file="the command line"),),
        )
    if not candidates:
        if directory is not None:
            raise ConfigError(
                f"--app-directory {directory}: no WSGI application is imported from that folder",
                hint="name a folder that 'containerize init' lists, or drop --app-directory",
            )
        raise _nothing_found(sources, passed_over)
    best = [c for c in candidates if c.rank == candidates[0].rank]
    # development.ini beside production.ini: a file named for development is not what
    # the image serves.
    best = [c for c in best if dev_word(c.source) is None] or best
    if len(best) > 1:
        served = [
            replace(c, why=(*c.why, *(e for spec, e in started if spec == c.spec)))
            for c in best
            if any(spec == c.spec for spec, _ in started)
        ]
        if len(served) == 1:
            return served[0]
        raise _ambiguous(best, candidates)
    return best[0]


def started(sources: Sources) -> list[tuple[str, Evidence]]:
    """The ``module:attribute`` specs a WSGI server is started with in the project's
    Procfiles, shell scripts and Dockerfiles (``exec gunicorn -b :5000 microblog:app``),
    each with the line that says so."""
    found: list[tuple[str, Evidence]] = []
    for pattern in _START_FILES:
        for file in sorted(sources.project_dir.glob(pattern)):
            path = PurePosixPath(file.relative_to(sources.project_dir).as_posix())
            text = sources.read_text(path)
            for number, line in enumerate((text or "").splitlines(), start=1):
                if line.lstrip().startswith("#"):
                    continue
                command = _SERVER_COMMAND.search(line)
                if command is None:
                    continue
                for word in re.split(r"[\s\"',\[\]]+", command.group(1)):
                    if _SPEC_WORD.fullmatch(word) and not word.startswith("-"):
                        what = line.strip() if len(line.strip()) <= 80 else word
                        found.append((word, Evidence(what=what, file=path.as_posix(), line=number)))
    return found


def choosing(candidate: Candidate, among: Sequence[Candidate]) -> str:
    """The ``containerize init`` options that choose *candidate* among *among*: its
    folder when another app has the same name, its name when its folder has others."""
    options = []
    same_name = [c for c in among if c.spec == candidate.spec and c != candidate]
    same_folder = [c for c in among if c.import_root == candidate.import_root and c != candidate]
    if same_name:
        options.append(f"--app-directory {shlex.quote(candidate.import_root.as_posix())}")
    if same_folder or not same_name:
        options.append(f"--app {_quoted(candidate.spec)}")
    return "containerize init " + " ".join(options)


def _quoted(text: str) -> str:
    """*text* in single quotes for a POSIX shell (specs hold ``:`` and ``()``)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _ambiguous(best: Sequence[Candidate], candidates: Sequence[Candidate]) -> ConfigError:
    by_folder: dict[PurePosixPath, list[Candidate]] = {}
    for candidate in best:
        by_folder.setdefault(candidate.import_root, []).append(candidate)
    specs = {c.spec for c in best}
    if len(specs) < len(best):
        # The same name in several folders: the folder is what tells them apart.
        listed = "\n".join(
            f"  {folder.as_posix()}/: " + "; ".join(c.described(folder=False) for c in found)
            for folder, found in sorted(by_folder.items())
        )
        what = f"{len(best)} WSGI applications found in {len(by_folder)} folders"
        how = "choose one by its folder: "
    else:
        listed = "\n".join(f"  {c.described()}" for c in best)
        what = f"{len(best)} WSGI applications found"
        how = "choose one: "
    return ConfigError(
        f"{what}; which one does the image serve?\n{listed}",
        hint=how + choosing(best[0], candidates),
    )


def _nothing_found(sources: Sources, passed_over: Sequence[str]) -> ConfigError:
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
        "create_app()/make_app() that returns one"
        + skipped
        + "".join(f"\n  {note.removeprefix('app: ')}" for note in passed_over),
        hint="name it: containerize init --app 'package.module:callable' (or a factory "
        "'package:create_app()')",
    )


# --- WSGI entry points ------------------------------------------------------------


def _wsgi(sources: Sources, notes: list[str]) -> Iterator[Candidate]:
    for source in sources.containing("application"):
        found = _wsgi_binding(source)
        spec = _spec(source, "application")
        if spec is None:
            continue
        if found is None:
            if source.path.name == "wsgi.py" or source.path.suffix == ".wsgi":
                notes.extend(
                    f"app: {spec} is not a candidate: 'application' "
                    f"({source.path.as_posix()}:{binding.statement.lineno}) is bound {reason}, "
                    "so importing the file may not define it"
                    for binding, reason in conditional_bindings(source.tree)
                    if binding.name == "application"
                )
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


def _paste(sources: Sources, notes: list[str]) -> Iterator[Candidate]:
    for path in sources.ini_paths:
        text = sources.read_text(path)
        if text is None:
            continue
        apps = _paste_apps(text)  # a template may not parse: its sections still say
        paste = apps or any(f"[{kind}:" in text for kind in _PASTE_APP_KINDS)
        template = template_line(text) if paste else None
        if template is not None:
            number, syntax = template
            shown = syntax if len(syntax) <= 40 else syntax[:37] + "..."
            notes.append(
                f"app: {path} is not proposed: it is a template, not a config a server can "
                f"read ({shown} at {path}:{number} is left for a tool to fill in)"
            )
            continue
        for name, line in apps:
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
    for binding in import_bindings(source.tree):
        if binding.name != "application":
            continue
        line = binding.statement.lineno
        if source.path.name == "wsgi.py":
            return "'application' in a wsgi.py", line
        if source.path.suffix == ".wsgi":
            return "'application' in a .wsgi file", line
        if _is_wsgi_function(binding.value):
            return "def application(environ, start_response)", line
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


def _flask(sources: Sources, notes: list[str]) -> Iterator[Candidate]:
    for source in sources.containing("Flask", *FACTORY_NAMES):
        if source.module is None:
            continue
        yield from _flask_module(source, sources, notes)


def _flask_module(source: SourceFile, sources: Sources, notes: list[str]) -> Iterator[Candidate]:
    names = _FlaskNames.of(source.tree)
    factories = _factories(source, names)
    imported = _imported_factories(source, sources)

    def made_by(value: ast.AST) -> tuple[ast.Call | None, _Maker | None]:
        """The ``Flask(...)`` call *value* is, or the factory *value* calls."""
        call = names.call(value)
        if call is None and isinstance(value, ast.Call) and not value.args:
            func = value.func
            if isinstance(func, ast.Name) and func.id in factories:
                return None, (source, *factories[func.id])
            if isinstance(func, ast.Name) and func.id in imported:
                return None, imported[func.id]
        return call, None

    objects: list[Candidate] = []
    for binding in import_bindings(source.tree):
        statement, name, value = binding.statement, binding.name, binding.value
        if not isinstance(statement, ast.Assign | ast.AnnAssign):
            continue
        call, maker = made_by(value)
        if call is None and maker is None:
            continue
        what = f"{name} = {ast.unparse(value)}"
        why = [Evidence(what=what, file=source.path.as_posix(), line=statement.lineno)]
        static = None
        if call is not None:
            static = _flask_static(source, call, sources)
        elif maker is not None:
            maker_file, function, inner = maker
            why.append(_factory_evidence(maker_file, function))
            static = _flask_static(maker_file, inner, sources)
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
    for binding, reason in conditional_bindings(source.tree):
        if isinstance(binding.statement, ast.Assign | ast.AnnAssign) and any(
            made_by(binding.value)
        ):
            notes.append(
                f"app: {source.module}:{binding.name} is not a candidate: "
                f"{binding.name} = {ast.unparse(binding.value)} "
                f"({source.path.as_posix()}:{binding.statement.lineno}) is bound {reason}, "
                "so importing the module may not define it"
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


_Maker = tuple[SourceFile, ast.FunctionDef, ast.Call]


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
    for binding in import_bindings(source.tree):
        statement = binding.statement
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
    statements = {id(b.statement): b.statement for b in import_bindings(source.tree)}
    for statement in statements.values():
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
