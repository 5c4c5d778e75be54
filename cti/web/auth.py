"""Login tokens: password in, signed JWT out; JWT in, `User` out.

Strategy: a token is an HS256 JWT carrying only the login (`sub`), `iat` and
`exp`. Every request re-reads the user from the `UserDirectory`, so a deleted
user or a changed role or interface takes effect at once, without waiting
for the token to expire. The signing key is SHA-256 of the configured secret,
which gives HS256 its full 32-byte key whatever the secret's length (a short
secret is still weak: a warning says so).

REST clients send `Authorization: Bearer <token>`. Browsers cannot set headers
on a WebSocket, so `/ws` takes the token in its `token` query parameter; see
`cti.web.app` for how refusals look there (close code 4401).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cti.config import Settings
from cti.web.ports import User, UserDirectory

__all__ = ["AuthError", "IssuedToken", "TokenAuth", "bearer_user"]

log = logging.getLogger("cti.web.auth")

_ALGORITHM = "HS256"
_ISSUER = "cti"


class AuthError(Exception):
    """The caller is not authenticated; `str(exc)` is safe to show them."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


class TokenAuth:
    def __init__(
        self,
        users: UserDirectory,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(settings.token_secret) < 32:
            log.warning("CTI_TOKEN_SECRET is short; set a long random secret outside the demo")
        self._users = users
        self._key = hashlib.sha256(b"cti-token:" + settings.token_secret.encode()).digest()
        self._ttl = settings.token_ttl_seconds
        self._clock = clock

    async def login(self, login: str, password: str) -> IssuedToken:
        user = await self._users.authenticate(login, password)
        if user is None:
            raise AuthError("invalid login or password")
        return self.issue(user)

    def issue(self, user: User, *, now: float | None = None) -> IssuedToken:
        issued = int(self._clock() if now is None else now)
        expires = issued + self._ttl
        claims = {"sub": user.login, "iat": issued, "exp": expires, "iss": _ISSUER}
        token = jwt.encode(claims, self._key, algorithm=_ALGORITHM)
        return IssuedToken(token, datetime.fromtimestamp(expires, UTC), user)

    def decode(self, token: str) -> tuple[str, float]:
        """(login, expiry) from a valid token; AuthError otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["sub", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid token") from exc
        login = claims["sub"]
        if not isinstance(login, str):
            raise AuthError("invalid token")
        return login, float(claims["exp"])

    async def user_for_token(self, token: str | None) -> tuple[User, float]:
        """(user, token expiry in epoch seconds); AuthError if missing, bad or expired."""
        if not token:
            raise AuthError("missing token")
        login, expires = self.decode(token)
        user = await self._users.get_user(login)
        if user is None:
            raise AuthError("unknown user")
        return user, expires


_bearer = HTTPBearer(auto_error=False, description="token from POST /api/login")


def bearer_user(auth: TokenAuth) -> Callable[..., Awaitable[User]]:
    """A FastAPI dependency giving the authenticated `User`, or 401."""

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> User:
        try:
            user, _ = await auth.user_for_token(credentials.credentials if credentials else None)
        except AuthError as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail=str(exc),
                headers={"WWW-Authenticate": "Bearer"},
            ) from exc
        return user

    return current_user
