"""Django, read from its settings' source: never imported, never configured.

``WSGI_APPLICATION`` names the application; the settings module is the one its
``wsgi.py`` (or ``manage.py``) puts in ``DJANGO_SETTINGS_MODULE``. Settings split
over modules (``from .base import *``) are followed. Values are read when they are
literals, or, for ``STATIC_ROOT``, paths built from ``__file__`` the usual ways
(``Path(__file__).resolve().parent.parent / "staticfiles"``,
``os.path.join(BASE_DIR, "static")``); anything computed at run time is left to the
defaults, and the reason is printed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from containerize.errors import ConfigError
from containerize.init.apps import Candidate, StaticFolder
from containerize.init.model import Choice, Evidence
from containerize.init.sources import ROOT, SourceFile, Sources, resolve_import, top_level
from containerize.writablepaths import parse

_URL_PREFIX = re.compile(r"/(?:[A-Za-z0-9._~-]+/)+")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
# Settings modules followed through star imports, at most.
_MAX_DEPTH = 5


@dataclass(frozen=True, kw_only=True)
class Setting:
    """A module-level assignment in the settings: its expression and where it is."""

    name: str
    value: ast.expr
    source: SourceFile
    line: int

    def evidence(self, what: str | None = None) -> Evidence:
        return Evidence(what=what or self.name, file=self.source.path.as_posix(), line=self.line)


@dataclass(frozen=True, kw_only=True)
class DjangoSite:
    """What the settings say about serving the site."""

    settings: str  # the settings module
    static: StaticFolder | None
    allowed_hosts: tuple[tuple[str, ...], Evidence] | None
    notes: tuple[str, ...]
    #: The settings module's file, and the files it star-imports, when found.
    files: tuple[SourceFile, ...] = ()
    #: Module-level settings by name, as written (``LOGIN_URL``, ``ROOT_URLCONF``).
    values: dict[str, ast.expr] = field(default_factory=dict, compare=False)
    #: The ``writable`` key for what the settings write in the app folder.
    writable: Choice | None = None

    def choices(self) -> list[Choice]:
        """The keys of the table the settings give: allowed-hosts, writable."""
        found = []
        if self.allowed_hosts is not None:
            hosts, evidence = self.allowed_hosts
            found.append(Choice(key="allowed-hosts", value=list(hosts), why=(evidence,)))
        if self.writable is not None:
            found.append(self.writable)
        return found


@dataclass(frozen=True, kw_only=True)
class Written:
    """A path inside the project the settings make the site write: a file, or a folder
    (MEDIA_ROOT; a SQLite database's, where it writes its journal)."""

    path: PurePosixPath  # project-relative
    folder: bool
    why: Evidence


def candidates(sources: Sources) -> Iterator[Candidate]:
    """Each ``WSGI_APPLICATION = "package.wsgi.application"`` whose module exists."""
    for source in sources.containing("WSGI_APPLICATION"):
        for statement in top_level(source.tree):
            value = _assigned(statement, "WSGI_APPLICATION")
            if not isinstance(value, ast.Constant) or not isinstance(value.value, str):
                continue
            if not _DOTTED.fullmatch(value.value):
                continue
            module, _, name = value.value.rpartition(".")
            target = sources.module(module, near=source.path.parent)
            if target is None or target.module != module:
                continue
            yield Candidate(
                kind="django",
                spec=f"{module}:{name}",
                import_root=target.import_root,
                source=target.path,
                why=(
                    Evidence(
                        what=f'WSGI_APPLICATION = "{value.value}"',
                        file=source.path.as_posix(),
                        line=statement.lineno,
                    ),
                ),
            )


def site(app: Candidate, sources: Sources) -> DjangoSite | None:
    """The Django settings behind *app*, if its module names them."""
    module = app.spec.partition(":")[0]
    source = sources.module(module, near=app.import_root) if "/" not in app.spec else None
    if source is None:
        return None
    found = _settings_module(source)
    if found is None:
        return None
    name, evidence = found
    settings_file = sources.module(name, near=source.import_root)
    if settings_file is None:
        return DjangoSite(
            settings=name,
            static=None,
            allowed_hosts=None,
            notes=(f"static, allowed-hosts: not set: no settings module {name} ({evidence})",),
        )
    settings = _read(settings_file, sources, depth=0)
    notes: list[str] = []
    static = _static(settings, name, settings_file, sources, notes)
    hosts = _allowed_hosts(settings, notes)
    writable = writable_choice(_writes(settings, settings_file), app.import_root, notes)
    files = {settings_file.path: settings_file}
    for setting in settings.values():
        if setting is not None:
            files.setdefault(setting.source.path, setting.source)
    return DjangoSite(
        settings=name,
        static=static,
        allowed_hosts=hosts,
        notes=tuple(notes),
        files=tuple(files.values()),
        values={k: v.value for k, v in settings.items() if v is not None},
        writable=writable,
    )


def _settings_module(source: SourceFile) -> tuple[str, Evidence] | None:
    """``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`` in *source*."""
    for node in ast.walk(source.tree):
        value: ast.expr | None = None
        if not isinstance(node, ast.Call | ast.Assign):
            continue
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "setdefault"
            and len(node.args) == 2
            and _is_string(node.args[0], "DJANGO_SETTINGS_MODULE")
        ):
            value = node.args[1]
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Subscript) and _is_string(t.slice, "DJANGO_SETTINGS_MODULE")
            for t in node.targets
        ):
            value = node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            evidence = Evidence(
                what=f"DJANGO_SETTINGS_MODULE {value.value}",
                file=source.path.as_posix(),
                line=node.lineno,
            )
            return value.value, evidence
    return None


