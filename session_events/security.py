"""API keys: read keys may call the GET operations, write keys every operation.

The contract names `read_access` and `write_access` (x-apikeyInfoFunc); Connexion's security
middleware and the fast route call them with the X-API-Key header's value. Keys are compared in
constant time and never logged.
"""

from __future__ import annotations

import hmac
import secrets

from connexion.exceptions import ProblemException, Unauthorized
from connexion.security import NO_VALUE, ApiKeySecurityHandler

from session_events.app_state import current

READ, WRITE = "read", "write"
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


def _access(apikey: str) -> str:
    keyring = current().state.keyring
    access = keyring.access(apikey)
    if access is None:
        raise Unauthorized(detail=keyring.unknown_key)
    return access


def read_access(apikey: str) -> dict:
    return {"sub": _access(apikey)}


def write_access(apikey: str) -> dict:
    if _access(apikey) != WRITE:
        raise ProblemException(status=403, title="Forbidden", detail=READ_ONLY_KEY)
    return {"sub": WRITE}


def missing_key() -> Unauthorized:
    return Unauthorized(detail=MISSING_KEY)


class ApiKeyHandler(ApiKeySecurityHandler):
    """Connexion's API-key handler, with a sentence for a missing key."""

    def get_fn(self, security_scheme, required_scopes):
        verify = super().get_fn(security_scheme, required_scopes)
        if verify is None:  # the scheme names no function: Connexion refuses every request
            return None

        def verify_or_refuse(request):
            result = verify(request)
            if result is NO_VALUE:
                raise missing_key()
            return result

        return verify_or_refuse


def read_token(token: str) -> dict:
    raise Unauthorized(detail="Session tokens are not accepted yet.")


def append_token(token: str) -> dict:
    raise Unauthorized(detail="Session tokens are not accepted yet.")
