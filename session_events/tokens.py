"""Session tokens: a signed statement that its holder may read (or append to) one session until
an instant.

A token is a JWT (RFC 7519) signed with HMAC-SHA256 by PyJWT: the claims `jti` (the token's id,
kept in the database so it can be revoked), `sid` (the session), `scope`, `iat` and `exp`. PyJWT
checks the signature (in constant time) and then the expiry, and tells the two apart, which
is what lets a 401 say "expired" rather than "forged". JWT rather than itsdangerous: the
expiry is a standard claim checked by the library, the algorithm is pinned on decoding, and
any language's JWT library can read what a token allows.

Secrets rotate: the first of EVENTS_TOKEN_SECRETS signs, every one of them verifies.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
READ, APPEND = "read", "append"
# What each scope may do, beside the key that may do the same.
SCOPES = (READ, APPEND)
# HMAC-SHA256 wants a key at least as long as its output (RFC 7518, section 3.2).
MINIMUM_SECRET_BYTES = 32
REQUIRED_CLAIMS = ["jti", "sid", "scope", "iat", "exp"]
# `iat` only records the minting: checking it would refuse, as forged, a token minted by a server
# whose clock is ahead of this one's, in the second after.
DECODING = {"require": REQUIRED_CLAIMS, "verify_iat": False}

EXPIRED = "The bearer token sent has expired; ask for a new one."
FORGED = (
    "The bearer token sent was not signed by this server (forged, altered, or signed with a "
    "secret it no longer holds in EVENTS_TOKEN_SECRETS); ask for a new one."
)
REVOKED = "The bearer token sent has been revoked (or its session deleted); ask for a new one."


# A JWT's shape (base64url JSON header, payload, signature): a value that has it is never
# repeated in an error or a log line, wherever a client put it by mistake.
TOKEN_SHAPE = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")


def looks_like_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN_SHAPE.search(value) is not None


def without_tokens(text: str) -> str:
    """`text` (a path, a parameter's name) with what looks like a token left out, for an error."""
    return TOKEN_SHAPE.sub("(what looks like a bearer token, not repeated here)", text)


class TokenRefused(Exception):
    """A token that grants nothing: `detail` says whether it is expired, forged or revoked."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Grant:
    """What a request's credential allows: a key's `access` ("read" or "write"), or a token's
    `access` (its scope) limited to `session_id` until `expires_at`."""

    access: str
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    expires_at: datetime | None = None

    @property
    def is_token(self) -> bool:
        return self.session_id is not None

    def limits(self) -> str:
        """What the token may do, for the detail of a 403."""
        verbs = "read" if self.access == READ else "read and append to"
        return f"This token may only {verbs} session {self.session_id}"


def generated_secret() -> str:
    """A fresh signing secret, for a server started without EVENTS_TOKEN_SECRETS."""
    return secrets.token_urlsafe(48)


# Tokens verified, remembered by digest: a poller's token is decoded once, not on every request.
VERIFIED_KEPT = 10_000


class TokenSigner:
    """Signs with the first secret, verifies with any of them."""

    def __init__(self, token_secrets: tuple[str, ...] | list[str]):
        if not token_secrets:
            raise ValueError("a token signer needs at least one secret")
        self.keys = [secret.encode() for secret in token_secrets]
        # sha256 of a token -> (its grant, its expiry as a POSIX time): the secrets are fixed
        # for the process's life, so a token that verified once verifies until it expires.
        self._verified: dict[bytes, tuple[Grant, float]] = {}

    def verify(self, token: str) -> Grant:
        """The grant of a token signed by one of the secrets and not expired; TokenRefused
        saying which it is otherwise. Whether it was revoked is the database's to say."""
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        known = self._verified.get(digest)
        if known is not None:
            if time.time() < known[1]:
                return known[0]
            del self._verified[digest]
            raise TokenRefused(EXPIRED)
        granted = self.decode(token)
        if len(self._verified) >= VERIFIED_KEPT:
            now = time.time()
            self._verified = {d: k for d, k in self._verified.items() if now < k[1]}
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.clear()
        self._verified[digest] = (granted, granted.expires_at.timestamp())
        return granted

    def sign(self, session_id: uuid.UUID, scope: str, expires_at: datetime) -> tuple[Grant, str]:
        """A new token for `session_id`, and its grant (whose token_id the database keeps)."""
        grant = Grant(scope, session_id, uuid.uuid4(), expires_at)
        claims = {
            "jti": str(grant.token_id),
            "sid": str(session_id),
            "scope": scope,
            "iat": int(datetime.now(UTC).timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return grant, jwt.encode(claims, self.keys[0], algorithm=ALGORITHM)

    def decode(self, token: str) -> Grant:
        """verify's work, without remembering: PyJWT checks the signature, then the expiry."""
        for key in self.keys:
            try:
                claims = jwt.decode(token, key, algorithms=[ALGORITHM], options=DECODING)
            except jwt.InvalidSignatureError:
                continue  # perhaps an older secret's
            except jwt.ExpiredSignatureError:  # checked only once the signature holds
                raise TokenRefused(EXPIRED) from None
            except jwt.InvalidTokenError:
                break  # not a token of ours at all
            return _grant(claims)
        raise TokenRefused(FORGED)


def _grant(claims: dict) -> Grant:
    try:
        scope = claims["scope"]
        if scope not in SCOPES:
            raise ValueError(scope)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        return Grant(scope, uuid.UUID(claims["sid"]), uuid.UUID(claims["jti"]), expires_at)
    except (TypeError, ValueError, OverflowError, AttributeError):  # uuid.UUID(12): the last
        # Signed by us, so never seen unless a secret leaked: refused all the same.
        raise TokenRefused(FORGED) from None


def expiry(ttl_seconds: int, now: datetime | None = None) -> datetime:
    """When a token minted now for `ttl_seconds` expires (whole seconds, as `exp` holds)."""
    end = (now or datetime.now(UTC)) + timedelta(seconds=ttl_seconds)
    # Rounded up: a token lives at least as long as asked.
    return end.replace(microsecond=0) + timedelta(seconds=1 if end.microsecond else 0)
