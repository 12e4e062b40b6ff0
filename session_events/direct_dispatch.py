"""Connexion's request pipeline for the contract's operations, run as one step.

For each request Connexion passes through nine middlewares, three Starlette routers and two
decorators; it parses and coerces the query string twice (once to validate it, once to build the
handler's arguments), and each layer looks the operation up again. On an unchanged poll that was
half of the server's CPU time (perf/RESULTS.md). For every operation of the contract whose
parameters are in the path, query or headers and whose body, if any, is JSON (all of them today),
this middleware runs the same pieces of Connexion, built from the same contract with the same
options (security handlers, validator map, URI parser, strict validation, response validation),
in one call:

    match the method and path (Starlette's compiled path of the operation, under the base path)
    -> Connexion's security check of the operation (SecurityOperation's verification function)
    -> Connexion's parameter validation (the validator map's parameter validator)
    -> Connexion's content-type check and body validator (RequestValidationOperation's steps)
    -> the handler's arguments (Connexion's get_arguments steps, from the request already parsed)
    -> the handler, its result made a response by Connexion's response decorator
    -> Connexion's response validation (ResponseValidationOperation), and the response is sent.

Errors are Connexion's exceptions, raised where Connexion raises them and turned into problem
responses by Connexion's exception middleware, outside this one. A request this middleware does
not take (a method or path the contract does not name, the Swagger UI, a root path) goes down
Connexion's stack unchanged. tests/integration/api/test_direct_dispatch.py compares both ways
request by request.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections import defaultdict
from typing import Any, NamedTuple

from connexion.context import _context, _operation, _receive, _scope
from connexion.decorators.parameter import (
    _get_body_argument,
    _get_query_defaults,
    _get_val_from_param,
    _query_args_helper,
    inspect_function_arguments,
    pythonic,
    sanitized,
    unwrap_decorators,
)
from connexion.decorators.response import AsyncResponseDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.frameworks.starlette import starlettify_path
from connexion.http_facts import METHODS
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import ROUTING_CONTEXT, SpecMiddleware
from connexion.middleware.request_validation import RequestValidationOperation
from connexion.middleware.response_validation import ResponseValidationOperation
from connexion.middleware.response_validation import logger as _connexion_log
from connexion.middleware.security import SecurityOperation
from connexion.operations import AbstractOperation
from connexion.resolver import Resolver
from connexion.security import SecurityHandlerFactory
from connexion.utils import deep_merge, is_json_mimetype, is_nullable
from connexion.validators import VALIDATOR_MAP
from starlette.routing import compile_path

from session_events.validation import JSON_MEDIA_TYPE, BoundedMemo

_UNREAD = object()  # no body read and parsed by the body validator


class _Operation:
    """One contract operation, with the Connexion pieces each of its requests goes through."""

    def __init__(self, operation: AbstractOperation, base_path: str, options: dict):
        self.operation = operation
        self.base_path = base_path
        self.validator_map = validator_map = {
            **VALIDATOR_MAP,
            **(options.get("validator_map") or {}),
        }
        self.security = SecurityOperation.from_operation(
            operation,
            next_app=None,
            security_handler_factory=SecurityHandlerFactory(options.get("security_map")),
        )
        parameters = _unique(operation.parameters)
        self.uri_parser = operation.uri_parser_class(parameters, operation.body_definition())
        strict = bool(options.get("strict_validation"))
        self.request_validation = RequestValidationOperation(
            None, operation=operation, strict_validation=strict, validator_map=validator_map
        )
        self.parameters = validator_map["parameter"](
            parameters,
            uri_parser=self.uri_parser,
            strict_validation=strict,
            security_query_params=self.request_validation.security_query_params,
        )
        self.arguments, self.has_kwargs = inspect_function_arguments(
            unwrap_decorators(operation.function)
        )
        # The names Connexion gives handler arguments, computed once per name, not per request.
        self.sanitize = functools.cache(pythonic if options.get("pythonic_params") else sanitized)
        self.body_name = self.sanitize(operation.body_name(JSON_MEDIA_TYPE))
        self.path_definitions = _definitions(operation, "path")
        self.query_definitions = _definitions(operation, "query")
        self.query_defaults = _get_query_defaults(self.query_definitions)
        # Connexion deep-copies the defaults for every request, merges the query into them and
        # casts every value. Unless a default is a container (then its steps are kept), the
        # defaults are cast once here, and each request casts only what it sent.
        self.plain_defaults = not any(
            isinstance(v, dict | list) for v in self.query_defaults.values()
        )
        # query parameter -> the handler's argument, for the parameters the handler takes
        self.query_targets = {
            name: self.sanitize(name)
            for name in self.query_definitions
            if self.has_kwargs or self.sanitize(name) in self.arguments
        }
        self.default_arguments = {
            self.query_targets[name]: _get_val_from_param(value, self.query_definitions[name])
            for name, value in self.query_defaults.items()
            if name in self.query_targets and self.plain_defaults
        }
        self.handler = AsyncResponseDecorator(
            framework=StarletteFramework, jsonifier=options.get("jsonifier") or Jsonifier()
        )(operation.function)
        self.response_validation = (
            _ResponseValidation(operation, validator_map)
            if options.get("validate_responses")
            else None
        )
        path = starlettify_path(operation.path, operation.get_path_parameter_types())
        self.path_regex, _, self.convertors = compile_path(path)

    async def __call__(self, scope, receive, send) -> None:
        routing = scope["extensions"].setdefault(ROUTING_CONTEXT, {})
        routing["api_base_path"] = self.base_path
        routing["operation_id"] = self.operation.operation_id
        request = ConnexionRequest(scope, receive, uri_parser=self.uri_parser)
        if self.security.security:
            await self.security.verification_fn(request)
        self.parameters.validate_request(request)
        body = _UNREAD
        if self.operation.request_body:
            receive, scope, body = await self._validated_body(scope, receive)
            # What the handler's decorators would see: the scope and body the validator passed on.
            request = ConnexionRequest(scope, receive, uri_parser=self.uri_parser)
        if body is _UNREAD:
            body = None
            if self.body_name in self.arguments or self.has_kwargs:
                body = await request.get_body()
        _context.set(scope["extensions"].setdefault("connexion_context", {}))
        _operation.set(self.operation)
        _receive.set(receive)
        _scope.set(scope)
        response = await self.handler(**self._arguments(request, body))
        if self.response_validation:
            await self.response_validation.send(response, scope, receive, send)
        else:
            await response(scope, receive, send)

    def _arguments(self, request: ConnexionRequest, body) -> dict:
        """Connexion's get_arguments, step by step, with the parameter definitions and query
        defaults it gathers from the operation on every call gathered once. No files: the
        request is JSON (checked before)."""
        arguments = {}
        for name, value in request.path_params.items():
            definition = self.path_definitions.get(name)
            arguments[self.sanitize(name)] = (
                value if definition is None else _get_val_from_param(value, definition)
            )
        if self.plain_defaults:
            arguments.update(self.default_arguments)
            for name, value in request.query_params.items():
                target = self.query_targets.get(name)
                if target is not None:
                    arguments[target] = _get_val_from_param(value, self.query_definitions[name])
        else:
            query = deep_merge(copy.deepcopy(self.query_defaults), request.query_params)
            arguments.update(
                _query_args_helper(
                    self.query_definitions, query, self.arguments, self.has_kwargs, self.sanitize
                )
            )
        if self.operation.is_request_body_defined and self.operation.method.upper() != "TRACE":
            arguments.update(
                _get_body_argument(
                    body,
                    operation=self.operation,
                    arguments=self.arguments,
                    has_kwargs=self.has_kwargs,
                    sanitize=self.sanitize,
                    content_type=request.mimetype,
                )
            )
        return arguments

    async def _validated_body(self, scope, receive):
        """RequestValidationOperation.__call__'s body part: the content type must be one the
        operation consumes, and the body validator reads, checks and replays the body. Also
        returns the JSON the validator parsed (_UNREAD if it read none), which the handler is
        given instead of the same bytes parsed again."""
        mime_type, encoding = self.request_validation.extract_content_type(scope["headers"])
        self.request_validation.validate_mime_type(mime_type)
        schema = self.operation.body_schema(mime_type)
        validator_class = self.validator_map["body"].get(mime_type) if schema else None
        if validator_class is None:
            return receive, scope, _UNREAD
        validator = validator_class(
            schema=schema,
            required=self.operation.request_body.get("required", False),
            nullable=is_nullable(self.operation.body_definition(mime_type)),
            encoding=encoding,
            strict_validation=self.request_validation.strict_validation,
            uri_parser=self.uri_parser,
        )
        receive, scope = await validator.wrap_receive(receive, scope=scope)
        return receive, scope, getattr(validator, "parsed", _UNREAD)


class _Expected(NamedTuple):
    """What the contract expects of the responses of one status and Content-Type."""

    definition: dict
    required_headers: frozenset[bytes]  # lower-case names
    # The body's validator (None if the map has none for the media type), built once: the
    # validators of the map keep nothing of one response for the next.
    validator: Any
    mime_type: str


class _ResponseValidation(ResponseValidationOperation):
    """Connexion's response validation (ResponseValidationOperation.__call__, step by step), one
    per operation, with what it derives for every response derived once per status and
    Content-Type: the media type, whether the operation produces it, the response definition,
    whether it requires headers, and the body validator of its schema. Deriving them again was
    6% of the instructions of an unchanged poll, and a tenth of what validating a poll cost."""

    def __init__(self, operation: AbstractOperation, validator_map: dict):
        super().__init__(None, operation=operation, validator_map=validator_map)
        # (status, Content-Type value) -> _Expected; a media type the operation does not
        # produce raises every time (BoundedMemo remembers no error).
        self.expected = BoundedMemo(self._expect)

    def _expect(self, key: tuple[int, bytes | None]) -> _Expected:
        status, content_type = key
        headers = [] if content_type is None else [(b"content-type", content_type)]
        mime_type, encoding = self.extract_content_type(headers)
        if status < 400:
            self.validate_mime_type(mime_type)
        definition = self._operation.response_definition(str(status), mime_type)
        required_headers = frozenset(
            name.lower().encode("latin-1")
            for name, header in definition.get("headers", {}).items()
            if header.get("required", False)
        )
        try:
            validator_class = self._validator_map["response"][mime_type]
        except KeyError:
            validator = None
        else:
            validator = validator_class(
                None,
                schema=self._operation.response_schema(str(status), mime_type),
                nullable=is_nullable(definition),
                encoding=encoding,
            )
        return _Expected(definition, required_headers, validator, mime_type)

    async def send(self, response, scope, receive, send) -> None:
        """Send `response` through the validation Connexion's middleware applies.

        A response whose body is at hand (every response but a stream's) is checked before it
        is sent, as Connexion checks the start and body messages it holds back; a streamed one
        goes through Connexion's wrapped send, message by message."""
        body = getattr(response, "body", None)
        if body is None:
            await response(scope, receive, self._wrap(send))
            return
        validator = self._body_validator(response.status_code, response.raw_headers)
        if validator is not None:
            parsed = validator._parse((body,))
            if not (parsed is None and validator._nullable):
                validator._validate(parsed)
        await response(scope, receive, send)

    def _wrap(self, send):
        async def wrapped_send(message) -> None:
            nonlocal send
            if message["type"] == "http.response.start":
                validator = self._body_validator(message["status"], message["headers"])
                if validator is not None:
                    send = validator.wrap_send(send)
            return await send(message)

        return wrapped_send

    def _body_validator(self, status: int, headers):
        """The start of a response checked (its media type and required headers); the validator
        its body must pass, if one is registered for its media type."""
        content_type = None
        for name, value in headers:
            if name.lower() == b"content-type":
                content_type = value
                break
        expected = self.expected[status, content_type]
        if expected.required_headers and not expected.required_headers <= {
            name.lower() for name, _ in headers
        }:
            self.validate_required_headers(headers, expected.definition)  # raises Connexion's error
        if expected.validator is None:
            _connexion_log.info(
                "Skipping validation. No validator registered for content type: "
                f"{expected.mime_type}."
            )
        return expected.validator


def _unique(parameters: list[dict]) -> list[dict]:
    """Each parameter (name and location) once, the operation's own before the path's.

    Connexion 3.3 adds a path's parameters to the list of each of its operations in place
    (`self._parameters += path_parameters` in OpenAPIOperation), again for every middleware that
    builds the operation: the events listing validated its session_id seven times a request.
    """
    unique: dict[tuple[str, str], dict] = {}
    for parameter in parameters:
        unique.setdefault((parameter["name"], parameter["in"]), parameter)
    return list(unique.values())


def _definitions(operation: AbstractOperation, location: str) -> dict[str, dict]:
    return {p["name"]: p for p in operation.parameters if p["in"] == location}


def _takes(operation: AbstractOperation) -> bool:
    """Whether a request of this operation can run here: parameters only in the path, query or
    headers, a JSON body if any (no forms, no files), and an async handler."""
    return (
        all(p["in"] in ("path", "query", "header") for p in operation.parameters)
        and all(is_json_mimetype(t) for t in operation.request_body.get("content", {}))
        and inspect.iscoroutinefunction(operation.function)
    )


class DirectDispatch(SpecMiddleware):
    """Placed just inside Connexion's exception middleware (MiddlewarePosition.BEFORE_SWAGGER)."""

    def __init__(self, app):
        self.app = app
        # HTTP method -> [(base path, operation)]
        self.routes: dict[str, list[tuple[str, _Operation]]] = defaultdict(list)

    def add_api(self, specification, base_path: str | None = None, **options) -> None:
        base_path = specification.base_path if base_path is None else base_path
        resolver = options.get("resolver") or Resolver()
        for path, methods in specification.get("paths", {}).items():
            for method in methods:
                if method not in METHODS:
                    continue
                operation = specification.operation_cls.from_spec(
                    specification,
                    path=path,
                    method=method,
                    resolver=resolver,
                    uri_parser_class=options.get("uri_parser_class"),
                )
                if _takes(operation):
                    self.routes[method.upper()].append(
                        (base_path, _Operation(operation, base_path, options))
                    )

    def _match(self, scope) -> _Operation | None:
        path = scope["path"]
        for base_path, operation in self.routes.get(scope["method"], ()):
            if path.startswith(base_path):
                match = operation.path_regex.match(path[len(base_path) :])
                if match:
                    scope.setdefault("path_params", {}).update(
                        (name, operation.convertors[name].convert(value))
                        for name, value in match.groupdict().items()
                    )
                    return operation
        return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            operation = self._match(scope)
            if operation is not None:
                # A copy sharing the nested dicts, as Connexion's routing passes on.
                scope = {**scope, "extensions": scope.setdefault("extensions", {})}
                return await operation(scope, receive, send)
        return await self.app(scope, receive, send)
