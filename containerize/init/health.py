"""The path whose answer tells that the site is up: ``healthcheck-path``.

The default ``/`` is right for most sites. Two cases are not:

- the code an import of the app runs routes a health endpoint: ``/health`` or
  ``/healthz`` (also with a trailing slash, as Django writes ``path("health/", ...)``),
  in a Flask app's or an unprefixed blueprint's ``route``/``get``, Pyramid's
  ``add_route``, or Django's root URLconf;
- a Django site whose ``/`` is not routed (404) or needs a login
  (``login_required``, ``LoginRequiredMixin``, or Django 5.1's
  ``LoginRequiredMiddleware`` unless the view is ``login_not_required``): its
  ``LOGIN_URL`` answers 200 to anyone, when the settings set it to a path;
- a Flask app whose ``/`` needs a login (``@login_required``): Flask-Login's
  ``login_view`` (``login.login_view = 'auth.login'``), as the path of the view that
  endpoint names: the blueprint's route under its ``url_prefix`` (the Blueprint's, or
  the ``register_blueprint`` call's). Only where every part reads statically: the
  manager is a ``LoginManager()``, the blueprint is found and registered once.
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


# --- Flask-Login --------------------------------------------------------------------

# A route, as the view function's decorator and the receiver's Flask or Blueprint call.
_Route = tuple[str, SourceFile, ast.FunctionDef, ast.Call]


def flask_login(sources: Sources, within: Collection[PurePosixPath]) -> HealthPath | None:
    """Flask-Login's ``login_view`` path, where the app's ``/`` needs a login; in the
    files an import of the app runs (*within*)."""
    found = _login_view(sources, within)
    if found is None:
        return None
    endpoint, evidence = found
    routes = list(_routes(sources, within))
    root = [r for r in routes if r[0] == "/"]
    if len(root) != 1 or not _decorated(root[0][2], "login_required"):
        return None
    blueprint, _, function = endpoint.rpartition(".")
    login = [r for r in routes if _endpoint(r) == (blueprint, function)]
    if len(login) != 1:
        return None
    path, source, view, _ = login[0]
    if not re.fullmatch(r"/[\w./-]*", path):
        return None
    _, root_source, root_view, _ = root[0]
    return HealthPath(
        path=path,
        why=(
            evidence,
            Evidence(
                what=f"{endpoint} is {view.name}(), routed at {path}",
                file=source.path.as_posix(),
                line=view.lineno,
            ),
            Evidence(
                what=f"/ needs a login: @login_required {root_view.name}()",
                file=root_source.path.as_posix(),
                line=root_view.lineno,
            ),
        ),
    )


def _login_view(sources: Sources, within: Collection[PurePosixPath]) -> tuple[str, Evidence] | None:
    """The one ``X.login_view = 'endpoint'`` where X is bound to ``LoginManager(...)``."""
    found: list[tuple[str, Evidence]] = []
    for source in sources.containing("login_view"):
        if source.path not in within:
            continue
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            target, value = node.targets[0], _string(node.value)
            if not (
                isinstance(target, ast.Attribute)
                and target.attr == "login_view"
                and isinstance(target.value, ast.Name)
                and value
                and _bound_to(target.value.id, source, "LoginManager")
            ):
                continue
            found.append(
                (
                    value,
                    Evidence(
                        what=quote(source.text, node),
                        file=source.path.as_posix(),
                        line=node.lineno,
                    ),
                )
            )
    return found[0] if len(found) == 1 else None


def _bound_to(name: str, source: SourceFile, kind: str) -> ast.Call | None:
    """The ``kind(...)`` call *name* is bound to in *source*, if it is."""
    for node in ast.walk(source.tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).rpartition(".")[2] == kind
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ):
            return node.value
    return None


def _receiver(
    name: str, source: SourceFile, sources: Sources
) -> tuple[SourceFile, ast.Call] | None:
    """The ``Flask(...)`` or ``Blueprint(...)`` call *name* stands for in *source*:
    bound there, or imported (``from app.auth import bp``) from where it is bound."""
    for kind in ("Flask", "Blueprint"):
        call = _bound_to(name, source, kind)
        if call is not None:
            return source, call
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            if (alias.asname or alias.name) != name:
                continue
            module = resolve_import(source, node)
            other = sources.module(module, near=source.import_root) if module else None
            if other is None or other.path == source.path:
                return None
            for kind in ("Flask", "Blueprint"):
                call = _bound_to(alias.name, other, kind)
                if call is not None:
                    return other, call
            return None
    return None


def _routes(sources: Sources, within: Collection[PurePosixPath]) -> Iterator[_Route]:
    """(full path, file, view, receiver's call) of each ``@X.route('/path')`` whose X
    reads statically as the app or a blueprint registered once."""
    prefixes = _registrations(sources, within)
    for source in sources.containing("route"):
        for view in ast.walk(source.tree):
            if not isinstance(view, ast.FunctionDef):
                continue
            for decorator in view.decorator_list:
                if not (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr in ("route", "get")
                    and isinstance(decorator.func.value, ast.Name)
                    and decorator.args
                ):
                    continue
                route = _string(decorator.args[0])
                receiver = _receiver(decorator.func.value.id, source, sources)
                if route is None or receiver is None:
                    continue
                where, call = receiver
                kind = ast.unparse(call.func).rpartition(".")[2]
                if kind == "Flask":
                    prefix = ""
                else:
                    key = (where.path, call.lineno)
                    if key not in prefixes:
                        continue  # not registered, or registered in a way not read
                    prefix = prefixes[key] or _keyword(call, "url_prefix") or ""
                path = prefix.rstrip("/") + route if route != "/" or not prefix else prefix
                yield (path or "/"), source, view, call


def _registrations(
    sources: Sources, within: Collection[PurePosixPath]
) -> dict[tuple[PurePosixPath, int], str | None]:
    """Each blueprint registered exactly once (by its ``Blueprint(...)`` call's file and
    line): the ``url_prefix`` the registration gives, or None for the blueprint's own."""
    seen: dict[tuple[PurePosixPath, int], list[str | None]] = {}
    for source in sources.containing("register_blueprint"):
        if source.path not in within:
            continue
        for node in ast.walk(source.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "register_blueprint"
                and node.args
                and isinstance(node.args[0], ast.Name)
            ):
                continue
            receiver = _receiver(node.args[0].id, source, sources)
            if receiver is None:
                continue
            where, call = receiver
            given = [k for k in node.keywords if k.arg in ("url_prefix", None)]
            prefix = _keyword(node, "url_prefix")
            # A prefix that is not a literal (or **options) leaves the path unknown.
            known = not given or prefix is not None
            seen.setdefault((where.path, call.lineno), []).append(prefix if known else _UNKNOWN)
    return {
        key: found[0] for key, found in seen.items() if len(found) == 1 and found[0] != _UNKNOWN
    }


_UNKNOWN = "\0"


def _keyword(call: ast.Call, name: str) -> str | None:
    return next((_string(k.value) for k in call.keywords if k.arg == name), None)


def _endpoint(route: _Route) -> tuple[str, str]:
    """(blueprint name or "", endpoint) of *route*'s view, as ``url_for`` names it."""
    _, _, view, call = route
    decorators = [d for d in view.decorator_list if isinstance(d, ast.Call)]
    named = next((_keyword(d, "endpoint") for d in decorators if _keyword(d, "endpoint")), None)
    blueprint = ""
    if ast.unparse(call.func).rpartition(".")[2] == "Blueprint":
        blueprint = (_string(call.args[0]) if call.args else _keyword(call, "name")) or "?"
    return blueprint, named or view.name


def _decorated(view: ast.FunctionDef, name: str) -> bool:
    return any(ast.unparse(d).split("(")[0].endswith(name) for d in view.decorator_list)


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
    needs = _root_needs_login(node, source, sources, _login_middleware(settings, values))
    return HealthPath(path=login, why=(login_line, needs)) if needs is not None else None


def _root_needs_login(
    node: ast.Call, source: SourceFile, sources: Sources, middleware: Evidence | None
) -> Evidence | None:
    """Why the view routed at ``/`` (*node*) needs a login, if it does: Django 5.1's
    LoginRequiredMiddleware (*middleware*, where the settings list it) unless the view
    is marked login_not_required, or the view's own decorator or mixin."""
    if middleware is not None:
        return None if _wraps_or_decorated(node, source, sources, _EXEMPT) else middleware
    if not _needs_login(node, source, sources):
        return None
    return Evidence(
        what=f"/ needs a login: {quote(source.text, node)}",
        file=source.path.as_posix(),
        line=node.lineno,
    )


_LOGIN_MIDDLEWARE = "django.contrib.auth.middleware.LoginRequiredMiddleware"
_EXEMPT = "login_not_required"


def _login_middleware(settings: SourceFile, values: dict[str, ast.expr]) -> Evidence | None:
    """Where the settings' ``MIDDLEWARE`` lists ``LoginRequiredMiddleware``, if they do."""
    listed = values.get("MIDDLEWARE")
    if not isinstance(listed, ast.List | ast.Tuple):
        return None
    for item in listed.elts:
        if _string(item) == _LOGIN_MIDDLEWARE:
            return Evidence(
                what=f"every view needs a login: MIDDLEWARE has {_LOGIN_MIDDLEWARE}",
                file=settings.path.as_posix(),
                line=item.lineno,
            )
    return None


def _wraps_or_decorated(node: ast.Call, source: SourceFile, sources: Sources, name: str) -> bool:
    """Whether the view *node* routes is ``name(...)`` or a function decorated with it."""
    view = node.args[1]
    if isinstance(view, ast.Call) and ast.unparse(view.func).endswith(name):
        return True
    definition = _definition(view, source, sources)
    return isinstance(definition, ast.FunctionDef) and any(
        ast.unparse(d).split("(")[0].endswith(name) for d in definition.decorator_list
    )


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
