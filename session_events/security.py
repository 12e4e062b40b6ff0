"""Credentials: API keys (read keys may call the GET operations, write keys every operation)
and session tokens (one session, a scope: session_events/tokens.py).

The contract names `read_access` and `write_access` (x-apikeyInfoFunc) and `read_token` and
`append_token` (x-bearerInfoFunc); Connexion's security middleware and the fast route call them
with the header's value. Each records what the request may do (`grant()`), for the handlers
whose rule depends on it. Keys are compared in constant time; keys and tokens are never logged
nor repeated in an error.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import UTC, datetime

from connexion.exceptions import ProblemException, Unauthorized
from connexion.security import NO_VALUE, ApiKeySecurityHandler
from connexion.utils import get_function_from_name

from session_events.app_state import current
from session_events.tokens import APPEND, EXPIRED, READ, Grant, TokenRefused

WRITE = "write"  # a key's access beside READ, which a read key and a read token share
MISSING_KEY = "Send an API key in the X-API-Key header; this operation needs one."
UNKNOWN_KEY = (
    "The X-API-Key sent is not a known key; check it against EVENTS_READ_KEYS or EVENTS_WRITE_KEYS."
)
READ_ONLY_KEY = "This operation writes and needs a write key; the X-API-Key sent is a read key."


class KeyRing:
    def __init__(self, read_keys, write_keys, where: str | None = None):
        # The detail of a 401 for a key that is none of these; `where` says where this server's
        # keys are, when it made them (a request without a key is told to send one, which is
        # the same on every server, whatever its keys).
        self.unknown_key = (
            f"The X-API-Key sent is not a known key; {where}." if where else UNKNOWN_KEY
        )
        self._keys = [(k.encode(), WRITE) for k in write_keys] + [
            (k.encode(), READ) for k in read_keys
        ]

    @staticmethod
    def generated_key() -> str:
        """A fresh random key, for a server started without any key configured."""
        return secrets.token_urlsafe(24)

    def access(self, api_key: str) -> str | None:
        """READ, WRITE or None. Every key is compared, in constant time, whatever matches."""
        # Header values arrive decoded as Latin-1: back to the bytes sent, compared with the
        # UTF-8 bytes of the configured keys.
        sent = api_key.encode("latin-1", "replace")
        found = None
        for key, access in self._keys:
            if hmac.compare_digest(sent, key) and found is None:
                found = access
        return found


# Where a request's grant is kept, in its ASGI scope, once its credential is checked.
GRANT = "session_events.grant"


def grant() -> Grant:
    """What the current request's credential allows (checked before its handler runs)."""
    return current().scope[GRANT]


def _record(granted: Grant) -> dict:
    current().scope[GRANT] = granted
    return {"sub": granted.access}


def _access(apikey: str) -> str:
    keyring = current().state.keyring
    access = keyring.access(apikey)
    if access is None:
        raise Unauthorized(detail=keyring.unknown_key)
    return access


def read_access(apikey: str) -> dict:
    return _record(Grant(_access(apikey)))


def write_access(apikey: str) -> dict:
    if _access(apikey) != WRITE:
        raise ProblemException(status=403, title="Forbidden", detail=READ_ONLY_KEY)
    return _record(Grant(WRITE))


def forbidden(detail: str) -> ProblemException:
    return ProblemException(status=403, title="Forbidden", detail=detail)


async def verified(token: str) -> Grant:
    """The grant of a token signed by this server, not expired and not revoked; a 401 saying
    which it is otherwise. Checked once per request, whichever scheme asks."""
    scope = current().scope
    known = scope.get(GRANT)
    if known is not None and known.is_token:
        return known
    state = current().state
    try:
        granted = state.token_signer.verify(token)
        await state.revocations.check(granted)
    except TokenRefused as refused:
        raise Unauthorized(detail=refused.detail) from None
    scope[GRANT] = granted
    return granted


async def still_good(granted: Grant) -> None:
    """A 401 if the token a request was let in with has expired or been revoked since: a
    long-poll answers only what its token still allows when it answers."""
    if not granted.is_token:
        return
    try:
        if granted.expires_at <= datetime.now(UTC):
            raise TokenRefused(EXPIRED)
        await current().state.revocations.check(granted)
    except TokenRefused as refused:
        raise Unauthorized(detail=refused.detail) from None


def _own_session(granted: Grant, path_params: dict) -> None:
    """A 403 unless the token is of the session in the request's path."""
    path_session = str(path_params.get("session_id")).lower()
    if path_session != str(granted.session_id):
        # Only an id is repeated: whatever else a client put in the path might be a secret.
        named = f"session {path_session}" if _is_uuid(path_session) else "the path's session"
        raise forbidden(f"{granted.limits()}, not {named}.")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def read_token(token: str, request) -> dict:
    granted = await verified(token)
    _own_session(granted, request.path_params)
    return _record(granted)


async def append_token(token: str, request) -> dict:
    granted = await verified(token)
    _own_session(granted, request.path_params)
    if granted.access != APPEND:
        raise forbidden(
            f"{granted.limits()}; appending to it and moving its status need an append "
            "token or a write key."
        )
    return _record(granted)


def may_mint(caller: Grant, scope: str) -> None:
    """A 403 unless `caller` may mint a token of `scope`: an append token needs a write key."""
    if scope == APPEND and caller.access != WRITE:
        if caller.is_token:
            raise forbidden(f"{caller.limits()}; minting an append token needs a write key.")
        raise forbidden(
            "Minting an append token needs a write key; the X-API-Key sent is a read key "
            "(it may mint read tokens)."
        )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, as Connexion reads it."""
    parts = (authorization or "").split(maxsplit=1)
    return parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else None


# What each key function lets through, for a token sent where only a key will do.
KEY_NEEDED = {read_access: READ, write_access: WRITE}


async def refuse_token(token: str, key_function) -> None:
    """A token sent to an operation only a key may call: a 401 if the token is no good, else a
    403 saying what it is limited to and which key the operation needs."""
    granted = await verified(token)
    needed = KEY_NEEDED.get(key_function, READ)
    raise forbidden(f"{granted.limits()}; this operation needs a {needed} key in X-API-Key.")


def without_key(authorization: str | None, key_function):
    """What a request without an X-API-Key is told: to send one, or (with a bearer token)
    what its token is limited to; an operation a token may call hears it from the token's
    own scheme instead, which Connexion and the fast route try next."""
    token = bearer_token(authorization)
    if token is None:
        raise missing_key()
    return refuse_token(token, key_function)


def missing_key() -> Unauthorized:
    return Unauthorized(detail=MISSING_KEY)


class ApiKeyHandler(ApiKeySecurityHandler):
    """Connexion's API-key handler, with a sentence for a missing key."""

    def get_fn(self, security_scheme, required_scopes):
        verify = super().get_fn(security_scheme, required_scopes)
        if verify is None:  # the scheme names no function: Connexion refuses every request
            return None
        key_function = get_function_from_name(security_scheme["x-apikeyInfoFunc"])

        def verify_or_refuse(request):
            result = verify(request)
            if result is NO_VALUE:
                return without_key(request.headers.get("Authorization"), key_function)
            return result

        return verify_or_refuse
