"""Harness for integration tests: real `lrogate serve` and `lrogate simulate`
processes on free loopback ports (port 0, read back from the "listening" log
line), spoken to over HTTP. Every process is killed at the end of its test;
every log is kept in the test's tmp dir and can be searched."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LROGATE_BIN", os.path.join(ROOT, "build", "lrogate"))
KEY = "sim-key-" + uuid.uuid4().hex  # an upstream key that must never leak
CLIENT_SECRET = "app~secret-" + uuid.uuid4().hex  # an Entra ID client secret
IDENTITY_HEADER = "identity-header-" + uuid.uuid4().hex  # a managed identity's header
# Every secret a test uses (the upstream key, client API keys, the Entra ID
# secret, the identity header, the simulator's tokens, which all start so).
# No response and no log line of any test may contain one: request() checks
# every answer, the procs fixture every process log when its test ends.
SECRETS = [KEY, CLIENT_SECRET, IDENTITY_HEADER, "sim-token-"]


def assert_no_secret(data, where):
    for secret in SECRETS:
        assert secret.encode() not in data, f"a secret leaked into {where}"


class Proc:
    def __init__(self, args, log_path, ready_msg, env=None):
        self.args = args
        self.log_path = log_path
        self.ready_msg = ready_msg
        self.env = env
        self.port = None
        self.p = None

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        start_size = self.log.tell()
        env = dict(os.environ)
        for k in list(env):
            if k.startswith(("LROGATE_", "AZURE_", "IDENTITY_")):
                del env[k]
        env.update(self.env or {})
        self.p = subprocess.Popen([BIN] + self.args, stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(start_size)
                for line in f.read().decode(errors="replace").splitlines():
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if rec.get("msg") == self.ready_msg:
                        self.port = rec["port"]
                        return self
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited {self.p.returncode}: {self.text()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.args[0]} did not start: {self.text()[-2000:]}")

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=10)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def records(self):
        out = []
        for line in self.text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_record(self, msg, timeout=10):
        """The first log record with this msg, waiting for it to be written."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.records():
                if r.get("msg") == msg:
                    return r
            time.sleep(0.05)
        raise AssertionError(f"no '{msg}' log record after {timeout}s")

    @property
    def base(self):
        return f"127.0.0.1:{self.port}"


UI_DIR = os.path.join(ROOT, "tests", "ui")


def browser_ready():
    """Whether node, Debian's Chromium and tests/ui's playwright-core are here."""
    return bool(shutil.which("node") and os.path.exists("/usr/bin/chromium")
                and os.path.isdir(os.path.join(UI_DIR, "node_modules", "playwright-core")))


# The test command (scripts/test.sh) sets LROGATE_REQUIRE_BROWSER: there a
# missing browser is a failure, not a skip.
needs_browser = pytest.mark.skipif(
    not browser_ready() and not os.environ.get("LROGATE_REQUIRE_BROWSER"),
    reason="needs node, /usr/bin/chromium and tests/ui/node_modules "
    "(scripts/install-deps.sh --test installs them)")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def request(base, method, path, body=None, headers=None, timeout=30, https_context=None):
    host, port = base.rsplit(":", 1)
    if https_context is not None:
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=https_context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        out = Response(r.status, r.getheaders(), r.read())
        assert_no_secret(out.body, f"the answer to {method} {path}")
        for k, v in out.headers:
            assert_no_secret(v.encode(), f"header {k} of {method} {path}")
        return out
    finally:
        conn.close()


class Gateway(Proc):
    def pace(self, op_id):
        """Waits as a well-behaved client does: polls of one operation at
        least 1 s apart (the default --client-poll-rate; the gateway answers
        429 to a closer one)."""
        polled = self.__dict__.setdefault("_polled", {})
        last = polled.get(op_id)
        if last is not None:
            wait = 1.02 - (time.time() - last)
            if wait > 0:
                time.sleep(wait)
        polled[op_id] = time.time()

    def submit(self, url="https://docs.example/a.pdf", analyzer="pro-demo", **kw):
        return request(self.base, "POST", f"/pro-mode/content-analyzers/{analyzer}:analyze",
                       body={"url": url}, **kw)

    def results(self, op_id, analyzer="pro-demo", pace=True, **kw):
        if pace:
            self.pace(op_id)
        return request(self.base, "GET", f"/pro-mode/content-analyzers/{analyzer}/results/{op_id}", **kw)

    def operation(self, op_id, pace=True):
        if pace:
            self.pace(op_id)
        return request(self.base, "GET", f"/operations/{op_id}")

    def wait_final(self, op_id, analyzer="pro-demo", timeout=30):
        """Polls the compat route (within the client rate limit) until it is final."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.results(op_id, analyzer)
            if r.status not in (202, 429):
                return r
            time.sleep(1.05)
        raise AssertionError(f"{op_id} still processing after {timeout}s")

    def wait_status(self, op_id, timeout=30):
        """Watches the status monitor until the record is terminal (does not retrieve)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = [r for r in self.records() if r.get("msg") == "state" and r.get("operation_id") == op_id
                    and r.get("to") in ("Succeeded", "Failed", "Canceled")]
            if rows:
                return rows[-1]["to"]
            time.sleep(0.1)
        raise AssertionError(f"{op_id} not final after {timeout}s")


