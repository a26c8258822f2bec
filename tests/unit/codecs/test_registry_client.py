"""HttpSchemaRegistryClient against a small Confluent-style REST server in a thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

from faust_connect.codecs import (
    CachingClient,
    HttpSchemaRegistryClient,
    SchemaRegistry,
    SchemaRegistryClient,
    SchemaRegistryError,
)
from faust_connect.codecs.avro.converter import AvroConverter
from faust_connect.data import INT32, Struct, struct_schema


class _Handler(BaseHTTPRequestHandler):
    registry: SchemaRegistry
    seen: list[tuple[str, str, str | None]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        self.seen.append((method, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        parts = [unquote(p) for p in self.path.strip("/").split("/")]
        reg = self.registry
        try:
            if method == "POST" and parts[0] == "subjects" and parts[2:] == ["versions"]:
                self._reply(200, {"id": reg.register(parts[1], body["schema"])})
            elif method == "POST" and parts[0] == "subjects" and len(parts) == 2:
                self._reply(200, reg.lookup(parts[1], body["schema"])._asdict())
            elif parts[:2] == ["schemas", "ids"]:
                self._reply(200, {"schema": reg.get_schema(int(parts[2]))})
            elif parts[0] == "subjects" and parts[2] == "versions":
                self._reply(200, reg.get_version(parts[1], "latest")._asdict())
            elif parts[0] == "compatibility":
                ok = reg.check_compatibility(parts[2], body["schema"])
                self._reply(200, {"is_compatible": ok})
            else:
                self._reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
        except SchemaRegistryError as exc:
            self._reply(exc.http_status, {"error_code": exc.error_code, "message": exc.message})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"registry": SchemaRegistry(), "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_http_client_round_trip(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    client = HttpSchemaRegistryClient(url, user_info="u:p")
    assert isinstance(client, SchemaRegistryClient)
    schema_id = client.register("my topic-value", '"string"')
    assert client.get_schema(schema_id) == '"string"'
    latest = client.get_latest("my topic-value")
    assert (latest.subject, latest.id, latest.version) == ("my topic-value", schema_id, 1)
    assert client.lookup("my topic-value", '"string"').version == 1
    assert client.check_compatibility("my topic-value", '"string"') is True
    assert handler.seen[0] == ("POST", "/subjects/my%20topic-value/versions", "Basic dTpw")


def test_http_errors_keep_codes(server: tuple[str, type[_Handler]]) -> None:
    url, _ = server
    client = HttpSchemaRegistryClient(url)
    with pytest.raises(SchemaRegistryError) as info:
        client.get_schema(42)
    assert info.value.error_code == 40403
    with pytest.raises(SchemaRegistryError) as info:
        client.get_latest("nope")
    assert info.value.error_code == 40401


def test_unreachable_registry() -> None:
    client = HttpSchemaRegistryClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(SchemaRegistryError, match="cannot reach"):
        client.get_schema(1)


def test_converter_over_http_makes_one_call_per_schema(
    server: tuple[str, type[_Handler]],
) -> None:
    url, handler = server
    writer = AvroConverter({"schema.registry.url": url})
    reader = AvroConverter({"schema.registry.url": url})
    schema = struct_schema([("id", INT32)], name="x.Y", version=1)
    for n in range(20):
        data = writer.from_connect("t", schema, Struct(schema, id=n))
        assert reader.to_connect("t", data) == (schema, Struct(schema, id=n))
    assert [m for m, _, _ in handler.seen] == ["POST", "GET"]


def test_url_credentials(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    with_auth = url.replace("http://", "http://user:pw@")
    conv = AvroConverter({"schema.registry.url": with_auth})
    conv.from_connect("t", INT32, 1)
    assert handler.seen[-1][2] == "Basic dXNlcjpwdw=="
    conv2 = AvroConverter(
        {
            "schema.registry.url": url,
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": "a:b",
        }
    )
    conv2.from_connect("t2", INT32, 1)
    assert handler.seen[-1][2] == "Basic YTpi"


def test_caching_client_forget() -> None:
    reg = SchemaRegistry()
    cached = CachingClient(reg)
    reg.register("s", '"string"')
    assert cached.get_latest("s").version == 1
    reg.register("s", '["null", "string"]')
    assert cached.get_latest("s").version == 1  # cached
    cached.forget("s")
    assert cached.get_latest("s").version == 2
