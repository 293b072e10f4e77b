"""What every benchmark needs: free loopback ports, the simulator and the
gateway as real processes, small HTTP helpers, and a load generator that
sends requests on a fixed schedule (open loop) over keep-alive connections.
Loopback only; every process started here is stopped by Procs.close()."""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LROGATE_BIN", os.path.join(ROOT, "build", "lrogate"))
KEY = "bench-key"
API_VERSION = "2025-05-01-preview"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=90) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class Procs:
    """The benchmark's processes, with their logs in one temporary folder."""

    def __init__(self, binary=None):
        self.dir = tempfile.mkdtemp(prefix="lrogate-bench-")
        os.chmod(self.dir, 0o755)
        self.procs = []
        # A copy of the binary: a rebuild during a run must not change (or
        # break) what is being measured.
        self.bin = os.path.join(self.dir, "lrogate")
        shutil.copy2(binary or BIN, self.bin)

    def copy_bin(self, binary, name):
        """A copy of another binary (a reference build) beside this run's."""
        path = os.path.join(self.dir, name)
        shutil.copy2(binary, path)
        return path

    def start(self, cmd, name, env=None, cwd=None):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        p = subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, **(env or {})}, cwd=cwd)
        self.procs.append(p)
        return p

    def sim(self, *extra, name="sim"):
        port = free_port()
        p = self.start([self.bin, "simulate", "--listen", f"127.0.0.1:{port}", "--key", KEY, *extra], name)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz")
        return p, url

    def gateway(self, sim_url, *extra, store=None, name="gw", port=None, env=None, binary=None):
        """binary: another lrogate (a copy kept by copy_bin), default this run's.
        sim_url None: no --upstream-endpoint (a pool file in extra says where)."""
        port = port or free_port()
        store = store or f"sqlite:{os.path.join(self.dir, name + '.db')}"
        upstream = ["--upstream-endpoint", sim_url] if sim_url else []
        p = self.start([binary or self.bin, "serve", "--listen", f"127.0.0.1:{port}", *upstream,
                        "--store", store, "--log-level", "warn", *extra], name,
                       env={"AZURE_CU_KEY": KEY, **(env or {})})
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz")
        return p, url

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", self.dir])


# --- an open-loop HTTP/1.1 load generator (asyncio, keep-alive) ---

async def _read_response(reader, keep_head=False):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return (status, body, head) if keep_head else (status, body)


def run_open_loop(host, port, make_request, rate, seconds, connections=64, keep_head=False,
                  max_connections=None, targets=None):
    """Sends rate*seconds requests at fixed times (i/rate). make_request(i)
    returns raw request bytes. Returns [(latency_s, status, body)], latency
    from the scheduled send time (so a stalled server is not hidden), and
    the number of requests that could not start on time for lack of a free
    connection. keep_head: each result also holds the index of its request
    and the answer's head (status line and headers, bytes):
    (latency_s, status, body, index, head). max_connections: a request that
    finds every connection busy opens another, up to this many (then it
    waits), and idle connections are reused last in, first out, so the few
    that are needed stay warm and the rest idle (a server closes a connection
    that sends nothing for its header timeout). Whatever the pool, a
    connection its peer closed is replaced before use, never written to.
    targets: [(host, port)] instead of host and port: request i goes to
    targets[i % len(targets)] (the schedule's rate is the sum over them),
    each target with its own connections (connections and max_connections
    are per target)."""
    dests = targets or [(host, port)]

    async def main():
        pools = [asyncio.LifoQueue() if max_connections else asyncio.Queue() for _ in dests]
        opened = [connections] * len(dests)
        for pool, (h, p) in zip(pools, dests):
            for _ in range(connections):
                pool.put_nowait(await asyncio.open_connection(h, p))
        results = []
        late = 0
        t0 = time.perf_counter() + 0.05
        total = int(rate * seconds)

        async def one(i, at):
            nonlocal late
            d = i % len(dests)
            pool, (host, port) = pools[d], dests[d]
            if pool.empty() and max_connections and opened[d] < max_connections:
                opened[d] += 1
                conn = await asyncio.open_connection(host, port)
            else:
                conn = await pool.get()
            if conn[0].at_eof():
                conn[1].close()
                conn = await asyncio.open_connection(host, port)
            if time.perf_counter() - at > 0.001:
                late += 1
            reader, writer = conn
            head = b""
            try:
                writer.write(make_request(i))
                status, body, head = await _read_response(reader, keep_head=True)
            except (OSError, asyncio.IncompleteReadError):
                status, body = 0, b""
                conn = await asyncio.open_connection(host, port)
            latency = time.perf_counter() - at
            results.append((latency, status, body, i, head) if keep_head else (latency, status, body))
            pool.put_nowait(conn)

        tasks = []
        for i in range(total):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(i, at)))
        await asyncio.gather(*tasks)
        for pool in pools:
            while not pool.empty():
                _, w = pool.get_nowait()
                w.close()
        return results, late

    return asyncio.run(main())


def http_post_bytes(host_port, path, body, headers=None):
    body = json.dumps(body).encode() if not isinstance(body, bytes) else body
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body
