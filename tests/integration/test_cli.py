"""The client CLI: lrogate analyze / lrogate status against a real gateway."""
import http.server
import json
import os
import shutil
import subprocess
import threading
import time

from conftest import BIN, free_port


def cli(*args, env=None, timeout=60):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, env=e, timeout=timeout)


def test_analyze_wait_writes_the_result_and_exits_0(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    out = procs.tmp / "result.json"
    p = cli("analyze", "--gateway", f"http://{gw.base}", "--analyzer", "pro-demo",
            "--url", "https://docs.example/cli.pdf?sim_duration=2s", "--wait", "--output", str(out))
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_bytes())
    assert out.read_bytes() == sim.final_body(doc["id"]).body
    # Not a terminal: plain progress lines, one per status change.
    lines = p.stderr.decode().splitlines()
    assert any("Succeeded" in l for l in lines) and not any("\r" in l for l in lines)


def test_analyze_failure_exits_1_with_the_reason(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    p = cli("analyze", "--gateway", f"http://{gw.base}", "--analyzer", "pro-demo",
            "--url", "https://docs.example/f.pdf?sim_duration=1s&sim_outcome=Failed", "--wait")
    assert p.returncode == 1
    assert b"InvalidContent" in p.stderr


def test_analyze_without_wait_prints_the_id_and_status_reads_it(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    doc = procs.tmp / "doc.pdf"
    doc.write_bytes(b"%PDF-1.7 test document")
    p = cli("analyze", "--gateway", f"http://{gw.base}", "--analyzer", "pro-demo", "--file", str(doc))
    assert p.returncode == 0, p.stderr
    op_id = p.stdout.decode().strip()
    s = cli("status", "--gateway", f"http://{gw.base}", op_id, "--wait")
    assert s.returncode == 0, s.stderr
    status = json.loads(s.stdout)
    assert status["id"] == op_id and status["status"] == "Succeeded"
    src = status["result"]["contents"][0]["fields"]["Source"]["valueString"]
    assert src.startswith("binary:22:")


def test_exit_codes_for_refusals_and_unreachable_gateways(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    p = cli("analyze", "--gateway", f"http://{gw.base}", "--analyzer", "no-such-analyzer", "--url", "https://d/x")
    assert p.returncode == 2 and b"was not found" in p.stderr
    p = cli("status", "--gateway", f"http://{gw.base}", "00000000-0000-4000-8000-000000000000")
    assert p.returncode == 2
    p = cli("analyze", "--gateway", f"http://127.0.0.1:{free_port()}", "--analyzer", "a", "--url", "https://d/x")
    assert p.returncode == 3 and b"cannot reach the gateway" in p.stderr
    p = cli("analyze", "--analyzer", "a")
    assert p.returncode == 2 and b"--url or --file" in p.stderr


def test_the_api_key_comes_from_the_environment(procs):
    seen = {}

    class Fake(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen["auth"] = self.headers.get("Authorization")
            seen["path"] = self.path
            seen["body"] = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            # A URL goes to the native route, which shapes it for the upstream.
            body = b'{"id":"abc","status":"NotStarted"}'
            self.send_response(202)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        p = cli("analyze", "--gateway", f"http://127.0.0.1:{srv.server_port}", "--analyzer", "a",
                "--url", "https://d/x", env={"LROGATE_API_KEY": "client-secret-1"})
        assert p.returncode == 0, p.stderr
        assert seen["auth"] == "Bearer client-secret-1"
        assert seen["path"] == "/operations"
        assert seen["body"] == {"analyzerId": "a", "documentUrl": "https://d/x"}
        assert p.stdout.strip() == b"abc"
        assert b"client-secret-1" not in p.stdout + p.stderr
    finally:
        srv.shutdown()


def test_progress_is_a_live_line_on_a_terminal(procs):
    if not shutil.which("script"):
        raise AssertionError("util-linux 'script' is needed for the terminal test")
    sim = procs.sim()
    gw = procs.gateway(sim)
    cmd = (f"{BIN} analyze --gateway http://{gw.base} --analyzer pro-demo "
           f"--url 'https://docs.example/t.pdf?sim_duration=2s' --wait --output {procs.tmp / 'o.json'}")
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout
    out = p.stdout.decode(errors="replace")
    assert "\r" in out and "\x1b[K" in out  # redrawn in place
    assert "Succeeded after" in out


class FakeGateway:
    """A gateway that answers every GET with one canned reply, every POST with
    another (a submit accepted as operation x), and counts requests."""

    def __init__(self, status=200, body=b"", headers=(), post_body=b'{"id":"x"}'):
        self.requests = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, status, body, headers):
                fake.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self.reply(status, body, headers)

            def do_POST(self):
                self.reply(202, post_body, ())

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.srv.shutdown()
        self.srv.server_close()


def one_line(stderr):
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_client_that_cannot_start_exits_2_with_one_line(procs):
    # An OpenSSL configuration that activates only the null provider leaves
    # no ciphers: the TLS context, made for every client (http:// too), fails.
    conf = procs.tmp / "openssl.cnf"
    conf.write_text("openssl_conf = init\n[init]\nproviders = prov\n"
                    "[prov]\nnull = null_sect\n[null_sect]\nactivate = 1\n")
    with FakeGateway(body=b'{"id":"x","status":"Running"}') as gw:
        for args in (["status", "--gateway", gw.url, "x"],
                     ["analyze", "--gateway", gw.url, "--analyzer", "a", "--url", "https://d/x"]):
            p = cli(*args, env={"OPENSSL_CONF": str(conf), "LROGATE_API_KEY": "client-secret-2"})
            assert p.returncode == 2, (args, p.returncode, p.stderr)
            line = one_line(p.stderr)
            assert line.startswith("lrogate: cannot start the HTTP client: "), line
            assert b"client-secret-2" not in p.stdout + p.stderr
        assert gw.requests == 0


def test_a_malformed_gateway_url_exits_2_before_any_request(procs):
    for bad in ["http://127.0.0.1:abc", "http://127.0.0.1:99999", "http://127.0.0.1:0",
                "http://exa mple", "https://[::1", "http://h/a?b=1", "http://h/#f", "http:///x",
                "http://h/%zz", "http://h/a|b", "ftp://h", "127.0.0.1:8080",
                "http://user:pw-secret@127.0.0.1:1"]:
        p = cli("status", "--gateway", bad, "x")
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        line = one_line(p.stderr)
        assert line.startswith("lrogate: --gateway must be an http:// or https:// URL"), (bad, line)
        assert b"pw-secret" not in p.stderr
    # Still accepted: a path prefix, a trailing slash, an IPv6 literal.
    for good in [f"http://127.0.0.1:{free_port()}/lro/", f"http://[::1]:{free_port()}"]:
        p = cli("status", "--gateway", good, "x")
        assert p.returncode == 3 and b"cannot reach the gateway" in p.stderr, (good, p.stderr)


def test_a_file_that_cannot_be_read_exits_2_and_sends_nothing(procs):
    # /proc/self/mem exists and opens, but reading its start fails (EIO), even
    # as root, who reads a mode-000 file.
    with FakeGateway(post_body=b'{"operationId":"x"}') as gw:
        p = cli("analyze", "--gateway", gw.url, "--analyzer", "a", "--file", "/proc/self/mem")
        assert p.returncode == 2, p.stderr
        assert one_line(p.stderr) == ("lrogate: cannot read --file /proc/self/mem: "
                                      "Input/output error")
        assert gw.requests == 0


def test_a_result_that_cannot_be_written_to_stdout_exits_2(procs):
    with FakeGateway(body=b'{"id":"x","status":"Running"}') as gw, open("/dev/full", "w") as full:
        p = subprocess.run([BIN, "status", "--gateway", gw.url, "x"], stdout=full,
                           stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"}, timeout=30)
        assert p.returncode == 2, p.stderr
        assert one_line(p.stderr) == "lrogate: cannot write the result to stdout"


def test_an_unreadable_status_exits_3_with_a_message(procs):
    with FakeGateway(body=b"<html>not json</html>") as gw:
        p = cli("status", "--gateway", gw.url, "x")
        assert p.returncode == 3
        assert one_line(p.stderr) == "lrogate: the gateway sent an unreadable status"


def test_retry_after_never_waits_past_the_timeout(procs):
    with FakeGateway(status=503, headers=[("Retry-After", "3600")]) as gw:
        t0 = time.monotonic()
        p = cli("analyze", "--gateway", gw.url, "--analyzer", "a", "--url", "https://d/x",
                "--wait", "--timeout", "2s", timeout=30)
        assert p.returncode == 4, p.stderr
        assert time.monotonic() - t0 < 15
        assert gw.requests == 2  # the submit, one status poll
        assert b"still not finished after --timeout" in p.stderr


def test_a_timeout_beyond_the_longest_duration_is_refused(procs):
    # 100000000h is 3.6e20 ns: accepted, it overflowed the deadline.
    p = cli("analyze", "--analyzer", "a", "--url", "https://d/x", "--wait",
            "--timeout", "100000000h")
    assert p.returncode == 2
    assert one_line(p.stderr) == ("lrogate: --timeout: invalid duration '100000000h': "
                                  "too large (at most 36500d)")
