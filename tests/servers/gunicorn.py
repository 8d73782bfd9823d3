"""The portal under real gunicorn (several worker processes) on a free loopback port.

    server = GunicornServer(root, env, workers=2).start()   # env: PORTAL_* keys (see portal_env)
    requests.get(server.url + "/login")
    server.worker_pids()      # the pids that answered so far, read from the access log

start() returns once every worker has answered (probe requests to /login are in the log).
    server.stop()

The access log records each request's worker pid, so a test can show that more than one
process served it.
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
    def __init__(self, root: str | Path, env: dict, workers: int = 2, timeout: float = 30.0):
        self.root, self.env, self.workers, self.timeout = str(root), env, workers, timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="gunicorn-")
        self.access_log = Path(self._dir.name) / "access.log"
        self.error_log = Path(self._dir.name) / "error.log"
        self._process: subprocess.Popen | None = None

    def start(self) -> "GunicornServer":
        command = [sys.executable, "-m", "gunicorn", "--chdir", self.root, "--workers", str(self.workers),
                   "--bind", f"127.0.0.1:{self.port}", "--access-logfile", str(self.access_log),
                   "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "--error-logfile",
                   str(self.error_log), "--graceful-timeout", "5", "wsgi:app"]
        self._process = subprocess.Popen(command, env={**os.environ, **self.env},
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:  # until every worker has answered a probe
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.error_log.read_text()[-3000:]}")
            with ThreadPoolExecutor(2 * self.workers) as pool:
                list(pool.map(self._probe, range(2 * self.workers)))
            if len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn workers did not all answer in {self.timeout}s")

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

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
