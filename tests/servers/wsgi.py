"""Run a WSGI app on a loopback port in a background thread (werkzeug), restartable on that port."""

import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line."""

    def log_request(self, code="-", size="-"):
        pass


class ThreadedWsgiServer:
    """A werkzeug server in a thread; stop() frees the port, start() takes the same one again."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, ssl_context=None):
        self.app = app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> "ThreadedWsgiServer":
        if self._server is not None:
            return self
        server = make_server(self.host, self.port, self.app, threaded=True,
                             request_handler=_QuietHandler, ssl_context=self.ssl_context)
        self.port = server.server_port
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


class ServedByThread:
    """Lifecycle shared by the loopback fakes: `self._http` is their ThreadedWsgiServer."""

    _http: ThreadedWsgiServer

    def start(self):
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    @property
    def running(self) -> bool:
        return self._http.running

    @property
    def port(self) -> int:
        return self._http.port
