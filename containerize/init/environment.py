"""Settings an application reads from the environment when it is imported.

The import check and the test matrix import the app: a twelve-factor app that reads
``SECRET_KEY`` or ``DATABASE_URL`` from the environment at import fails there unless
the variable is set. init finds those reads in the code an import runs and proposes
placeholder values for ``[tool.containerize.test] env``, which the check and the
matrix use and no image ever holds.

The code an import runs: the app's module, the modules it imports from the project
(transitively, at module level), the body of the factory the app spec calls, the
bodies of the project's functions that code calls by name (a few calls deep), and
Django's settings (with what they import). In each, module-level statements and class
bodies; never the body of a function nobody calls at import, nor ``if __name__ ==
"__main__":``. A read counts when nothing supplies a default:

- ``os.environ["X"]``; ``os.getenv("X")`` and ``os.environ.get("X")`` with one argument;
- django-environ: ``env("X")``, ``env.str("X")``, ``env.db()`` (``DATABASE_URL``),
  ``env.cache()`` (``CACHE_URL``), ... without ``default=`` and without a default given
  to ``environ.Env(X=(type, default))``;
- python-decouple: ``config("X")`` without ``default=``;
- pydantic ``BaseSettings`` fields without a default (with the class's ``env_prefix``).

It also notes the database and cache servers the settings point at (PostgreSQL,
MySQL, Redis), which the test matrix would need beside the app.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from containerize.init.model import Evidence, quote
from containerize.init.sources import SourceFile, Sources, is_main_guard, resolve_import

#: Modules followed from the app, at most.
MAX_MODULES = 60
#: Calls followed into the project's functions from import-time code, at most.
_CALL_DEPTH = 3
#: django-environ's methods that read a URL from a variable of their own by default.
ENVIRON_DEFAULT_VARS = {
    "db": "DATABASE_URL",
    "db_url": "DATABASE_URL",
    "cache": "CACHE_URL",
    "cache_url": "CACHE_URL",
    "email": "EMAIL_URL",
    "email_url": "EMAIL_URL",
    "search_url": "SEARCH_URL",
}
_ENVIRON_METHODS = frozenset(
    {
        "str", "bool", "int", "float", "json", "list", "tuple", "dict", "url", "path",
        "bytes", "decimal", "parse_value", *ENVIRON_DEFAULT_VARS,
    }
)  # fmt: skip
_SERVICES = {
    "PostgreSQL": re.compile(
        r"\b(postgres(?:ql)?(?:\+\w+)?|postgis|pgsql)://|backends\.(postgresql|postgis)"
    ),
    "MySQL": re.compile(r"\b(mysql(?:\+\w+)?|mariadb)://|backends\.mysql"),
    "Redis": re.compile(r"\brediss?://|django_redis|backends\.redis\.RedisCache"),
}


@dataclass(frozen=True, kw_only=True)
class Read:
    """One variable the import reads, with a placeholder value and where."""

    name: str
    placeholder: str
    evidence: Evidence


@dataclass(frozen=True, kw_only=True)
class Found:
    reads: tuple[Read, ...]
    services: tuple[tuple[str, Evidence], ...]  # (PostgreSQL, where it is named)
    #: The project's files an import of the app runs.
    files: frozenset[PurePosixPath] = frozenset()
    #: The code an import of the app runs: each file's import-time statements.
    code: tuple[tuple[SourceFile, tuple[ast.stmt, ...]], ...] = ()


def find(
    sources: Sources,
    modules: list[SourceFile],
    *,
    factories: Sequence[tuple[SourceFile, str]] = (),
) -> Found:
    """The variables read when *modules* (the app's, Django's settings) are imported,
    and the database servers they name; *factories*: the functions the app spec (or a
    Paste Deploy file's ``call:``) calls."""
    seen: dict[PurePosixPath, SourceFile] = {}
    bodies: list[tuple[SourceFile, list[ast.stmt]]] = []
    _follow(modules, sources, seen, bodies)
    called: set[int] = set()
    for source, name in factories:
        function = _function(source, name)
        if function is not None:
            called.add(id(function))
            body = _import_time(function.body)
            bodies.append((source, body))
            _follow(list(_imported(source, sources, body)), sources, seen, bodies)
    # Functions of the project that import-time code calls run at import too
    # (application = create_app() in a wsgi.py): their bodies, a few calls deep.
    for _ in range(_CALL_DEPTH):
        more: list[tuple[SourceFile, list[ast.stmt]]] = []
        for source, body in bodies:
            for other, function in _calls(source, body, sources):
                if id(function) not in called:
                    called.add(id(function))
                    more.append((other, _import_time(function.body)))
        if not more:
            break
        bodies.extend(more)
    reads: dict[str, Read] = {}
    services: dict[str, Evidence] = {}
    for source, body in bodies:
        for read in _reads(source, body):
            reads.setdefault(read.name, read)
        for service, evidence in _services(source, body):
            services.setdefault(service, evidence)
    return Found(
        reads=tuple(sorted(reads.values(), key=lambda r: r.name)),
        services=tuple(sorted(services.items())),
        files=frozenset(source.path for source, _ in bodies),
        code=tuple((source, tuple(body)) for source, body in bodies),
    )


def _function(source: SourceFile, name: str) -> ast.FunctionDef | None:
    """The module-level ``def name`` of *source*."""
    for statement in source.tree.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == name:
            return statement
    return None


def _calls(
    source: SourceFile, body: list[ast.stmt], sources: Sources
) -> Iterator[tuple[SourceFile, ast.FunctionDef]]:
    """The project's functions *body* calls by name: defined in *source*, or imported
    into it with ``from module import name``."""
    imported: dict[str, tuple[str, str]] = {}
    for statement in source.tree.body:
        if isinstance(statement, ast.ImportFrom):
            module = resolve_import(source, statement)
            if module is not None:
                for alias in statement.names:
                    imported[alias.asname or alias.name] = (module, alias.name)
    for statement in body:
        for node in _walk(statement):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            name = node.func.id
            function = _function(source, name)
            if function is not None:
                yield source, function
            elif name in imported:
                module, original = imported[name]
                other = sources.module(module, near=source.import_root)
                function = _function(other, original) if other is not None else None
                if other is not None and function is not None:
                    yield other, function


def _follow(
    modules: list[SourceFile],
    sources: Sources,
    seen: dict[PurePosixPath, SourceFile],
    bodies: list[tuple[SourceFile, list[ast.stmt]]],
) -> None:
    """*modules* and the project's modules they import, each once, into *bodies*."""
    pending = list(modules)
    while pending and len(seen) < MAX_MODULES:
        source = pending.pop(0)
        if source.path in seen:
            continue
        seen[source.path] = source
        body = _import_time(source.tree.body)
        bodies.append((source, body))
        pending.extend(_imported(source, sources, body))


_TEXT_METHODS = frozenset({"replace", "startswith", "endswith", "removeprefix", "split"})


def _services(source: SourceFile, body: list[ast.stmt]) -> Iterator[tuple[str, Evidence]]:
    """The database and cache servers string literals in *body* point at."""
    for statement in body:
        if isinstance(statement, ast.Raise) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        ):
            continue  # an error message or a docstring: it describes, it points at nothing
        # url.replace("postgres://", "postgresql://"), url.startswith("redis://"): a
        # scheme the code rewrites or tests is no server the app points at.
        text_only = {
            id(arg)
            for node in ast.walk(statement)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _TEXT_METHODS
            for arg in node.args
        }
        for node in ast.walk(statement):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in text_only:
                continue
            for service, pattern in _SERVICES.items():
                if pattern.search(node.value):
                    what = repr(node.value)[:80]
                    yield (
                        service,
                        Evidence(what=what, file=source.path.as_posix(), line=node.lineno),
                    )