class Sim(Proc):
    def final_body(self, op_id):
        """The simulator's own answer for an operation, for byte-for-byte comparison."""
        return request(self.base, "GET",
                       f"/contentunderstanding/analyzerResults/{op_id}?api-version=2025-05-01-preview",
                       headers={"Ocp-Apim-Subscription-Key": KEY})

    def op_stats(self, op_id):
        return request(self.base, "GET", f"/_sim/operations/{op_id}").json()

    def stats(self):
        return request(self.base, "GET", "/_sim/stats", https_context=getattr(self, "ctx", None)).json()


@pytest.fixture
def procs(tmp_path):
    started = []

    class Factory:
        def sim(self, *extra, key=KEY, name="sim", env=None):
            s = Sim(["simulate", "--listen", "127.0.0.1:0", "--key", key, "--duration", "2s", *extra],
                    str(tmp_path / f"{name}.log"), "simulator listening", env=env)
            started.append(s)
            return s.start()

        def gateway(self, upstream, *extra, key=KEY, store=None, name="gw", env=None, start=True):
            # upstream None: the pool file in extra (--upstreams) says where.
            upstream_args = []
            if upstream is not None:
                endpoint = upstream if isinstance(upstream, str) else f"http://{upstream.base}"
                upstream_args = ["--upstream-endpoint", endpoint]
            store = store or f"sqlite:{tmp_path / (name + '.db')}"
            args = ["serve", "--listen", "127.0.0.1:0", *upstream_args,
                    "--store", store, "--poll-interval", "1s", *extra]
            # LROGATE_TEST_POLLER_SHARDS=N runs every gateway that does not
            # choose with --poller-shards N (the default is min(2, cores)).
            shards = os.environ.get("LROGATE_TEST_POLLER_SHARDS")
            if shards and "--poller-shards" not in extra:
                args += ["--poller-shards", shards]
            env = dict(env or {})
            if key is not None:
                env["AZURE_CU_KEY"] = key
            g = Gateway(args, str(tmp_path / f"{name}.log"), "listening", env=env)
            started.append(g)
            return g.start() if start else g

    f = Factory()
    f.tmp = tmp_path
    yield f
    for p in started:
        try:
            p.stop()
        except Exception:
            pass
    for p in started:
        with open(p.log_path, "rb") as log:
            assert_no_secret(log.read(), p.log_path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- PostgreSQL (the replica tests) ---

PG_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-server.sh")


def psql(url, sql):
    """Runs SQL; returns the rows as lists of strings."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          "-d", url, "-c", sql],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return [line.split("\t") for line in out.splitlines() if line]


class PgServer:
    """A throw-away PostgreSQL server (scripts/pg-test-server.sh) in a
    directory of /tmp (the server's user must be able to reach it)."""

    def __init__(self, url=None):
        self.url = url
        self.dir = None

    def start(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="lrogate-pg-", dir="/tmp")
        self.url = subprocess.run(["bash", PG_SCRIPT, "start", self.dir], check=True,
                                  capture_output=True, text=True, timeout=120).stdout.strip()
        return self

    def stop(self):
        subprocess.run(["bash", PG_SCRIPT, "stop", self.dir], check=True, timeout=60)

    def remove(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def create_db(self):
        name = "lrogate_it_" + uuid.uuid4().hex[:12]
        psql(self.url, f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_server():
    """The run's PostgreSQL server: the one scripts/test.sh started, or one
    of this session's own when pytest runs alone."""
    url = os.environ.get("LROGATE_TEST_POSTGRES_URL")
    if url:
        yield PgServer(url)
        return
    server = PgServer().start()
    yield server
    server.stop()
    server.remove()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database for one test."""
    return pg_server.create_db()


@pytest.fixture
def own_pg():
    """A server this test alone uses, so it may stop and start it."""
    server = PgServer().start()
    yield server
    try:
        server.stop()
    finally:
        server.remove()
