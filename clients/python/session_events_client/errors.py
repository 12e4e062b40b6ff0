"""The one exception a refusal raises, and the check that turns an answer into a model or it."""

from __future__ import annotations

from typing import TypeVar

import httpx
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


def refusal(response: httpx.Response) -> Refused:
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        detail = response.text.strip()[:500] or "(no body)"
        return Refused(response.status_code, response.reason_phrase, detail, response)
    return Refused(problem.status, problem.title, problem.detail, response)


def answer(response: httpx.Response, status: int, model: type[Model]) -> Model:
    """The body as `model` if the status is `status`; Refused otherwise."""
    if response.status_code != status:
        raise refusal(response)
    return model.model_validate_json(response.content)


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise refusal(response)
