"""The exception a refusal raises (AuthExpired when a session token is no longer accepted), and the
check that turns an answer into a model or it."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from httpx_sse import ServerSentEvent
from pydantic import BaseModel, ValidationError

from session_events_client.models import Problem

Model = TypeVar("Model", bound=BaseModel)


class Refused(Exception):
    """The server answered with a problem (RFC 9457): `status`, `title` and `detail` say which
    and what to do about it. An answer that is no problem document (a proxy's error page, say)
    is reported the same way, its `detail` taken from its body."""

    def __init__(self, status: int, title: str, detail: str, response: httpx.Response | None):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.response = response


class AuthExpired(Refused):
    """The session token sent is no longer accepted: it expired, was revoked or is forged (its
    `detail` says which, `status` is 401). Raised for a 401 to a request made with a token, and
    when a stream read with one ends with `event: auth_expired` (then `response` is None): the
    access is over, so nothing is retried or reopened; mint a new token to go on."""


class Invalid(Refused, ValueError):
    """What the server would refuse with a 400, found before sending it (a producer's event that
    breaks the contract): `status` 400, `detail` a sentence naming the field, `response` None, and
    pydantic's ValidationError as `__cause__`. A ValueError too, as that error is."""

    def __init__(self, detail: str):
        super().__init__(400, "Bad Request", detail, None)


UUID = "{field} must be a UUID, such as 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b (got {got})"
SAYS = {  # pydantic's error type -> what the field must be, as the server's details say it
    "missing": "{field} is required",
    "string_type": "{field} must be a string (got {got})",
    "string_pattern_mismatch": "{field} must match the pattern {pattern} (got {got})",
    "string_too_long": "{field} must be at most {max_length} characters long",
    "dict_type": "{field} must be a JSON object (got {got})",
    "uuid_parsing": UUID,
    "uuid_type": UUID,
}


def invalid(error: ValidationError) -> Invalid:
    """`error` as Invalid, its detail one sentence about the first field that is wrong."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "the value"
    got = shown(first.get("input"))
    template = SAYS.get(first["type"], "{field} is not valid: {msg} (got {got})")
    sentence = template.format(field=field, got=got, msg=first["msg"], **first.get("ctx", {}))
    more = len(error.errors()) - 1
    return Invalid(f"{sentence}{f'; {more} more field(s) are wrong too' if more else ''}.")


def shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refusal(response: httpx.Response) -> Refused:
    kind = AuthExpired if response.status_code == 401 and bearer(response.request) else Refused
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        detail = response.text.strip()[:500] or "(no body)"
        return kind(response.status_code, response.reason_phrase, detail, response)
    return kind(problem.status, problem.title, problem.detail, response)


def bearer(request: httpx.Request) -> bool:
    """Whether `request` was sent with a session token."""
    return request.headers.get("Authorization", "").startswith("Bearer ")


AUTH_EXPIRED = "auth_expired"  # the last message of a stream whose token expired or was revoked


def auth_expired(message: ServerSentEvent | bytes) -> AuthExpired | None:
    """The end of access a stream's message announces, or None for any other message. An event
    may have the event_type auth_expired too: the server's own message is the one whose data is a
    401 Problem, not an Event."""
    if not isinstance(message, ServerSentEvent) or message.event != AUTH_EXPIRED:
        return None
    try:
        problem = Problem.model_validate_json(message.data)
    except ValidationError:
        return None
    if problem.status != 401:
        return None
    return AuthExpired(problem.status, problem.title, problem.detail, None)


def answer(response: httpx.Response, status: int, model: type[Model]) -> Model:
    """The body as `model` if the status is `status`; Refused otherwise."""
    if response.status_code != status:
        raise refusal(response)
    return model.model_validate_json(response.content)


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise refusal(response)
