"""A Microsoft Entra stand-in for the relay's token check: the tenant's signing keys, and tokens signed with them.

* ``GET /<tenant>/discovery/v2.0/keys``: ``{"keys": [...]}``, the published RSA keys as JWKs (``kid``, ``use: sig``,
  ``n``, ``e``, ``x5t``), as Entra serves them. Point ``EntraTokenValidator(authority=stand_in.authority)`` at it.
* :meth:`JwksStandIn.mint`: a token as Entra issues it to the action groups' app for the relay (v1 claims by
  default), with any claim changed or dropped, signed by any key, under any ``kid`` or algorithm.
* :func:`unsigned` builds an ``alg: none`` token; :meth:`fail` makes the next key fetches answer 503.

The facts (claims, issuers, the action groups' app id, the role) are written out here from Microsoft Learn's page on
action groups' secure webhook, not imported from the code under test.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.loopback.tls import LoopbackHttpsServer, Request, Response, json_response

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "api://backup-events-relay"
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"
ROLE = "ActionGroupsSecureWebhook"
V1_ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
DROP = object()
"""A claim override that removes the claim."""


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One 2048-bit RSA key per name and test process (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class SigningKey:
    """A key the stand-in can publish and sign with."""

    kid: str
    private: rsa.RSAPrivateKey
    use: str = "sig"

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = dict(RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True))
        return {**public, "kid": self.kid, "use": self.use, "x5t": self.kid}


def signing_key(kid: str, name: str | None = None, *, use: str = "sig") -> SigningKey:
    """The key ``kid``, its RSA key made from ``name`` (the kid by default): same name, same key."""
    return SigningKey(kid=kid, private=rsa_key(name or kid), use=use)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(claims: Mapping[str, Any]) -> str:
    """An ``alg: none`` token: header and claims, and an empty signature."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(dict(claims)).encode())}."


class JwksStandIn(LoopbackHttpsServer):
    """The tenant's key endpoint; ``published`` are the keys it serves, ``key_fetches`` how often it was asked."""

    def __init__(self, tenant_id: str = TENANT_ID) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.key = signing_key("key-1")
        self.published: list[SigningKey] = [self.key]
        self._failures = 0
        self._guard = threading.Lock()

    @property
    def authority(self) -> str:
        """What ``https://login.microsoftonline.com`` is to the real tenant."""
        return self.url

    @property
    def keys_path(self) -> str:
        return f"/{self.tenant_id}/discovery/v2.0/keys"

    @property
    def key_fetches(self) -> int:
        return sum(1 for r in self.requests if r.path == self.keys_path)

    def fail(self, times: int) -> None:
        """The next ``times`` key fetches answer 503."""
        with self._guard:
            self._failures += times

    def handle(self, request: Request) -> Response:
        if request.method != "GET" or request.path != self.keys_path:
            return super().handle(request)
        with self._guard:
            if self._failures:
                self._failures -= 1
                return json_response(503, {"error": "temporarily_unavailable"})
        return json_response(200, {"keys": [key.jwk() for key in self.published]})

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """The claims of a good token (v1 access token for the relay's app), with ``overrides`` (``DROP`` removes)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": AUDIENCE,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "appid": ACTION_GROUPS_APP_ID,
            "appidacr": "2",
            "idp": f"https://sts.windows.net/{self.tenant_id}/",
            "oid": "9c7b7a84-1f39-4c4e-9d6b-6d1c1e3f0a11",
            "sub": "9c7b7a84-1f39-4c4e-9d6b-6d1c1e3f0a11",
            "roles": [ROLE],
            "tid": self.tenant_id,
            "ver": "1.0",
        }
        for name, value in overrides.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def mint(self, *, key: SigningKey | None = None, kid: str | None = None, algorithm: str = "RS256", **overrides: Any) -> str:
        """A token signed by ``key`` (the published one by default), its header naming ``kid`` (the key's own; "" none)."""
        key = key or self.key
        kid = key.kid if kid is None else kid
        headers = {"kid": kid, "x5t": kid, "typ": "JWT"} if kid else {"typ": "JWT"}
        if algorithm == "HS256":  # the published public key as an HMAC secret: the classic algorithm-confusion forgery
            return hmac_forgery(self.claims(**overrides), json.dumps(key.jwk()).encode(), headers)
        return jwt.encode(self.claims(**overrides), key.private, algorithm=algorithm, headers=headers)


def hmac_forgery(claims: Mapping[str, Any], secret: bytes, headers: Mapping[str, Any]) -> str:
    """An HS256 token keyed with public material (PyJWT itself refuses to sign one: built by hand)."""
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in ({**headers, "alg": "HS256"}, dict(claims)))
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"
