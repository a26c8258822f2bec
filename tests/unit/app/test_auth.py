"""The authentication middleware, in process with aiohttp's test server."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from faust_connect.app.web.auth import (
    UNAUTHORIZED_MESSAGE,
    auth_middleware,
    auth_options,
    check_credentials,
    parse_tokens,
    parse_users,
)

USERS = {"admin": "s3:cret"}
TOKENS = ["tok-1", "tok-2"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
async def client() -> AsyncIterator[tuple[TestClient[web.Request, web.Application], list[str]]]:
    changes: list[str] = []

    async def pause(request: web.Request) -> web.Response:
        changes.append(request.match_info["name"])
        return web.Response(status=202)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "healthy"})

    app = web.Application(
        middlewares=[auth_middleware(basic_users=USERS, tokens=TOKENS, exempt=["/health"])]
    )
    app.router.add_put("/connectors/{name}/pause", pause)
    app.router.add_get("/health", health)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client, changes


@pytest.mark.parametrize(
    "header",
    [
        None,
        basic("admin", "wrong"),
        basic("nobody", "s3:cret"),
        "Bearer nope",
        "Basic !!!",
        "tok-1",
    ],
)
async def test_without_valid_credentials_401_and_nothing_changes(
    client: tuple[TestClient[web.Request, web.Application], list[str]], header: str | None
) -> None:
    test_client, changes = client
    headers = {"Authorization": header} if header else {}
    response = await test_client.put("/connectors/c/pause", headers=headers)
    assert response.status == 401
    assert await response.json() == {"error_code": 401, "message": UNAUTHORIZED_MESSAGE}
    assert response.headers["WWW-Authenticate"] == 'Basic realm="faust-connect"'
    assert changes == []


@pytest.mark.parametrize("header", [basic("admin", "s3:cret"), "Bearer tok-2", "bearer tok-1"])
async def test_valid_basic_or_bearer_credentials_pass(
    client: tuple[TestClient[web.Request, web.Application], list[str]], header: str
) -> None:
    test_client, changes = client
    response = await test_client.put("/connectors/c/pause", headers={"Authorization": header})
    assert response.status == 202
    assert changes == ["c"]


async def test_exempt_paths_pass_without_credentials(
    client: tuple[TestClient[web.Request, web.Application], list[str]],
) -> None:
    test_client, _ = client
    assert (await test_client.get("/health")).status == 200


def test_parsing_settings() -> None:
    assert parse_users("alice:pw1, bob:p:w2") == {"alice": "pw1", "bob": "p:w2"}
    assert parse_users("") == {}
    with pytest.raises(ValueError, match="user:password"):
        parse_users("alice")
    assert parse_tokens(" a, ,b ") == ["a", "b"]


def test_tokens_only_and_users_only() -> None:
    assert check_credentials("Bearer t", {}, ["t"])
    assert not check_credentials(basic("a", "b"), {}, ["t"])
    assert check_credentials(basic("a", "b"), {"a": "b"}, [])
    assert not check_credentials("Bearer ", {}, [""])


def test_options_from_worker_settings_of_any_shape() -> None:
    class Settings:
        rest_auth_basic_users = SecretStr("a:b,c:d")
        rest_auth_bearer_tokens = ("t1", "t2")

    assert auth_options(Settings()) == {"basic_users": {"a": "b", "c": "d"}, "tokens": ["t1", "t2"]}


async def test_cross_site_writes_are_refused_even_with_credentials(
    client: tuple[TestClient[web.Request, web.Application], list[str]],
) -> None:
    test_client, changes = client
    creds = {"Authorization": basic("admin", "s3:cret")}
    evil = await test_client.put(
        "/connectors/c/pause", headers={**creds, "Origin": "https://evil.example"}
    )
    assert evil.status == 403
    assert (await evil.json())["error_code"] == 403
    host = f"{test_client.server.host}:{test_client.server.port}"
    same = await test_client.put(
        "/connectors/c/pause", headers={**creds, "Origin": f"http://{host}"}
    )
    assert same.status == 202
    assert changes == ["c"]
    read = await test_client.get("/health", headers={"Origin": "https://evil.example"})
    assert read.status == 200