def _import_time(body: list[ast.stmt]) -> list[ast.stmt]:
    """The simple statements of *body* an import may run, class bodies included:
    through ``if``/``try``/``with``, never into functions or ``__main__``."""
    found: list[ast.stmt] = []
    for statement in body:
        if isinstance(statement, ast.If):
            if not is_main_guard(statement.test):  # its test only asks whether a value is set
                found += _import_time(statement.body)
            found += _import_time(statement.orelse)
        elif isinstance(statement, ast.With | ast.AsyncWith):
            found += _import_time(statement.body)
        elif isinstance(statement, ast.Try):
            found += _import_time(statement.body)
            for handler in statement.handlers:
                found += _import_time(handler.body)
            found += _import_time(statement.orelse) + _import_time(statement.finalbody)
        elif not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(statement)  # class bodies run at import too
    return found


def _imported(source: SourceFile, sources: Sources, body: list[ast.stmt]) -> Iterator[SourceFile]:
    """The project's modules *body* imports."""
    for statement in body:
        names: list[str] = []
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom):
            module = resolve_import(source, statement)
            if module is not None:
                names = [module, *(f"{module}.{a.name}" for a in statement.names if a.name != "*")]
        for name in names:
            found = sources.module(name, near=source.import_root)
            if found is not None:
                yield found