def _is_string(node: ast.AST, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def _assigned(statement: ast.stmt, name: str) -> ast.expr | None:
    if isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == name for t in statement.targets
    ):
        return statement.value
    if (
        isinstance(statement, ast.AnnAssign)
        and isinstance(statement.target, ast.Name)
        and statement.target.id == name
    ):
        return statement.value
    return None


def _read(source: SourceFile, sources: Sources, *, depth: int) -> dict[str, Setting | None]:
    """Module-level settings of *source*, star imports included; None: not readable."""
    settings: dict[str, Setting | None] = {}
    for statement in top_level(source.tree):
        if isinstance(statement, ast.ImportFrom) and any(a.name == "*" for a in statement.names):
            module = resolve_import(source, statement)
            other = sources.module(module, near=source.import_root) if module else None
            if other is not None and depth < _MAX_DEPTH:
                settings.update(_read(other, sources, depth=depth + 1))
        elif isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    settings[target.id] = Setting(
                        name=target.id, value=statement.value, source=source, line=statement.lineno
                    )
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if statement.value is not None:
                settings[statement.target.id] = Setting(
                    name=statement.target.id,
                    value=statement.value,
                    source=source,
                    line=statement.lineno,
                )
        elif isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
            settings[statement.target.id] = None  # changed in place: not a literal any more
    return settings


def _evidence(setting: Setting | None) -> str:
    return "the settings" if setting is None else str(setting.evidence())


def _literal(setting: Setting | None) -> object:
    if setting is None:
        raise ValueError("not a literal")
    return ast.literal_eval(setting.value)


# --- static files -----------------------------------------------------------------


