"""Problem responses for what handlers raise: refusals of the data layer, 405s, and the database
being out of reach (503 with Retry-After, never a 500)."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from connexion.exceptions import UnsupportedMediaTypeProblem
from connexion.http_facts import HTTP_STATUS_CODES
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.problem import problem
from connexion.utils import split_content_type
from sqlalchemy import exc as sa

from session_events import contract_checks
from session_events.db.engine import Database
from session_events.db.errors import (
    UNAVAILABLE,
    DataError,
    EventIdConflict,
    ForbiddenTransition,
    SessionAlreadyExists,
    SessionNotFound,
    TokenNotFound,
    TooManyTokens,
    is_unavailable,
)
from session_events.problems import READ_ONLY, RETRY_AFTER_SECONDS, not_allowed
from session_events.routes import Routes
from session_events.tokens import without_tokens

log = structlog.get_logger("session_events")

STATUS_OF_ERROR = {
    SessionNotFound: 404,
    TokenNotFound: 404,
    SessionAlreadyExists: 409,
    TooManyTokens: 409,
    EventIdConflict: 409,
    ForbiddenTransition: 409,
}
UNREACHABLE = "The database cannot be reached right now; nothing was written. Retry in a moment."
BUSY = (
    "Every database connection stayed busy for the configured wait (EVENTS_DB_POOL_TIMEOUT); "
    "nothing was written. Retry in a moment."
)
SLOW = (
    "The database did not answer within the statement timeout (EVENTS_DB_STATEMENT_TIMEOUT); "
    "nothing was written. Retry in a moment."
)


def data_error_problem(_request, error: DataError):
    status = STATUS_OF_ERROR[type(error)]
    return problem(status=status, title=HTTP_STATUS_CODES[status], detail=str(error))


def method_not_allowed(routes: Routes):
    """405 with an Allow header naming every method the contract gives the path."""

    def answer(request, _error):
        # What the contract does not name (the spec document, the Swagger UI) is read-only.
        allowed = routes.allowed_methods(request.url.path) or READ_ONLY
        return problem(
            status=405,
            title="Method Not Allowed",
            detail=not_allowed(request.method, allowed),
            headers={"Allow": ", ".join(allowed)},
        )

    return answer


def not_found(routes: Routes):
    """404 for a path that names no operation: where the operations are."""

    def answer(request, _error):
        return problem(
            status=404,
            title="Not Found",
            detail=f"Nothing is at {without_tokens(request.url.path)}; the API's operations are "
            f"under {routes.base_path}/ (listed at {routes.base_path}/ui/).",
        )

    return answer


def database_unavailable(timed_out: Callable[[BaseException], bool]):
    """503 + Retry-After for an unreachable, restarting, slow or saturated database; `timed_out`
    tells the backend's statement timeout."""

    def answer(_request, error: Exception):
        return _unavailable(error, timed_out)

    return answer


def _unavailable(error: Exception, timed_out: Callable[[BaseException], bool]):
    if not is_unavailable(error):  # a DBAPIError that is a bug, not an outage
        log.error("database_error", error=repr(error))
        return problem(
            status=500,
            title="Internal Server Error",
            detail="The server encountered an internal error and was unable to complete your "
            "request.",
        )
    log.warning("database_unavailable", error=type(error).__name__)
    return problem(
        status=503,
        title="Service Unavailable",
        detail=BUSY
        if isinstance(error, sa.TimeoutError)
        else SLOW
        if timed_out(error)
        else UNREACHABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def unsupported_media_type(routes: Routes):
    """Connexion's 415 in the words of the fast route's (contract_checks), which name the
    header to send."""

    def answer(request, error: UnsupportedMediaTypeProblem):
        routing = request.scope["extensions"].get(ROUTING_CONTEXT, {})
        consumes = routes.consumes.get(routing.get("operation_id"))
        if not consumes or "content-type" not in request.headers:
            return problem(status=415, title=error.title, detail=error.detail)
        sent = split_content_type(request.headers["content-type"])[0]
        refusal = contract_checks.unsupported_media_type(sent, consumes)
        return problem(status=415, title=refusal.title, detail=refusal.detail)

    return answer


def add_error_handlers(app, routes: Routes, database: type[Database]) -> None:
    for error_class in STATUS_OF_ERROR:
        app.add_error_handler(error_class, data_error_problem)
    app.add_error_handler(UnsupportedMediaTypeProblem, unsupported_media_type(routes))
    app.add_error_handler(404, not_found(routes))
    app.add_error_handler(405, method_not_allowed(routes))
    for error_class in (sa.DBAPIError, *UNAVAILABLE):
        app.add_error_handler(error_class, database_unavailable(database.timed_out))
