"""Checks the Microsoft Entra token an action group's secure webhook sends to the relay (PyJWT).

What a good token is (Microsoft Learn, action groups' secure webhook): RS256-signed by one of the tenant's keys
(``<authority>/<tenant>/discovery/v2.0/keys``, cached by ``PyJWKClient``), issued by the tenant (v1 or v2 issuer),
for the relay's app (audience), not expired, carrying the app role ``ActionGroupsSecureWebhook``, and obtained by
the action groups' first-party app. Every refusal is a short reason that never quotes the token or its claims.
"""

from __future__ import annotations

import ssl
from typing import Any

import jwt
from jwt import PyJWKClient

from backup_events.errors import UnauthorizedError

PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
ROLE = "ActionGroupsSecureWebhook"
ALGORITHMS = ("RS256",)
LEEWAY_SECONDS = 60
MAX_TOKEN_CHARS = 16 * 1024  # Entra access tokens are a few kilobytes; anything this long is not one
KEYS_LIFESPAN_SECONDS = 3600  # how long the tenant's key set is kept before it is fetched again
UNKNOWN_KEY_COOLDOWN_SECONDS = 60  # an unknown key id refetches the set at most this often (no fetch per bad call)
KEYS_TIMEOUT_SECONDS = 5.0  # the action group waits on the relay


class EntraTokenValidator:
    """Implements ``ports.TokenValidator`` for one tenant and one audience (the relay's app registration).

    ``authority`` is where the tenant's keys are fetched from (tests point it at a stand-in); ``connection_verify``
    is True (system trust), or the path of a CA bundle to trust instead.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        audience: str,
        authority: str = PUBLIC_AUTHORITY,
        connection_verify: str | bool = True,
        leeway_seconds: float = LEEWAY_SECONDS,
    ) -> None:
        if not tenant_id or not audience:
            raise ValueError("a token validator needs a tenant id and an audience")
        self._audience = audience
        self._issuers = (f"https://sts.windows.net/{tenant_id}/", f"https://login.microsoftonline.com/{tenant_id}/v2.0")
        self._leeway = leeway_seconds
        context: ssl.SSLContext | None = None
        if isinstance(connection_verify, str):
            context = ssl.create_default_context(cafile=connection_verify)
        elif connection_verify is False:
            raise ValueError("the tenant's signing keys are only fetched over verified TLS")
        self._keys = PyJWKClient(
            f"{authority.rstrip('/')}/{tenant_id}/discovery/v2.0/keys",
            cache_jwk_set=True,
            lifespan=KEYS_LIFESPAN_SECONDS,
            cooldown_duration=UNKNOWN_KEY_COOLDOWN_SECONDS,
            timeout=KEYS_TIMEOUT_SECONDS,
            ssl_context=context,
        )

    def check(self, authorization: str | None) -> None:
        """Return when ``authorization`` is ``Bearer <a good token>``; raise ``UnauthorizedError`` saying why not."""
        token = _bearer_token(authorization)
        claims = self._verified_claims(token)
        roles = claims.get("roles")
        if not isinstance(roles, list) or ROLE not in roles:
            raise UnauthorizedError(f"token lacks the {ROLE} app role")
        callers = [claims[name] for name in ("appid", "azp") if name in claims]  # v1 tokens say appid, v2 azp
        if not callers or any(caller != ACTION_GROUPS_APP_ID for caller in callers):
            raise UnauthorizedError("token was not obtained by the action groups' app")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthorizedError("malformed bearer token") from None
        if header.get("alg") not in ALGORITHMS:
            raise UnauthorizedError("token is not RS256-signed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise UnauthorizedError("token names no signing key")
        try:
            self._keys.get_signing_keys()  # the cached set: a failure here is ours (or Entra's), not the caller's
        except (jwt.PyJWTError, ValueError):
            raise UnauthorizedError("the tenant's signing keys could not be fetched", retryable=True) from None
        try:
            key = self._keys.get_signing_key(kid)  # an unknown kid refetches the set, at most once a cooldown
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError):
            raise UnauthorizedError("the tenant's signing keys could not be fetched", retryable=True) from None
        except jwt.PyJWKClientError:
            raise UnauthorizedError("token is signed by a key the tenant does not publish") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuers,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise UnauthorizedError("token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise UnauthorizedError("token is not for this relay (audience)") from None
        except jwt.InvalidIssuerError:
            raise UnauthorizedError("token is not from the relay's tenant (issuer)") from None
        except jwt.InvalidSignatureError:
            raise UnauthorizedError("token signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise UnauthorizedError(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise UnauthorizedError("malformed bearer token") from None
        return claims


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise UnauthorizedError("missing bearer token (Authorization header)")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.casefold() != "bearer" or not token:
        raise UnauthorizedError("the Authorization header is not a bearer token")
    if len(token) > MAX_TOKEN_CHARS:
        raise UnauthorizedError("bearer token is too long")
    return token
