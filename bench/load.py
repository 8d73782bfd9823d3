"""Load from a separate process: Debian's wrk when it is there (installed on demand), else a Python generator."""

import http.client
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WRK_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
"""


@dataclass
class Throughput:
    requests_per_second: float
    requests: int
    bad: int  # non-2xx/3xx answers and socket errors: a figure with bad > 0 is not trusted
    tool: str


def find_wrk() -> str | None:
    """wrk on the PATH; as root on Debian, install it once if missing (BENCH_NO_INSTALL=1 skips)."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get") and not os.environ.get("BENCH_NO_INSTALL"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def hammer(url: str, seconds: float, connections: int, headers: dict | None = None,
           bodies: list[str] | None = None) -> Throughput:
    """Requests per second on `url` from `connections` concurrent connections; with `bodies`,
    form POSTs that take the bodies in turn (a toggle: on, off, on...)."""
    wrk = find_wrk()
    if wrk:
        return _wrk(wrk, url, seconds, connections, headers or {}, bodies)
    return _python(url, seconds, connections, headers or {}, bodies)


def _wrk(wrk, url, seconds, connections, headers, bodies) -> Throughput:
    command = [wrk, f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if bodies is not None:
            script.write(WRK_POST % ", ".join(f'"{body}"' for body in bodies))
            script.flush()
            command += ["-s", script.name]
        output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors:  # reads that end because gunicorn's sync workers close each connection are no error
        bad += int(errors.group(1)) + int(errors.group(3)) + int(errors.group(4))
    return Throughput(rate, total, bad, "wrk")


def _python(url, seconds, connections, headers, bodies) -> Throughput:
    """Threads with http.client, one connection each (reopened when the server closes it)."""
    method = "GET" if bodies is None else "POST"
    if bodies is not None:
        headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    parts = urlsplit(url)
    path = parts.path or "/"
    counts = [0] * connections
    bad = [0] * connections
    deadline = time.monotonic() + seconds

    def worker(index):
        conn = None
        while time.monotonic() < deadline:
            try:
                conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                body = None if bodies is None else bodies[counts[index] % len(bodies)]
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                counts[index] += 1
                if response.status >= 400:
                    bad[index] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except OSError:
                bad[index] += 1
                conn = None

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts)
    return Throughput(total / (time.monotonic() - started), total, sum(bad), "python")


def server_cpu(master_pid: int) -> float:
    """CPU seconds the gunicorn workers used so far: the live ones, and those already reaped
    (recycled), which the master's children times hold. Linux /proc; 0.0 elsewhere."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        total = _cpu_fields(master_pid)[2:4]
        for pid in children:
            total += _cpu_fields(int(pid))[0:2]
    except OSError:
        return 0.0
    return sum(total) / os.sysconf("SC_CLK_TCK")


def _cpu_fields(pid: int) -> list[int]:
    """utime, stime, cutime, cstime of a process (clock ticks)."""
    return [int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15]]


def latencies(fetch, count: int) -> list[float]:
    """Milliseconds of `count` sequential calls of `fetch(i)`."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        fetch(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
