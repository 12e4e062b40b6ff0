"""Facts about the routes, read from the contract: labels for the access log, methods for Allow;
and the guard that keeps a literal path from being taken for a template's parameter."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException

from session_events.contract import load_contract

# The keys of an OpenAPI path item that are operations.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Routes:
    def __init__(self, spec: dict | None = None):
        spec = spec or load_contract()
        base = spec["servers"][0]["url"]
        self.base_path = base  # /api/v2
        self.templates: dict[str, str] = {}  # operationId -> "GET /api/v2/sessions/{session_id}"
        self.consumes: dict[str, list[str]] = {}  # operationId -> its request body's media types
        self._methods: list[tuple[re.Pattern, list[str]]] = []
        # The paths without parameters (/api/v2/sessions/stream) -> their methods.
        self.literal: dict[str, list[str]] = {}
        self.methods: list[str] = []  # every method the contract uses, for CORS preflights
        for path, item in spec["paths"].items():
            methods = [m.upper() for m in HTTP_METHODS if m in item]
            self.methods += [m for m in methods if m not in self.methods]
            for method in methods:
                operation = item[method.lower()]
                self.templates[operation["operationId"]] = f"{method} {base}{path}"
                content = operation.get("requestBody", {}).get("content", {})
                self.consumes[operation["operationId"]] = list(content)
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")  # served by Starlette for every GET route
            parts = re.split(r"(\{[^/]+?\})", base + path)
            pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            self._methods.append((re.compile(pattern), sorted(methods)))
            if len(parts) == 1:
                self.literal[base + path] = sorted(methods)

    def allowed_methods(self, path: str) -> list[str]:
        if path in self.literal:
            return self.literal[path]
        for pattern, methods in self._methods:
            if pattern.fullmatch(path):
                return methods
        return []


class LiteralPaths:
    """A path the contract names as it is (/sessions/stream) is never a value of a template's
    parameter (/sessions/{session_id}): a method the literal path lacks is a 405, not the
    template's operation. Placed inside Connexion's exception middleware, outside the routing
    (the fast route's and Connexion's alike), which would otherwise take the template's."""

    def __init__(self, app, *, routes: Routes):
        self.app = app
        self.literal = routes.literal

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            methods = self.literal.get(scope["path"])
            if methods is not None and scope["method"] not in methods:
                raise HTTPException(405)
        await self.app(scope, receive, send)
