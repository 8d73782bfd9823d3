"""The portal under real gunicorn (several worker processes) on a free loopback port.

    server = GunicornServer(root, env, workers=2).start()   # env: PORTAL_* keys (see portal_env)
    requests.get(server.url + "/login")
    server.worker_pids()      # the pids that answered so far, read from the access log
    server.output()           # error log (gunicorn's and the portal's warnings) and access log
    server.stop()

start() returns once every worker has answered (probe requests to /login are in the log).
It runs with the checkout's gunicorn.conf.py, so tests see the production settings (log format
included: each access line starts with the worker's pid) except the port, the number of
workers and the log files. `app="bench.bare:app"` serves another WSGI app the same way.
"""

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tests.servers.smtp import free_port


class GunicornServer:
    def __init__(self, root: str | Path, env: dict, workers: int = 2, timeout: float = 30.0,
                 app: str = "wsgi:app"):
        self.root, self.env, self.workers, self.timeout, self.app = str(root), env, workers, timeout, app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="gunicorn-")
        self.access_log = Path(self._dir.name) / "access.log"
        self.error_log = Path(self._dir.name) / "error.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "GunicornServer":
        command = [sys.executable, "-m", "gunicorn", "--config", str(Path(self.root) / "gunicorn.conf.py"),
                   "--chdir", self.root, "--workers", str(self.workers),
                   "--bind", f"127.0.0.1:{self.port}", "--access-logfile", str(self.access_log),
                   "--error-logfile", str(self.error_log), "--graceful-timeout", "5", self.app]
        self.process = subprocess.Popen(command, cwd=self.root, env={**os.environ, **self.env},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:  # until every worker has answered a probe
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.output()[-3000:]}")
            with ThreadPoolExecutor(2 * self.workers) as pool:
                list(pool.map(self._probe, range(2 * self.workers)))
            if len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn workers did not all answer in {self.timeout}s: {self.output()[-3000:]}")

    def _probe(self, _index) -> None:
        try:
            with urlopen(self.url + "/login", timeout=2):
                time.sleep(0.05)
        except (URLError, OSError):
            time.sleep(0.2)

    def worker_pids(self, request: str = "") -> set[str]:
        """Pids of the workers that answered requests whose line contains `request` ("POST /login")."""
        if not self.access_log.exists():
            return set()
        return {line.split()[0] for line in self.access_log.read_text().splitlines()
                if line and request in line}

    def output(self) -> str:
        """What was logged so far: the error log (with the portal's warnings), then the access log."""
        return "".join(log.read_text(errors="replace") for log in (self.error_log, self.access_log)
                       if log.exists())

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
