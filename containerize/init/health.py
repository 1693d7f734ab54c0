"""The path whose answer tells that the site is up: ``healthcheck-path``.

The default ``/`` is right for most sites. Two cases are not:

- the code an import of the app runs routes a health endpoint: ``/health`` or
  ``/healthz`` (also with a trailing slash, as Django writes ``path("health/", ...)``),
  in a Flask app's or an unprefixed blueprint's ``route``/``get``, Pyramid's
  ``add_route``, or Django's root URLconf;
- a Django site whose ``/`` is not routed (404) or needs a login
  (``login_required``, ``LoginRequiredMixin``): its ``LOGIN_URL`` answers 200 to
  anyone, when the settings set it to a path.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from containerize.init.model import Evidence, quote
from containerize.init.sources import SourceFile, Sources, resolve_import, top_level

_HEALTH = re.compile(r"/?(health|healthz|healthcheck|_health|-/health)/?")
_ROUTE_METHODS = frozenset({"route", "get", "add_url_rule"})
# URLconfs followed through include() with an empty prefix, at most.
_MAX_INCLUDES = 3


@dataclass(frozen=True, kw_only=True)
class HealthPath:
    path: str
    why: tuple[Evidence | str, ...]


def health_route(sources: Sources, within: Collection[PurePosixPath]) -> HealthPath | None:
    """A ``/health`` or ``/healthz`` route that Flask or Pyramid code serves at that
    very path (not under a blueprint's prefix), in the files an import of the app
    runs (*within*)."""
    for source in sources.containing("health"):
        if source.path not in within:
            continue
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            if not isinstance(func, ast.Attribute):
                continue
            path: str | None = None
            if func.attr in _ROUTE_METHODS and _unprefixed(func.value, source):
                path = _string(node.args[0])
            elif func.attr == "add_route" and len(node.args) > 1:  # Pyramid
                path = _string(node.args[1])
            if path is None or not path.startswith("/") or not _HEALTH.fullmatch(path):
                continue
            return HealthPath(
                path=path,
                why=(
                    Evidence(
                        what=f"{quote(source.text, node)} routes {path}",
                        file=source.path.as_posix(),
                        line=node.lineno,
                    ),
                ),
            )
    return None


def _unprefixed(receiver: ast.expr, source: SourceFile) -> bool:
    """Whether *receiver* is bound in *source* (at module level or in a factory) to a
    ``Flask(...)``, or to a ``Blueprint(...)`` without ``url_prefix``."""
    if not isinstance(receiver, ast.Name):
        return False
    for statement in ast.walk(source.tree):
        if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
            continue
        if not any(isinstance(t, ast.Name) and t.id == receiver.id for t in statement.targets):
            continue
        kind = ast.unparse(statement.value.func).rpartition(".")[2]
        if kind == "Flask":
            return True
        if kind == "Blueprint":
            return not any(k.arg == "url_prefix" for k in statement.value.keywords)
    return False


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# --- Django -----------------------------------------------------------------------


def django(
    sources: Sources, settings: SourceFile, values: dict[str, ast.expr]
) -> HealthPath | None:
    """For a Django site (its settings' module-level *values*): a health route in
    the root URLconf, else ``LOGIN_URL`` when ``/`` needs a login or is not routed."""
    urlconf = _string(values.get("ROOT_URLCONF"))
    module = sources.module(urlconf, near=settings.import_root) if urlconf else None
    if module is None:
        return None
    patterns = list(_patterns(module, sources, prefix="", depth=0))
    for route, source, node in patterns:
        if _HEALTH.fullmatch(route):
            return HealthPath(
                path="/" + route.lstrip("/"),
                why=(
                    Evidence(
                        what=f"{quote(source.text, node)} routes /{route.lstrip('/')}",
                        file=source.path.as_posix(),
                        line=node.lineno,
                    ),
                ),
            )
    login = _string(values.get("LOGIN_URL"))
    if login is None or not login.startswith("/") or not re.fullmatch(r"/[\w./-]*", login):
        return None
    login_line = Evidence(what=f"LOGIN_URL {login}", file=settings.path.as_posix())
    login_line = _setting_evidence(settings, "LOGIN_URL") or login_line
    root = [(source, node) for route, source, node in patterns if route in ("", "/")]
    if not root:
        return HealthPath(
            path=login,
            why=(
                login_line,
                Evidence(what="no pattern routes /", file=module.path.as_posix()),
            ),
        )
    source, node = root[0]
    if _needs_login(node, source, sources):
        return HealthPath(
            path=login,
            why=(
                login_line,
                Evidence(
                    what=f"/ needs a login: {quote(source.text, node)}",
                    file=source.path.as_posix(),
                    line=node.lineno,
                ),
            ),
        )
    return None


def _setting_evidence(settings: SourceFile, name: str) -> Evidence | None:
    for statement in top_level(settings.tree):
        if isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in statement.targets
        ):
            value = quote(settings.text, statement.value)
            return Evidence(
                what=f"{name} = {value}", file=settings.path.as_posix(), line=statement.lineno
            )
    return None


def _patterns(
    module: SourceFile, sources: Sources, *, prefix: str, depth: int
) -> Iterator[tuple[str, SourceFile, ast.Call]]:
    """(route, file, call) of each ``path()``/``re_path()``/``url()`` in *module*'s
    ``urlpatterns``; ``include()`` under an empty prefix is followed."""
    for statement in top_level(module.tree):
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
            value = statement.value
        elif isinstance(statement, ast.AugAssign):
            targets, value = [statement.target], statement.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "urlpatterns" for t in targets):
            continue
        for node in ast.walk(value):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            kind = ast.unparse(node.func).rpartition(".")[2]
            raw = _string(node.args[0])
            if kind not in ("path", "re_path", "url") or raw is None:
                continue
            route = raw if kind == "path" else _regex_route(raw)
            if route is None:
                continue
            target = node.args[1]
            if isinstance(target, ast.Call) and ast.unparse(target.func).endswith("include"):
                included = _string(target.args[0]) if target.args else None
                other = sources.module(included, near=module.import_root) if included else None
                if other is not None and depth < _MAX_INCLUDES:
                    yield from _patterns(other, sources, prefix=prefix + route, depth=depth + 1)
                continue
            yield prefix + route, module, node


def _regex_route(pattern: str) -> str | None:
    """A regex route's literal path (``^health/$`` -> ``health/``); None if not literal."""
    text = pattern.removeprefix("^").removesuffix("$")
    return text if re.fullmatch(r"[\w/-]*", text) else None


def _needs_login(node: ast.Call, source: SourceFile, sources: Sources) -> bool:
    """Whether the view *node* routes is ``login_required(...)``, a function decorated
    with it, or a class view with ``LoginRequiredMixin``."""
    view = node.args[1]
    if isinstance(view, ast.Call) and ast.unparse(view.func).endswith("login_required"):
        return True
    if (
        isinstance(view, ast.Call)
        and isinstance(view.func, ast.Attribute)
        and view.func.attr == "as_view"
    ):
        view = view.func.value  # SomeView.as_view()
    definition = _definition(view, source, sources)
    if isinstance(definition, ast.FunctionDef):
        return any(
            ast.unparse(d).split("(")[0].endswith("login_required")
            for d in definition.decorator_list
        )
    if isinstance(definition, ast.ClassDef):
        return any(ast.unparse(b).endswith("LoginRequiredMixin") for b in definition.bases)
    return False


def _definition(view: ast.expr, source: SourceFile, sources: Sources) -> ast.AST | None:
    """The ``def`` or ``class`` *view* (``views.home``, ``home``) names in the project."""
    dotted = ast.unparse(view).split(".")
    name, qualifier = dotted[-1], dotted[:-1]
    for statement in top_level(source.tree):
        if (
            isinstance(statement, ast.FunctionDef | ast.ClassDef)
            and statement.name == name
            and not qualifier
        ):
            return statement
        if not isinstance(statement, ast.ImportFrom):
            continue
        module = resolve_import(source, statement)
        if module is None:
            continue
        for alias in statement.names:
            bound = alias.asname or alias.name
            if qualifier == [bound]:  # from . import views; views.home
                target = sources.module(f"{module}.{alias.name}", near=source.import_root)
            elif not qualifier and bound == name:  # from .views import home
                target = sources.module(module, near=source.import_root)
                name = alias.name
            else:
                continue
            if target is None:
                return None
            for inner in top_level(target.tree):
                if isinstance(inner, ast.FunctionDef | ast.ClassDef) and inner.name == name:
                    return inner
    return None
