"""A closed-loop HTTP load generator: N client processes, one keep-alive connection each,
every one sending the same pre-built POST as soon as the previous answer's last byte is in.

Standard library only, so that starting the clients is cheap. A client writes the request
with one ``sendall`` and reads the answer by its Content-Length, which leaves less of the
client's own time in the latency than ``http.client`` would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARMUP_S = 0.3  # each client's first requests are not recorded


class Client:
    def __init__(self, port: int, path: str, body: bytes) -> None:
        self.port = port
        self.request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        "\r\n").encode() + body
        self.sock: socket.socket | None = None

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        return sock

    def send(self) -> None:
        """One request and its whole answer; raises unless the answer is a 200."""
        sock = self.sock or self.connect()
        sock.sendall(self.request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        if "content-length" not in headers:
            raise RuntimeError(f"answer without Content-Length: {headers}")
        size = int(headers["content-length"])
        while len(rest) < size:
            chunk = sock.recv(max(65536, size - len(rest)))
            if not chunk:
                raise ConnectionError("the server closed the connection mid-answer")
            rest += chunk
        if status != 200:
            raise RuntimeError(f"answered {status}: {rest[:300]!r}")
        if headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            sock.close()
            self.sock = None


def _client(port: int, path: str, body: bytes, start_at: float, seconds: float) -> None:
    """One client process: prints ``warm-up count`` then each latency, one a line."""
    client = Client(port, path, body)
    client.connect()
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    warm = 0
    while time.perf_counter() - started < WARMUP_S:
        client.send()
        warm += 1
    lat = []
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        client.send()
        t1 = time.perf_counter()
        lat.append(t1 - t0)
        if t1 > end:
            break
    sys.stdout.write("\n".join(map(repr, [warm, *lat])) + "\n")


def run(port: int, path: str, body: bytes, concurrency: int,
        seconds: float) -> dict[str, float]:
    """Requests per second, p50 and p99 (ms) over ``seconds`` after a warm-up; ``n`` the
    requests timed, ``total`` all requests sent (with the warm-up's).

    The clients are plain ``python loadgen.py`` processes (nothing else imported); they
    start together, a moment after all of them are up."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(body)
        f.flush()
        start_at = time.time() + 0.5 + 0.1 * concurrency
        procs = [subprocess.Popen([sys.executable, __file__, str(port), path, f.name,
                                   repr(start_at), repr(seconds)], stdout=subprocess.PIPE,
                                  text=True) for _ in range(concurrency)]
        outputs = [p.communicate(timeout=seconds + 120)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a load client failed: {[p.returncode for p in procs]}")
    answers = [[float(x) for x in out.split()] for out in outputs]
    lat = sorted(x for got in answers for x in got[1:])
    total = sum(int(got[0]) + len(got) - 1 for got in answers)

    def pick(q: float) -> float:
        return lat[min(len(lat) - 1, round(q / 100 * (len(lat) - 1)))] * 1000

    return {"rps": len(lat) / seconds, "p50_ms": pick(50), "p99_ms": pick(99), "n": len(lat),
            "total": total}


if __name__ == "__main__":
    _port, _path, _body, _start, _seconds = sys.argv[1:]
    _client(int(_port), _path, Path(_body).read_bytes(), float(_start), float(_seconds))
