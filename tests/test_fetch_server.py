"""A local HTTP server that replays recorded answers for the fetch tests (127.0.0.1 only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests


@dataclass
class Reply:
    """One scripted answer.

    ``cut_at`` sends only that many body bytes while announcing the full Content-Length
    (a transfer cut off); ``delay`` sleeps before answering (for client timeouts).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_at: int | None = None


@dataclass
class Request:
    """One request as the server saw it."""

    path: str
    params: dict[str, str]
    at: float


Responder = Callable[[Request], Reply]


class ReplayServer:
    """Threaded HTTP server on 127.0.0.1 that answers each GET with ``responder(request)``."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                params = {
                    k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
                }
                request = Request(parts.path, params, time.monotonic())
                with server._lock:
                    server.requests.append(request)
                try:
                    reply = server.responder(request)
                except Exception as exc:  # a bug in a test responder: answer 599 and say why
                    reply = Reply(599, f"responder failed: {exc!r}".encode())
                try:
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    headers = {"Content-Type": "text/plain; charset=utf-8", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    body = reply.body if reply.cut_at is None else reply.body[: reply.cut_at]
                    self.wfile.write(body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, predicate: Callable[[Request], bool] = lambda r: True) -> int:
        """Number of requests seen that match ``predicate``."""
        with self._lock:
            return sum(1 for r in self.requests if predicate(r))

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def serving(responder: Responder) -> Iterator[ReplayServer]:
    """Run a `ReplayServer` for the duration of a ``with`` block."""
    server = ReplayServer(responder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_replay_server_answers_and_counts() -> None:
    with serving(lambda r: Reply(200, f"hello {r.params.get('x')}".encode())) as server:
        assert server.url.startswith("http://127.0.0.1:")
        text = requests.get(server.url + "/a", params={"x": "1"}, timeout=5).text
        assert text == "hello 1"
        assert server.count() == 1
        assert server.requests[0].path == "/a"


def test_replay_server_cut_transfer_is_an_error_for_the_client() -> None:
    with serving(lambda r: Reply(200, b"0123456789", cut_at=4)) as server:
        try:
            requests.get(server.url, timeout=5)
        except requests.exceptions.RequestException:
            pass
        else:
            raise AssertionError("a cut-off transfer must not look complete")