def _static(
    settings: dict[str, Setting | None],
    module: str,
    settings_file: SourceFile,
    sources: Sources,
    notes: list[str],
) -> StaticFolder | None:
    root, url = settings.get("STATIC_ROOT"), settings.get("STATIC_URL")
    if root is None or url is None:
        missing = " and ".join(n for n, s in (("STATIC_URL", url), ("STATIC_ROOT", root)) if not s)
        notes.append(f"static: not set: the settings ({settings_file.path}) set no {missing}")
        return None
    try:
        apps = _literal(settings.get("INSTALLED_APPS"))
    except ValueError:
        apps = None
    if isinstance(apps, list | tuple) and "django.contrib.staticfiles" not in apps:
        notes.append(
            "static: not set: django.contrib.staticfiles is not in "
            f"{_evidence(settings.get('INSTALLED_APPS'))}"
        )
        return None
    try:
        prefix = _literal(url)
    except ValueError:
        prefix = None
    if isinstance(prefix, str) and not prefix.startswith("/") and "://" not in prefix:
        prefix = "/" + prefix  # Django puts the script prefix before a relative URL
    if not isinstance(prefix, str) or not _URL_PREFIX.fullmatch(prefix):
        notes.append(f"static: not set: {url.evidence()} is not a local URL prefix like /static/")
        return None
    # A relative STATIC_ROOT is relative to where the site runs: its import root, which
    # init makes the app folder.
    reader = _PathReader(settings, cwd=settings_file.import_root)
    folder = reader.path(root.value, root.source, depth=0)
    if folder is None or folder == ROOT:
        notes.append(
            f"static: not set: {root.evidence()} is not a folder inside the project that "
            "containerize can work out without running the settings"
        )
        return None
    manage = _manage_py(settings_file, module, sources)
    other = _other_manage_py(settings_file, module, sources) if manage is None else None
    command = (
        ("python", manage.as_posix(), "collectstatic", "--noinput")
        if manage is not None
        else ("python", "-m", "django", "collectstatic", "--noinput", "--settings", module)
    )
    return StaticFolder(
        url=prefix,
        dir=folder.as_posix(),
        command=command,
        why=(
            url.evidence(f"STATIC_URL {prefix}"),
            root.evidence(f"STATIC_ROOT {folder.as_posix()}"),
            Evidence(what="filled by collectstatic", file=manage.as_posix())
            if manage is not None
            else f"filled by collectstatic with the app's settings ({module}): {other.file} "
            f"defaults to {other.what.removeprefix('DJANGO_SETTINGS_MODULE ')} "
            f"(line {other.line})"
            if other is not None
            else "filled by collectstatic (no manage.py found: python -m django)",
        ),
    )


def runs_settings(manage: SourceFile, module: str) -> bool:
    """Whether *manage* (a ``manage.py``) runs with the settings *module*: it names
    them, or names none (``DJANGO_SETTINGS_MODULE`` then comes from the environment).
    A ``manage.py`` that defaults to development settings while ``wsgi.py`` names
    production ones would migrate or collect for the wrong site."""
    found = _settings_module(manage)
    return found is None or found[0] == module


def _other_manage_py(settings_file: SourceFile, module: str, sources: Sources) -> Evidence | None:
    """The ``manage.py`` beside the site that defaults to other settings, if any."""
    for folder in (settings_file.import_root, *settings_file.import_root.parents):
        manage = sources.get(folder / "manage.py")
        found = _settings_module(manage) if manage is not None else None
        if found is not None and found[0] != module:
            return found[1]
    return None


def _manage_py(settings_file: SourceFile, module: str, sources: Sources) -> PurePosixPath | None:
    """The ``manage.py`` beside the settings' import root that uses these settings."""
    for folder in (settings_file.import_root, *settings_file.import_root.parents):
        manage = sources.get(folder / "manage.py")
        if manage is not None and runs_settings(manage, module):
            return manage.path
    return None


