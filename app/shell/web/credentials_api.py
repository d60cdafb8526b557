"""Secretless mode's port: `POST /credentials` over TLS that requires a client certificate.

The certificate is verified against the cluster's client CA during the handshake; its subject's
common name (`system:node:<name>`) reaches the exchange, which answers only for pods on that
node. The port has its own server so that a client certificate is never asked of the API server
calling the webhook.
"""

import asyncio
import ssl
from typing import Any

import uvicorn

from app.core.admission import respond
from app.shell.web.credentials import Exchange
from app.shell.web.protocol import GuardedProtocol
from app.shell.web.server import TOO_LARGE, Receive, Scope, Send, receive_body, send_json

MAX_REQUEST = 64 * 1024  # an image reference and a token; the kubelet sends about 2 KiB
PEER = "pullpass.peer"


class PeerProtocol(GuardedProtocol):
    """Puts the verified client certificate's common name into each request's scope."""

    _peer: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._peer = common_name(transport.get_extra_info("peercert"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[PEER] = self._peer  # type: ignore[literal-required]


def common_name(peercert: Any) -> str | None:
    """The subject's common name of `SSLSocket.getpeercert()`; None without a verified one."""
    for rdn in (peercert or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


class CredentialsApp:
    __slots__ = ("_exchange",)

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/credentials" or scope["method"] != "POST":
            await send_json(send, 404, respond.error("POST /credentials"))
            return
        body = await receive_body(scope, receive, MAX_REQUEST)
        if body is None:
            return
        if body is TOO_LARGE:
            await send_json(send, 413, respond.error("request too large"), close=True)
            return
        status, out = await asyncio.to_thread(self._exchange.answer, body, scope.get(PEER))
        await send_json(send, status, out)


def credentials_config(
    exchange: Exchange, port: int, context: ssl.SSLContext, common: dict[str, Any]
) -> uvicorn.Config:
    return uvicorn.Config(
        CredentialsApp(exchange),
        port=port,
        ssl_context_factory=lambda _config, _default: context,
        http=PeerProtocol,
        proxy_headers=False,
        server_header=False,
        **common,
    )
