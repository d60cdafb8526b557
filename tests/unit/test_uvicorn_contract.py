"""What pullpass takes from uvicorn, checked against the installed uvicorn.

app/shell/web/protocol.py subclasses uvicorn's httptools protocol, which uvicorn does not publish
as API (and app/shell/web/credentials_api.py subclasses that), and app/shell passes Config
options that appeared in a given release (ssl_context_factory in 0.47). An upgrade that removes,
renames or re-signs any of them would otherwise show only as a port that misbehaves: these tests
name the break instead.
"""

import ast
import asyncio
import inspect
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from app.shell.cli import serve
from app.shell.web import listen
from app.shell.web.credentials_api import PeerProtocol
from app.shell.web.protocol import GuardedProtocol

SHELL = Path(serve.__file__).parents[1]
# pullpass's subclasses of uvicorn's protocol.
PROTOCOLS = (GuardedProtocol, PeerProtocol)

# Each method the subclasses override, with uvicorn's parameter names: the override calls
# super() with them, and uvicorn calls the override with them.
OVERRIDES = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_headers_complete": ["self"],
    "on_message_complete": ["self"],
    "on_response_complete": ["self"],
    "shutdown": ["self"],
}
# uvicorn's methods that they call without overriding them.
CALLED = {"send_400_response": ["self", "msg"]}
# Attributes of a connection that they and the sweep read or set.
PROTOCOL_ATTRIBUTES = ("loop", "connections", "transport", "cycle", "scope")
CYCLE_ATTRIBUTES = ("keep_alive", "response_complete")


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _overrides(protocol: type) -> set[str]:
    return {
        name
        for name, value in vars(protocol).items()
        if callable(value) and not name.startswith("__") and hasattr(HttpToolsProtocol, name)
    }


def test_the_list_names_every_override() -> None:
    """A new override of uvicorn's protocol must be added to OVERRIDES, and so be checked below."""
    assert set().union(*map(_overrides, PROTOCOLS)) == set(OVERRIDES)


@pytest.mark.parametrize("name", sorted(OVERRIDES | CALLED))
def test_uvicorn_still_has_each_method_with_the_same_parameters(name: str) -> None:
    upstream = getattr(HttpToolsProtocol, name, None)
    assert callable(upstream), f"uvicorn's HttpToolsProtocol has no {name}() any more"
    expected = (OVERRIDES | CALLED)[name]
    assert _parameters(upstream) == expected, f"uvicorn changed {name}()'s parameters"
    for protocol in PROTOCOLS:
        if name in _overrides(protocol):
            assert _parameters(getattr(protocol, name)) == expected, (protocol, name)


class _Transport(asyncio.Transport):
    """Just enough of a TLS-less transport for uvicorn to take a connection and a request."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8443), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """Never answers: the test looks at the request's state, not at a response."""


async def _connection_with_a_request() -> HttpToolsProtocol:
    config = uvicorn.Config(_app, lifespan="off", log_config=None)
    protocol = HttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    protocol.connection_made(_Transport())
    protocol.data_received(b"POST /mutate HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
    await asyncio.sleep(0)
    for task in protocol.tasks:
        task.cancel()
    return protocol


def test_a_connection_still_has_the_attributes_protocol_py_uses() -> None:
    protocol = asyncio.run(_connection_with_a_request())
    for name in PROTOCOL_ATTRIBUTES:
        assert hasattr(protocol, name), f"uvicorn's connection has no .{name} any more"
    assert protocol in protocol.connections
    assert isinstance(protocol.cycle, RequestResponseCycle)
    for name in CYCLE_ATTRIBUTES:
        assert hasattr(protocol.cycle, name), f"uvicorn's request cycle has no .{name} any more"


def _config_keywords() -> set[str]:
    """The keywords app/shell gives uvicorn.Config, directly or through serve's `common` dict."""
    names: set[str] = set()
    nodes = (n for f in sorted(SHELL.rglob("*.py")) for n in ast.walk(ast.parse(f.read_text())))
    for node in nodes:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Config"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "uvicorn"
        ):
            names.update(k.arg for k in node.keywords if k.arg is not None)
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "common" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            names.update(k.value for k in node.value.keys if isinstance(k, ast.Constant))
    return names


def test_uvicorn_config_still_takes_every_option_pullpass_passes() -> None:
    used = _config_keywords()
    assert {"ssl_context_factory", "http", "timeout_keep_alive", "backlog", "lifespan"} <= used
    missing = used - set(inspect.signature(uvicorn.Config).parameters)
    assert not missing, f"uvicorn.Config no longer takes {sorted(missing)}"


def test_uvicorn_still_takes_the_tls_context_from_the_factory_as_serve_gives_it() -> None:
    """serve passes `lambda _config, _default: tls.context`: two arguments, its context used."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    seen: list[tuple[Any, ...]] = []

    def factory(*args: Any) -> ssl.SSLContext:
        seen.append(args)
        return context

    config = uvicorn.Config(_app, lifespan="off", log_config=None, ssl_context_factory=factory)
    config.load()
    assert len(seen) == 1
    assert len(seen[0]) == 2
    assert seen[0][0] is config
    assert callable(seen[0][1])
    assert config.ssl is context


def test_uvicorn_server_still_has_what_serve_overrides_and_sets() -> None:
    capture = vars(uvicorn.Server).get("capture_signals")
    assert capture is not None, "uvicorn.Server has no capture_signals() any more"
    assert _parameters(capture) == ["self"]
    assert _parameters(listen.Server.capture_signals) == ["self"]
    # uvicorn must still enter it while serving, or its own signal handlers replace serve's.
    assert "self.capture_signals()" in inspect.getsource(uvicorn.Server.serve)
    server = listen.Server(uvicorn.Config(_app, lifespan="off", log_config=None))
    with server.capture_signals() as captured:
        assert captured is None
    assert server.should_exit is False
    assert server.force_exit is False
    assert inspect.iscoroutinefunction(uvicorn.Server.serve)


def test_uvicorn_server_still_starts_as_listen_py_replaces_it() -> None:
    """listen.Server.startup replaces uvicorn's: the same signature, called the same way, and
    what it reads and sets (app/shell/web/listen.py's docstring lists them)."""
    assert _parameters(uvicorn.Server.startup) == ["self", "sockets"]
    assert "await self.startup(sockets=sockets)" in inspect.getsource(uvicorn.Server._serve)
    config = uvicorn.Config(_app, lifespan="off", log_config=None)
    config.load()
    for name in ("http_protocol_class", "ssl", "host", "port", "backlog"):
        assert hasattr(config, name), f"uvicorn's Config has no .{name} any more"
    server = listen.Server(config)
    server.lifespan = config.lifespan_class(config)
    assert isinstance(server.lifespan.state, dict)
    assert isinstance(server.server_state, ServerState)
    source = inspect.getsource(uvicorn.Server)
    assert "self.servers" in source
    assert "self.started" in source
    # uvloop's TLS protocol, which its own TLS server builds the same way.
    assert listen._SSLProtocol.__name__ == "SSLProtocol"
