"""Serving kb: waitress in one process, or gunicorn with several; errors always kb's own.

Both WSGI servers reject some requests before kb sees them — a URL or header block that is
too long, raw UTF-8 or a malformed request line, a bad Content-Length, an unknown transfer
coding — and would answer in English plain text or HTML. Here each server's error path is
replaced by one that asks the kb app for its Chinese page, or its JSON error under /api/.

Each serving process (waitress, or every gunicorn worker) starts kb.index.drainer: index work
happens in that background thread, never in a request.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import threading
from typing import Any

from flask import Flask

from kb.errors import KbError, error_response

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求格式不正确（地址、请求头或请求体长度无法解析）。",
    403: "请求被拒绝。",
    408: "请求超时，请重试。",
    413: "提交的内容过大。",
    414: "请求的地址过长，请缩短后重试。",
    417: "不支持请求中的 Expect 要求。",
    431: "请求头过大（例如 Cookie 过多），请清除本站 Cookie 后重试。",
    500: "服务器内部错误，已记录，请稍后再试。",
    501: "不支持请求使用的传输编码。",
}
REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    413: "Payload Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}
MAX_HEADER_BYTES = 64 * 1024  # request line and headers together (waitress)
_TARGET = re.compile(rb"^\s*[!-~]+[ \t]+(\S+)")


def path_of(raw: bytes | None) -> str:
    """The path of a (possibly malformed) request's first line, enough to choose JSON or HTML."""
    match = _TARGET.match(raw or b"")
    if not match:
        return "/"
    target = match.group(1)
    if b"://" in target:  # absolute form: http://host/api/...
        target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
    return "/api/" if target.startswith(b"/api/") else "/"


def error_reply(app: Flask, status: int, raw: bytes | None) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of kb's error answer to a request the server refused."""
    path = path_of(raw)
    message = MESSAGES.get(status, MESSAGES[400])
    err = KbError(message, code=f"http_{status}", status=status)
    with app.test_request_context(path, headers={"Accept": "text/html"}):
        response = app.make_response(error_response(err))
        response = app.process_response(response)
    body = response.get_data()
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in ("content-length", "set-cookie", "vary")
    ]
    headers.append(("Content-Length", str(len(body))))
    return headers, body


# ---- waitress --------------------------------------------------------------------------------


def _waitress_classes(app: Flask) -> tuple[type, type]:
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class KbErrorTask(ErrorTask):  # type: ignore[misc]
        """waitress's own refusals (431, 400 Bad URI, 413…) answered by kb."""

        def execute(self) -> None:
            error = self.request.error
            status = int(getattr(error, "code", 400))
            raw = getattr(self.request, "header_plus", b"") or getattr(
                self.request, "first_line", b""
            )
            if status == 431 and b"\r\n" not in raw[:MAX_HEADER_BYTES]:
                status = 414  # the request line alone was too long: a URL, not headers
            try:
                headers, body = error_reply(app, status, raw)
            except Exception:  # never fail the error path itself
                log.exception("could not render the error page")
                return super().execute()
            self.status = f"{status} {REASONS.get(status, error.reason)}"
            self.response_headers.extend(h for h in headers if h[0].lower() != "content-length")
            self.set_close_on_finish()
            self.channel.refused = True
            self.content_length = len(body)
            self.write(body)

    class KbChannel(HTTPChannel):  # type: ignore[misc]
        error_task_class = KbErrorTask

        refused = False  # set by KbErrorTask: only a refused request may leave bytes unread

        def handle_close(self) -> None:
            # Closing with unread request bytes (the rest of a refused 100 KB URL) makes the
            # kernel send RST, and the client loses the answer it was sent: say we are done
            # writing, and discard what has already arrived (never blocking the loop).
            sock = self.socket
            if self.refused and sock is not None:
                self.refused = False
                try:
                    sock.shutdown(socket.SHUT_WR)
                    sock.setblocking(False)
                    for _ in range(64):
                        if not sock.recv(65536):
                            break
                except OSError:
                    pass
            super().handle_close()

    return KbErrorTask, KbChannel


def cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (in Chinese), or None when it can:
    asked before start-up so that a port in use is a message, not a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return "主机名无法解析"
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do
        try:
            probe.bind(address)
        except PermissionError:
            return "没有权限使用这个端口（1024 以下的端口需要管理员权限）"
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return "端口已被占用（可能已有一个 kb 在运行），请换一个端口（--port 或 KB_PORT）"
            return f"地址不可用（{err.strerror or err}）"
    return None


M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
LARGE_BLOCK = 256 * 1024


