"""The contract's operations answered in one step, on Starlette's public API.

Through Connexion's stack a request passes nine middlewares, three routers and two decorators,
and its query string is parsed and typed twice; on an unchanged poll that is most of the
server's work. This middleware, just inside Connexion's exception middleware, answers every
operation it can take from the loaded contract itself, derived once per operation at start-up,
with the checks of contract_checks in Connexion's order:

    method and path (Starlette's compiled path, under the API's base path)
    -> the credential (the operation's security alternatives: session_events/fast_security.py)
    -> parameters (the query typed by query_strings.resolve_query, then ParameterChecks)
    -> Content-Type, then the JSON body (parse_json_body, check_body)
    -> the handler, found by operationId
    -> the response: media type produced, required headers, body against its schema.

Failures are Connexion's problem exceptions, rendered by its exception middleware outside this
one, as they are for a request down Connexion's stack: what this middleware does not take (a
path or method the contract does not name, the Swagger UI, the spec document) goes there.
tests/integration/api/test_fast_route.py holds the two ways to the same answers, byte for byte.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import urlsplit

from connexion.datastructures import MediaTypeDict
from connexion.decorators.parameter import sanitized
from connexion.json_schema import resolve_refs
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.utils import (
    get_function_from_name,
    inspect_function_arguments,
    is_json_mimetype,
    is_nullable,
    split_content_type,
)
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.routing import compile_path

from session_events import contract_checks
from session_events.contract_checks import ParameterChecks
from session_events.fast_security import SecurityCheck
from session_events.query_strings import resolve_query, resolve_value
from session_events.response_checks import ResponseChecks
from session_events.routes import HTTP_METHODS


class _Operation:
    """One operation of the contract, with everything its requests need derived once."""

    def __init__(self, spec: dict, path: str, method: str, options: dict):
        item = spec["paths"][path]
        operation = item[method]
        self.base_path = urlsplit(spec.get("servers", [{}])[0].get("url", "")).path.rstrip("/")
        self.operation_id = operation["operationId"]
        self.handler = get_function_from_name(self.operation_id)
        self.regex, _, self.convertors = compile_path(path)
        own = operation.get("parameters", [])
        mine = {(p["name"], p["in"]) for p in own}
        parameters = own + [
            p for p in item.get("parameters", []) if (p["name"], p["in"]) not in mine
        ]
        self.checks = ParameterChecks(parameters, strict=bool(options.get("strict_validation")))
        self.query_definitions = {p["name"]: p for p in parameters if p["in"] == "query"}
        self.path_definitions = {p["name"]: p for p in parameters if p["in"] == "path"}
        self.path_targets = {name: sanitized(name) for name in self.path_definitions}
        arguments, has_kwargs = inspect_function_arguments(self.handler)
        takes = None if has_kwargs else set(arguments)
        # query name -> handler argument, for the arguments the handler takes
        self.query_targets = {
            name: sanitized(name)
            for name in self.query_definitions
            if takes is None or sanitized(name) in takes
        }
        self.defaults = {
            self.query_targets[name]: p["schema"]["default"]
            for name, p in self.query_definitions.items()
            if name in self.query_targets and "default" in p.get("schema", {})
        }
        requirements = operation.get("security", spec.get("security")) or []
        self.security = SecurityCheck(spec, requirements) if requirements else None
        body = operation.get("requestBody")
        self.body = body
        if body is not None:
            [(self.mime_type, definition)] = body["content"].items()
            self.consumes = [self.mime_type]
            self.accepted = MediaTypeDict([(self.mime_type.lower(), None)])
            self.body_schema = definition["schema"]
            self.body_required = body.get("required", False)
            self.body_nullable = is_nullable(definition)
            self.body_argument = sanitized(body.get("x-body-name", "body"))
            self.body_taken = takes is None or self.body_argument in takes
        self.responses = (
            ResponseChecks(operation.get("responses", {}), options["validator_map"]["response"])
            if options.get("validate_responses")
            else None
        )

    @staticmethod
    def takes(spec: dict, path: str, method: str) -> bool:
        """Whether this route can answer the operation: path, query and header parameters, a
        JSON body of one media type if any, an async handler, and security alternatives of
        one scheme each that SecurityCheck takes."""
        item = spec["paths"][path]
        operation = item[method]
        parameters = [*operation.get("parameters", []), *item.get("parameters", [])]
        if not all(p["in"] in ("path", "query", "header") for p in parameters):
            return False
        body = operation.get("requestBody")
        if body is not None:
            content = body.get("content", {})
            if len(content) != 1 or not all(
                is_json_mimetype(t) and d.get("schema") for t, d in content.items()
            ):
                return False
        if not inspect.iscoroutinefunction(get_function_from_name(operation["operationId"])):
            return False
        requirements = operation.get("security", spec.get("security")) or []
        return SecurityCheck.supported(spec, requirements)

    async def __call__(self, scope, receive, send, path_params: dict) -> None:
        routing = scope["extensions"].setdefault(ROUTING_CONTEXT, {})
        routing["api_base_path"] = self.base_path
        routing["operation_id"] = self.operation_id
        headers = Headers(scope=scope)
        if self.security is not None:
            await self.security(scope)
        query_string = scope["query_string"]
        if query_string:
            lists: dict[str, list[str]] = {}
            for name, value in QueryParams(query_string).multi_items():
                lists.setdefault(name, []).append(value)
            query = resolve_query(lists, self.query_definitions)
        else:
            query = {}
        path = {
            name: resolve_value([value], self.path_definitions[name], "path")
            if name in self.path_definitions
            else value
            for name, value in path_params.items()
        }
        self.checks.check(query, path, headers)
        arguments = dict(self.defaults)
        for name, value in path.items():
            arguments[self.path_targets.get(name) or sanitized(name)] = value
        for name, value in query.items():
            target = self.query_targets.get(name)
            if target is not None:
                arguments[target] = value
        if self.body is not None:
            body = await self._body(headers, receive)
            if self.body_taken:
                arguments[self.body_argument] = body
        response = await self.handler(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{self.operation_id} must answer with a Starlette Response")
        if self.responses is None:
            await response(scope, receive, send)
        elif getattr(response, "body", None) is not None:
            self.responses.check(response.status_code, response.raw_headers, response.body)
            await response(scope, receive, send)
        else:
            await response(scope, receive, self.responses.checked_send(send))

    async def _body(self, headers: Headers, receive) -> Any:
        content_type = headers.get("content-type")
        if content_type is not None:
            mime_type = split_content_type(content_type)[0]
            if mime_type.lower() not in self.accepted:
                raise contract_checks.unsupported_media_type(mime_type, self.consumes)
        if not contract_checks.check_body_sent(headers, self.body_required):
            return None
        messages = await contract_checks.read_messages(receive)
        return contract_checks.body_value(
            messages, self.body_schema, required=self.body_required, nullable=self.body_nullable
        )


class FastRoute:
    """Placed just inside Connexion's exception middleware (MiddlewarePosition.BEFORE_SWAGGER),
    with the app's contract (session_events/contract.py) and Connexion options."""

    def __init__(self, app, *, contract: dict, **options):
        self.app = app
        spec = resolve_refs(contract)
        self.routes: dict[str, list[_Operation]] = {}
        for path, item in spec.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method in item and _Operation.takes(spec, path, method):
                    operation = _Operation(spec, path, method, options)
                    self.routes.setdefault(method.upper(), []).append(operation)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path = scope["path"]
            for operation in self.routes.get(scope["method"], ()):
                if not path.startswith(operation.base_path):
                    continue
                match = operation.regex.match(path[len(operation.base_path) :])
                if match:
                    params = {
                        name: operation.convertors[name].convert(value)
                        for name, value in match.groupdict().items()
                    }
                    # The access log reads the session id from here.
                    scope.setdefault("path_params", {}).update(params)
                    return await operation(scope, receive, send, params)
        return await self.app(scope, receive, send)