# --- reads ------------------------------------------------------------------------


class Names:
    """How a module refers to ``os.environ``, ``os.getenv``, django-environ's ``Env``
    instances and decouple's ``config``."""

    def __init__(self, tree: ast.Module) -> None:
        self.os_modules: set[str] = set()
        self.environ: set[str] = set()  # os.environ imported by name
        self.getenv: set[str] = set()
        self.env_module: set[str] = set()  # django-environ's module ('environ')
        self.env_class: set[str] = set()
        self.decouple: set[str] = set()  # decouple's config, and AutoConfig instances
        self.auto_config: set[str] = set()  # decouple's AutoConfig class
        self.settings_bases: set[str] = {"BaseSettings"}  # pydantic's, as imported
        # env = environ.Env(...): the instances, and the names their schemes default.
        self.env_instances: set[str] = set()
        self.env_defaults: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._module(alias.name, alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                for alias in node.names:
                    self._name(node.module, alias.name, alias.asname or alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                self._instance(node.value, [t.id for t in node.targets if isinstance(t, ast.Name)])

    def _module(self, module: str, bound: str) -> None:
        if module == "os":
            self.os_modules.add(bound)
        elif module == "environ":
            self.env_module.add(bound)

    def _name(self, module: str, name: str, bound: str) -> None:
        sets = {
            ("os", "environ"): self.environ,
            ("os", "getenv"): self.getenv,
            ("environ", "Env"): self.env_class,
            ("decouple", "config"): self.decouple,
            ("decouple", "AutoConfig"): self.auto_config,
            ("pydantic_settings", "BaseSettings"): self.settings_bases,
            ("pydantic", "BaseSettings"): self.settings_bases,
        }
        found = sets.get((module, name))
        if found is not None:
            found.add(bound)

    def _instance(self, call: ast.Call, targets: list[str]) -> None:
        if self._is_env_class(call.func):
            self.env_instances.update(targets)
            self.env_defaults.update(
                keyword.arg
                for keyword in call.keywords
                if keyword.arg
                and isinstance(keyword.value, ast.Tuple)
                and len(keyword.value.elts) > 1
            )
        elif isinstance(call.func, ast.Name) and call.func.id in self.auto_config:
            self.decouple.update(targets)  # config = AutoConfig(search_path=...)

    def _is_env_class(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.env_class
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "Env"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.env_module
        )

    def is_environ(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.environ
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id in self.os_modules
        )

    def is_getenv(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.getenv
        if isinstance(func, ast.Attribute) and func.attr == "getenv":
            return isinstance(func.value, ast.Name) and func.value.id in self.os_modules
        return (
            isinstance(func, ast.Attribute) and func.attr == "get" and self.is_environ(func.value)
        )


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _secret_key(statement: ast.stmt, value: ast.expr) -> bool:
    """Whether *statement* is the module-level ``SECRET_KEY = <value>``: an import
    survives it as None, but Django answers every request that needs it with 500
    ("The SECRET_KEY setting must not be empty"), so the test matrix needs a value."""
    return (
        isinstance(statement, ast.Assign)
        and statement.value is value
        and any(isinstance(t, ast.Name) and t.id == "SECRET_KEY" for t in statement.targets)
    )


def _has_default(call: ast.Call) -> bool:
    return any(k.arg == "default" for k in call.keywords)


def _reads(source: SourceFile, body: list[ast.stmt]) -> Iterator[Read]:
    names = Names(source.tree)
    optional = _optional(source.tree, names)
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            yield from _pydantic(source, statement, names)
            nodes = [
                n for s in statement.body if not isinstance(s, ast.FunctionDef) for n in ast.walk(s)
            ]
        else:
            nodes = list(_walk(statement))
        # 'os.environ.get("X") or default', and a test that asks whether X is set.
        defaulted = {
            id(value)
            for node in nodes
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)
            for value in node.values[:-1]
        } | {id(node.test) for node in nodes if isinstance(node, ast.IfExp)}
        # os.environ.get("DEBUG") == "1": the value is compared, so its absence is an
        # answer too (a subscript still raises).
        compared = {
            id(operand)
            for node in nodes
            if isinstance(node, ast.Compare)
            for operand in (node.left, *node.comparators)
            if isinstance(operand, ast.Call)
        }
        # os.environ.get("X") is None when X is unset, which an import survives unless
        # the value is used at once: .split(","), ["k"], + "/", int(...).
        used = {
            id(value)
            for node in nodes
            for value in (
                [node.value]
                if isinstance(node, ast.Attribute | ast.Subscript)
                else [node.left, node.right]
                if isinstance(node, ast.BinOp)
                else node.args
                if isinstance(node, ast.Call)
                else []
            )
        }
        for node in nodes:
            if id(node) in defaulted or id(node) in compared or id(node) in optional:
                continue
            if (
                isinstance(node, ast.Call)
                and names.is_getenv(node.func)
                and id(node) not in used
                and not _secret_key(statement, node)
            ):
                continue
            found = _read(node, names)
            if found is None or not isinstance(node, ast.expr):
                continue
            name, kind = found
            yield Read(
                name=name,
                placeholder=placeholder(name, kind),
                evidence=Evidence(
                    what=quote(source.text, node), file=source.path.as_posix(), line=node.lineno
                ),
            )


def _optional(tree: ast.Module, names: Names) -> set[int]:
    """The nodes that run only when a variable is set: the body of
    ``if "X" in os.environ:`` (or ``if os.getenv("X"):``), the ``else`` of
    ``if "X" not in os.environ:``. A setting read there is an optional feature the
    user turns on, never one an import needs."""
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            when = _asks_set(node.test, names)
            branch = node.body if when is True else node.orelse if when is False else []
            optional.update(id(n) for statement in branch for n in ast.walk(statement))
    return optional


def _asks_set(test: ast.expr, names: Names) -> bool | None:
    """True when *test* holds only if some variable is set, False when only if one is
    unset, None otherwise."""
    answer: bool | None = None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _asks_set(test.operand, names)
        answer = None if inner is None else not inner
    elif isinstance(test, ast.BoolOp):
        answers = [_asks_set(value, names) for value in test.values]
        # "A" in environ and x: A is set; "A" in environ or "B" in environ: one is.
        answer = next(
            (
                polarity
                for polarity in (True, False)
                if (isinstance(test.op, ast.And) and polarity in answers)
                or (isinstance(test.op, ast.Or) and all(a is polarity for a in answers))
            ),
            None,
        )
    elif (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.In | ast.NotIn)
        and names.is_environ(test.comparators[0])
    ):
        answer = isinstance(test.ops[0], ast.In)
    elif isinstance(test, ast.Call) and names.is_getenv(test.func):
        answer = True
    return answer


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """*node* and what it holds, but not what a function or lambda defers."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child)


def _read(node: ast.AST, names: Names) -> tuple[str, str] | None:
    """(variable, kind) when *node* reads a variable without a default."""
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and names.is_environ(node.value)
        and (name := _string(node.slice)) is not None
    ):
        return name, "str"
    if not isinstance(node, ast.Call) or _has_default(node):
        return None
    if names.is_getenv(node.func):
        name = _string(node.args[0]) if len(node.args) == 1 else None
        return (name, "str") if name is not None else None
    if isinstance(node.func, ast.Name) and node.func.id in names.decouple:
        name = _string(node.args[0]) if node.args else None
        cast = next((k.value for k in node.keywords if k.arg == "cast"), None)
        return (name, ast.unparse(cast) if cast is not None else "str") if name else None
    return _django_environ(node, names)


def _django_environ(call: ast.Call, names: Names) -> tuple[str, str] | None:
    """``env("X")``, ``env.str("X")``, ``env.db()`` of a django-environ ``Env``."""
    func, method = call.func, "str"
    if isinstance(func, ast.Attribute) and func.attr in _ENVIRON_METHODS:
        method, func = func.attr, func.value
    if not isinstance(func, ast.Name) or func.id not in names.env_instances:
        return None
    if len(call.args) > 1:
        return None  # env("X", default) in the positional form
    name = _string(call.args[0]) if call.args else ENVIRON_DEFAULT_VARS.get(method)
    if name is None or name in names.env_defaults:
        return None
    return name, method


def _pydantic(source: SourceFile, cls: ast.ClassDef, names: Names) -> Iterator[Read]:
    """Fields without defaults of a ``BaseSettings`` subclass."""
    if not any(ast.unparse(b).rpartition(".")[2] in names.settings_bases for b in cls.bases):
        return
    prefix = ""
    for statement in cls.body:
        for node in ast.walk(statement):
            if (isinstance(node, ast.keyword) and node.arg == "env_prefix") or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "env_prefix" for t in node.targets)
            ):
                prefix = _string(node.value) or ""
    for statement in cls.body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        field = statement.target.id
        if field == "model_config" or field.startswith("_"):
            continue
        value = statement.value
        required = value is None or (
            isinstance(value, ast.Call)
            and ast.unparse(value.func).endswith("Field")
            and (
                not value.args
                or (isinstance(value.args[0], ast.Constant) and value.args[0].value is Ellipsis)
            )
            and not any(k.arg in ("default", "default_factory") for k in value.keywords)
        )
        if not required:
            continue
        name = (prefix + field).upper()
        yield Read(
            name=name,
            placeholder=placeholder(name, ast.unparse(statement.annotation)),
            evidence=Evidence(
                what=f"{cls.name}.{field}: {ast.unparse(statement.annotation)} (BaseSettings)",
                file=source.path.as_posix(),
                line=statement.lineno,
            ),
        )


#: Placeholder values, the first that fits: (kinds, words in the name, value). A kind is
#: the read's type (django-environ's method, decouple's cast, a pydantic annotation).
_PLACEHOLDERS: tuple[tuple[frozenset[str], tuple[str, ...], str], ...] = (
    (frozenset({"bool"}), ("DEBUG",), "false"),
    (frozenset({"int", "float", "decimal"}), ("PORT", "_TIMEOUT", "_SECONDS"), "1"),
    (
        frozenset({"db", "db_url", "postgresdsn"}),
        ("DATABASE_URL", "DB_URL"),
        "postgres://placeholder:placeholder@localhost:5432/placeholder",
    ),
    (
        frozenset({"cache", "cache_url", "redisdsn"}),
        ("REDIS", "CACHE_URL"),
        "redis://localhost:6379/0",
    ),
    (frozenset({"email", "email_url"}), ("EMAIL_URL",), "consolemail://"),
    (frozenset(), ("HOSTS", "ORIGINS"), "*"),
    (frozenset({"url", "anyurl", "httpurl"}), ("_URL", "_DSN"), "http://localhost/"),
)


def placeholder(name: str, kind: str) -> str:
    """A value that lets the import go through, chosen by the read's type and name."""
    upper, kind = name.upper(), kind.lower().rpartition(".")[2]
    for kinds, words, value in _PLACEHOLDERS:
        if kind in kinds or any(word in upper for word in words):
            return value
    return "placeholder"