def limit_heap_growth() -> bool:
    """Have glibc hand large blocks back to the system when they are freed.

    A search builds and drops arrays of 100,000 elements; by default glibc raises its mmap
    threshold each time such a block is freed, and after a few queries they come from the heap
    of whichever thread ran the query, where freed memory stays with the process (a serving
    process at 100k articles grew 150 MB past its caches). A fixed threshold, trimming and two
    arenas keep its size near what the caches hold. Returns False where there is no glibc.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    return all(
        mallopt(option, value) == 1
        for option, value in (
            (M_MMAP_THRESHOLD, LARGE_BLOCK),
            (M_TRIM_THRESHOLD, 2 * LARGE_BLOCK),
            (M_ARENA_MAX, 2),
        )
    )


def run_waitress(app: Flask, host: str, port: int, threads: int) -> None:
    from waitress import create_server

    _task, channel = _waitress_classes(app)
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_header_size=MAX_HEADER_BYTES,
        ident="",  # no Server banner (等保 / ASVS: do not announce the software)
    )
    server.channel_class = channel
    server.run()


# ---- gunicorn --------------------------------------------------------------------------------


def _status_for(exc: BaseException) -> int:
    from gunicorn.http import errors as e

    table: list[tuple[type, int]] = [
        (e.LimitRequestLine, 414),
        (e.LimitRequestHeaders, 431),
        (e.UnsupportedTransferCoding, 501),
        (e.ExpectationFailed, 417),
        (e.ForbiddenProxyRequest, 403),
        (e.InvalidResponseHeader, 500),
        (e.InvalidResponseHeaderName, 500),
        (e.ConfigurationProblem, 500),
        (e.ParseException, 400),
    ]
    for kind, status in table:
        if isinstance(exc, kind):
            return status
    return 500


try:
    from gunicorn.workers.gthread import ThreadWorker as _ThreadWorker
except ImportError:  # pragma: no cover - gunicorn is a dependency; only --workers needs it
    _ThreadWorker = object  # type: ignore[assignment,misc]


class KbWorker(_ThreadWorker):  # type: ignore[misc,valid-type]
    """gunicorn's threaded worker, whose refusals (414, 431, 400…) are answered by kb."""

    _head = threading.local()

    def init_process(self) -> None:
        # gunicorn writes "Server: gunicorn" itself and has no setting for it; 等保 / ASVS ask
        # that the software not be announced, so this worker's responses leave it out.
        from gunicorn.http import wsgi

        with_banner = wsgi.Response.default_headers

        def default_headers(response: Any) -> list[str]:
            return [h for h in with_banner(response) if not h.lower().startswith("server:")]

        wsgi.Response.default_headers = default_headers  # type: ignore[method-assign]
        super().init_process()

    def handle(self, conn: Any) -> Any:
        # Peek at the request line (MSG_PEEK leaves it for the parser): when the parser then
        # refuses the request it no longer knows the path, and /api/ must still get JSON.
        from gunicorn.workers import gthread

        # what the parent does first, so that the peek below sees the request line; no data
        # yet: back to the poller, as the parent does
        waiting = not conn.initialized and not conn.data_ready
        if waiting and not conn.wait_for_data(gthread.DEFAULT_WORKER_DATA_TIMEOUT):
            return gthread._DEFER
        try:
            self._head.raw = conn.sock.recv(2048, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (OSError, AttributeError):
            self._head.raw = b""
        return super().handle(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        from gunicorn import util

        status = _status_for(exc)
        if status >= 500:
            self.log.exception("error handling request")
        else:
            self.log.warning("invalid request from %s: %s", (addr or ("",))[0], exc)
        raw = getattr(self._head, "raw", b"")
        if req is not None and getattr(req, "path", None):
            raw = f"GET {req.path} HTTP/1.1".encode("latin-1", "replace")
        try:
            headers, body = error_reply(self.wsgi, status, raw)
            head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nConnection: close\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers)
            util.write_nonblock(client, head.encode("latin-1") + b"\r\n" + body)
        except Exception:
            self.log.debug("failed to send the error answer")


def run_gunicorn(
    host: str, port: int, workers: int, threads: int, access_log: bool = False
) -> None:
    """``workers`` gunicorn processes, each building its own app and its own drainer."""
    from gunicorn.app.base import BaseApplication

    class KbApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "kb.serving.KbWorker",
                "preload_app": False,  # each worker opens its own database and index files
                "accesslog": "-" if access_log else None,
                "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s',
                "graceful_timeout": 10,
                "timeout": 60,
                "limit_request_line": 8190,  # gunicorn's maximum
                "limit_request_field_size": 16 * 1024,
                "control_socket_disable": True,  # several instances may run on one host
            }
            for key, value in settings.items():
                if key in self.cfg.settings:  # control_socket_disable: gunicorn 25.1 and later
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return worker_app()

    KbApplication().run()


def worker_app() -> Flask:
    """The app of one serving process, with its index drainer running."""
    from kb import create_app
    from kb.index import drainer

    limit_heap_growth()
    app = create_app()
    drainer.start(app)
    return app
