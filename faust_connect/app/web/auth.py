"""Optional authentication for the REST API, the dashboard and the metrics endpoints.

An aiohttp middleware on the worker's web server checks every request for HTTP basic
credentials (``Authorization: Basic ...``) or a bearer token (``Authorization: Bearer ...``).
Without valid ones the answer is 401 with Kafka Connect's error body and a
``WWW-Authenticate`` challenge (browsers then ask for a user and password), and the request
never reaches a handler, so nothing changes. A write (POST, PUT, PATCH, DELETE) whose
``Origin`` is another site gets 403: browsers resend basic credentials by themselves, so this
keeps other pages from acting in a logged-in user's name. With neither users nor tokens configured nothing is
installed and every request passes, as in Kafka Connect without a REST extension::

    install_auth(app, basic_users={"admin": "s3cret"}, tokens=["a-long-random-token"])

The worker settings that feed it, ``rest.auth.basic.users`` (``user:password,...``) and
``rest.auth.bearer.tokens`` (``token,...``), are read by :func:`auth_options`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = [
    "CROSS_SITE_MESSAGE",
    "UNAUTHORIZED_MESSAGE",
    "auth_middleware",
    "auth_options",
    "check_credentials",
    "install_auth",
    "parse_tokens",
    "parse_users",
]

#: Kafka Connect's message for a refused request (``JaasBasicAuthFilter``).
UNAUTHORIZED_MESSAGE = "User cannot access the resource."
#: The answer to a write whose Origin is another site (CSRF).
CROSS_SITE_MESSAGE = "Cross-origin requests that change state are refused."
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_users(text: str) -> dict[str, str]:
    """``"alice:pw1,bob:pw2"`` → ``{"alice": "pw1", "bob": "pw2"}`` (a password may hold ``:``)."""
    users = {}
    for entry in text.split(","):
        user, sep, password = entry.strip().partition(":")
        if user and sep:
            users[user] = password
        elif entry.strip():
            raise ValueError(f"expected user:password, got {entry.strip()!r}")
    return users


def parse_tokens(text: str) -> list[str]:
    """``"t1,t2"`` → ``["t1", "t2"]``."""
    return [t.strip() for t in text.split(",") if t.strip()]


def _setting_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "get_secret_value"):  # a pydantic SecretStr
        value = value.get_secret_value()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def auth_options(settings: Any) -> dict[str, Any]:
    """``install_auth`` keywords from worker settings ``rest.auth.basic.users`` (attribute
    ``rest_auth_basic_users``) and ``rest.auth.bearer.tokens`` (``rest_auth_bearer_tokens``);
    strings, lists or SecretStr. Settings without them give no authentication."""
    return {
        "basic_users": parse_users(_setting_text(settings.rest_auth_basic_users)),
        "tokens": parse_tokens(_setting_text(settings.rest_auth_bearer_tokens)),
    }


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def check_credentials(
    header: str | None, basic_users: Mapping[str, str], tokens: Iterable[str]
) -> bool:
    """Whether an ``Authorization`` header value carries valid credentials."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        # compare with every token, so the time taken does not tell which one nearly matched
        return any([_same(value, token) for token in tokens])
    if scheme == "basic" and basic_users:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        expected = basic_users.get(user)
        return bool(sep) and expected is not None and _same(password, expected)
    return False


def _cross_site(request: web.Request) -> bool:
    # Browsers resend basic credentials on their own, so a page elsewhere could post to the API
    # in the user's name; they also always name that page's origin on a cross-site write.
    if request.method in _SAFE_METHODS:
        return False
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.host


def auth_middleware(
    *,
    basic_users: Mapping[str, str] | None = None,
    tokens: Iterable[str] = (),
    realm: str = "faust-connect",
    exempt: Iterable[str] = (),
) -> Middleware:
    """An aiohttp middleware refusing requests without valid credentials (paths in ``exempt``
    pass, e.g. ``/health`` for a load balancer)."""
    users = dict(basic_users or {})
    token_list = list(tokens)
    open_paths = frozenset(exempt)
    challenge = f'Basic realm="{realm}"' if users else f'Bearer realm="{realm}"'

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _cross_site(request):
            return web.json_response({"error_code": 403, "message": CROSS_SITE_MESSAGE}, status=403)
        if request.path in open_paths or check_credentials(
            request.headers.get("Authorization"), users, token_list
        ):
            return await handler(request)
        return web.json_response(
            {"error_code": 401, "message": UNAUTHORIZED_MESSAGE},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    return authenticate


def install_auth(
    app: Any,
    *,
    basic_users: Mapping[str, str] | None = None,
    tokens: Iterable[str] = (),
    exempt: Iterable[str] = (),
) -> bool:
    """Protect a Faust app's web server (call before it starts); False if nothing is configured.

    ``app`` is a ``faust.App`` using Faust's aiohttp web driver (the default).
    """
    token_list = list(tokens)
    if not basic_users and not token_list:
        return False
    web_app: web.Application = app.web.web_app
    web_app.middlewares.append(
        auth_middleware(basic_users=basic_users, tokens=token_list, exempt=exempt)
    )
    return True
