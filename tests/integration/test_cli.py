"""The client CLI: lrogate analyze / lrogate status against a real gateway."""
import http.server
import json
import os
import shutil
import subprocess
import threading

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
