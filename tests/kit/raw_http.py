"""HTTP/1.1 written and read by hand over a socket, for tests that stop a request half-way or
watch the server close a connection: no client library allows either; and the answer of a
scripted server written by hand."""

import ssl
from http.server import BaseHTTPRequestHandler


def request_bytes(body: bytes, extra: str = "") -> bytes:
    head = (
        "POST /mutate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


def read_response(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    return status, headers, rest[:length]


def closed_by_server(sock: ssl.SSLSocket) -> bool:
    """True when the server has closed (EOF or reset), False if data arrived instead."""
    try:
        return sock.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True


def send_json(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """A JSON answer from a scripted `http.server` handler, with its length."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
