"""An operation's security requirements, checked for the fast route as Connexion's security
middleware checks them: the alternatives in the contract's order, the first whose credential is
sent and good lets the request through; when none does, the most specific refusal (a 403 before
a 401) is the answer. The functions called are the ones the contract names, so both ways give
the same answers (tests/integration/api/test_fast_route.py holds them to it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from connexion.exceptions import OAuthProblem, OAuthResponseProblem
from connexion.security import NO_VALUE
from connexion.utils import get_function_from_name, inspect_function_arguments
from starlette.requests import Request

from session_events.security import bearer_token, without_key

AUTHORIZATION = b"authorization"


class _Scheme:
    """One security scheme of the contract: an API key in a header, or a bearer token."""

    def __init__(self, scheme: dict):
        self.bearer = scheme["type"] == "http"
        if self.bearer:
            self.header = AUTHORIZATION
            self.function = get_function_from_name(scheme["x-bearerInfoFunc"])
        else:
            self.header = scheme["name"].lower().encode("latin-1")
            self.function = get_function_from_name(scheme["x-apikeyInfoFunc"])
        arguments, _ = inspect_function_arguments(self.function)
        self.takes_request = "request" in arguments

    @staticmethod
    def supported(scheme: dict) -> bool:
        if scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            function = scheme.get("x-apikeyInfoFunc")
        elif scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
            function = scheme.get("x-bearerInfoFunc")
        else:
            return False
        if not function:
            return False
        arguments, has_kwargs = inspect_function_arguments(get_function_from_name(function))
        return not has_kwargs and "required_scopes" not in arguments

    async def verify(self, scope: dict, headers: dict[bytes, bytes]) -> Any:
        """What the scheme's function answers, NO_VALUE if its credential was not sent."""
        value = headers.get(self.header)
        if self.bearer:
            if not value:  # Connexion reads an empty header as none
                return NO_VALUE
            parts = value.decode("latin-1").split(maxsplit=1)
            if len(parts) != 2:
                raise OAuthProblem(detail="Invalid authorization header")
            if parts[0].lower() != "bearer":
                return NO_VALUE
            credential = parts[1]
        elif value is None:
            authorization = headers.get(AUTHORIZATION)
            refusal = without_key(authorization and authorization.decode("latin-1"), self.function)
            return await refusal
        else:
            credential = value.decode("latin-1")
        if self.takes_request:
            info = self.function(credential, request=Request(scope))
        else:
            info = self.function(credential)
        while asyncio.iscoroutine(info):
            info = await info
        if info is None:
            kind = "token" if self.bearer else "apikey"
            raise OAuthResponseProblem(detail=f"Provided {kind} is not valid")
        return info


class SecurityCheck:
    """The alternatives of an operation's `security` (each one scheme)."""

    def __init__(self, spec: dict, requirements: list[dict]):
        schemes = spec["components"]["securitySchemes"]
        self.alternatives = [_Scheme(schemes[name]) for [name] in requirements]
        self.takes_tokens = any(scheme.bearer for scheme in self.alternatives)

    @staticmethod
    def supported(spec: dict, requirements: list[dict]) -> bool:
        schemes = spec["components"]["securitySchemes"]
        return all(
            len(requirement) == 1 and _Scheme.supported(schemes[next(iter(requirement))])
            for requirement in requirements
        )

    async def __call__(self, scope: dict) -> None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)  # the first of a repeated header, as Starlette reads
        errors: dict[int, Exception] = {}
        authorization = headers.get(AUTHORIZATION)
        token_sent = self.takes_tokens and bearer_token(
            authorization and authorization.decode("latin-1")
        )
        for scheme in self.alternatives:
            if token_sent and not scheme.bearer and scheme.header not in headers:
                # A key scheme's refusal of a token checks that token as the token's own scheme
                # does, and its answer is outranked by that scheme's: skipped, the same answer.
                continue
            try:
                if await scheme.verify(scope, headers) is not NO_VALUE:
                    return
            except Exception as error:
                errors[getattr(error, "status_code", getattr(error, "status", 600))] = error
        if not errors:
            raise OAuthProblem(detail="No authorization token provided")
        # Connexion's order: valid credentials without the privilege, then bad credentials.
        for status in (403, 401):
            if status in errors:
                raise errors[status]
        raise errors[min(errors)]