class _PathReader:
    """Evaluate the few path expressions settings use, as project-relative paths.

    Gives None for anything else: a value from the environment, an absolute path, a
    folder outside the project.
    """

    def __init__(self, settings: dict[str, Setting | None], *, cwd: PurePosixPath) -> None:
        self.settings = settings
        self.cwd = cwd  # the folder the site runs in, project-relative

    def path(self, node: ast.expr, source: SourceFile, *, depth: int) -> PurePosixPath | None:
        readers: dict[type[ast.expr], Callable[[Any, SourceFile, int], PurePosixPath | None]]
        readers = {
            ast.Name: self._name,
            ast.Constant: self._constant,
            ast.BinOp: self._divided,
            ast.Attribute: self._attribute,
            ast.Subscript: self._subscript,
            ast.Call: self._call,
        }
        reader = readers.get(type(node))
        if reader is None or depth > 10:
            return None
        value = reader(node, source, depth + 1)
        return None if value is None or ".." in value.parts else value

    def _name(self, node: ast.Name, source: SourceFile, depth: int) -> PurePosixPath | None:
        if node.id == "__file__":
            return source.path
        setting = self.settings.get(node.id)
        return None if setting is None else self.path(setting.value, setting.source, depth=depth)

    def _constant(self, node: ast.Constant, source: SourceFile, depth: int) -> PurePosixPath | None:
        # A relative path is relative to the working directory.
        text = _string(node)
        return None if text is None or text.startswith("/") else self.cwd / text

    def _divided(self, node: ast.BinOp, source: SourceFile, depth: int) -> PurePosixPath | None:
        if not isinstance(node.op, ast.Div):
            return None
        return _join(self.path(node.left, source, depth=depth), node.right)

    def _attribute(
        self, node: ast.Attribute, source: SourceFile, depth: int
    ) -> PurePosixPath | None:
        if node.attr != "parent":
            return None
        return _parent(self.path(node.value, source, depth=depth))

    def _subscript(
        self, node: ast.Subscript, source: SourceFile, depth: int
    ) -> PurePosixPath | None:
        """``path.parents[n]``."""
        if not (
            isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):
            return None
        value = self.path(node.value.value, source, depth=depth)
        for _ in range(node.slice.value + 1):
            value = _parent(value)
        return value

    def _call(self, node: ast.Call, source: SourceFile, depth: int) -> PurePosixPath | None:
        name = _callee(node.func)
        if name is None or node.keywords:
            return None
        if isinstance(node.func, ast.Attribute) and name in ("resolve", "absolute", "joinpath"):
            # Methods of a path: resolve() and absolute() keep it project-relative.
            base = self.path(node.func.value, source, depth=depth)
            return _join(base, *node.args) if name == "joinpath" or not node.args else None
        if not node.args:
            return None
        first = self.path(node.args[0], source, depth=depth)
        if name in ("Path", "pathlib.Path", "os.path.join"):
            return _join(first, *node.args[1:])
        if len(node.args) == 1 and name == "os.path.dirname":
            return _parent(first)
        same = ("os.path.abspath", "os.path.realpath", "os.path.normpath", "str", "os.fspath")
        return first if len(node.args) == 1 and name in same else None


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        inner = _callee(func.value) if not isinstance(func.value, ast.Call) else None
        if inner in ("os.path", "pathlib", "os") or (
            isinstance(func.value, ast.Name) and func.value.id in ("os", "pathlib")
        ):
            return f"{inner}.{func.attr}"
        return func.attr  # a method: .resolve(), .joinpath(...)
    return None


def _string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _join(base: PurePosixPath | None, *parts: ast.expr) -> PurePosixPath | None:
    """*base* joined with *parts*, each a relative path literal."""
    for part in parts:
        text = _string(part)
        if base is None or text is None or text.startswith("/"):
            return None
        base = base / text
    return base


def _parent(path: PurePosixPath | None) -> PurePosixPath | None:
    """The folder above *path*; None above the project."""
    if path is None or path == ROOT:
        return None
    return path.parent


# --- hosts ------------------------------------------------------------------------


def _allowed_hosts(
    settings: dict[str, Setting | None], notes: list[str]
) -> tuple[tuple[str, ...], Evidence] | None:
    setting = settings.get("ALLOWED_HOSTS")
    if setting is None:
        return None
    try:
        hosts = _literal(setting)
    except ValueError:
        notes.append(
            f"allowed-hosts: not set: {setting.evidence()} is computed when the settings "
            "run; the default ['*'] stays (Django still checks its own list)"
        )
        return None
    if not isinstance(hosts, list | tuple) or not all(isinstance(h, str) for h in hosts):
        return None
    if not hosts or list(hosts) == ["*"]:
        return None
    return tuple(hosts), setting.evidence(f"ALLOWED_HOSTS {list(hosts)}")


# --- paths the site writes --------------------------------------------------------


