"""The portal under real gunicorn (several worker processes) on a free loopback port.

    server = GunicornServer(portal_env(config), workers=2).start()   # waits until it answers
    requests.get(server.url + "/login")
    server.output()                                                   # its access and error log
    server.stop()

It runs `gunicorn wsgi:app` in this checkout with the checkout's gunicorn.conf.py, so the test
sees the production settings, except the port and the number of workers.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.servers.smtp import free_port

CHECKOUT = Path(__file__).resolve().parents[2]


class GunicornServer:
    """`gunicorn -w N wsgi:app` with `env` added to this process's environment."""

    def __init__(self, env: dict, workers: int = 2, app: str = "wsgi:app", log_path=None):
        self.env = {**os.environ, **env}
        self.workers = workers
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = Path(log_path or tempfile.mkstemp(prefix="gunicorn-", suffix=".log")[1])

    def start(self, timeout: float = 30) -> "GunicornServer":
        command = [sys.executable, "-m", "gunicorn", "-w", str(self.workers),
                   "-b", f"127.0.0.1:{self.port}", "--chdir", str(CHECKOUT), self.app]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=CHECKOUT, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.output()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"gunicorn did not answer in {timeout}s:\n{self.output()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/login", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def output(self) -> str:
        """Everything gunicorn and the portal wrote so far (access log and errors)."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