def _writes(settings: dict[str, Setting | None], settings_file: SourceFile) -> tuple[Written, ...]:
    """The paths inside the project the settings write: each ``LOGGING`` handler's
    ``filename``, ``MEDIA_ROOT``, and the folder of each SQLite database's ``NAME``.
    Paths from the environment, absolute ones and those outside the project are left:
    the image does not hold them (a volume or /tmp does)."""
    reader = _PathReader(settings, cwd=settings_file.import_root)
    found: list[Written] = []
    logging = settings.get("LOGGING")
    for name, handler in _entries(logging, "handlers"):
        filename = _entry(handler, "filename")
        path = reader.path(filename, logging.source, depth=0) if filename and logging else None
        if path is not None and logging is not None:
            why = Evidence(
                what=f"LOGGING handler {name!r} writes {path.as_posix()}",
                file=logging.source.path.as_posix(),
                line=filename.lineno if filename else logging.line,
            )
            found.append(Written(path=path, folder=False, why=why))
    media = settings.get("MEDIA_ROOT")
    if media is not None:
        path = reader.path(media.value, media.source, depth=0)
        if path is not None and path != ROOT:
            why = media.evidence(f"MEDIA_ROOT {path.as_posix()}, where uploads are saved")
            found.append(Written(path=path, folder=True, why=why))
    databases = settings.get("DATABASES")
    for alias, database in _entries(databases, None):
        engine, file = _entry(database, "ENGINE"), _entry(database, "NAME")
        if engine is None or file is None or databases is None:
            continue
        if "sqlite3" not in (_string(engine) or ""):
            continue
        path = reader.path(file, databases.source, depth=0)
        if path is not None:
            why = Evidence(
                what=f"DATABASES[{alias!r}] is SQLite in {path.as_posix()} (it writes its "
                "journal beside it)",
                file=databases.source.path.as_posix(),
                line=file.lineno,
            )
            found.append(Written(path=path.parent, folder=True, why=why))
    return tuple(found)


def _entries(setting: Setting | None, key: str | None) -> Iterator[tuple[str, ast.Dict]]:
    """The string-keyed dict entries of *setting* (a dict literal), or of its *key*."""
    table: ast.expr | None = setting.value if setting is not None else None
    if key is not None and isinstance(table, ast.Dict):
        table = _entry(table, key)
    if not isinstance(table, ast.Dict):
        return
    for name, value in zip(table.keys, table.values, strict=True):
        text = _string(name) if name is not None else None
        if text is not None and isinstance(value, ast.Dict):
            yield text, value


def _entry(table: ast.Dict, key: str) -> ast.expr | None:
    """The value of *key* in the dict literal *table*."""
    for name, value in zip(table.keys, table.values, strict=True):
        if name is not None and _string(name) == key:
            return value
    return None


def writable_choice(
    writes: tuple[Written, ...], root: PurePosixPath, notes: list[str]
) -> Choice | None:
    """The ``writable`` key for *writes*, relative to the app folder *root*, with notes
    for what it cannot hold: a file in a subfolder is proposed as its folder (where the
    app creates or rotates it); the app folder itself never."""
    entries: dict[str, Evidence] = {}
    for written in writes:
        path = written.path
        if not path.is_relative_to(root):
            continue  # outside the app folder: not in the image at all
        relative = path.relative_to(root)
        if not written.folder and relative.parent != PurePosixPath("."):
            relative, folder = relative.parent, True
        else:
            folder = written.folder
        if relative == PurePosixPath("."):
            notes.append(
                f"writable: not set for {written.why}: that is the app folder itself, which "
                "stays read-only; move it into a folder of its own (var/) and list that"
            )
            continue
        entry = relative.as_posix() + ("/" if folder else "")
        try:
            parse(entry, "writable")
        except ConfigError:
            notes.append(f"writable: not set for {written.why}: {entry!r} cannot be listed")
            continue
        entries.setdefault(entry, written.why)
    if not entries:
        return None
    choice = Choice(
        key="writable",
        value=sorted(entries),
        why=tuple(entries[key] for key in sorted(entries)),
        comment="Paths the app writes in its folder, owned by its user in the image (the\n"
        "rest stays read-only). Data to keep (uploads, a database) wants a volume.\n"
        + "\n".join(f"{key}: {entries[key]}" for key in sorted(entries)),
    )
    return choice
