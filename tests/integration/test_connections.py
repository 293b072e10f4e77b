"""Connection hygiene: idle keep-alive timeout, maximum connections, and a
SIGTERM drain that finishes the requests in flight."""
import socket
import threading
import time

from conftest import request


def test_idle_keep_alive_connections_are_closed(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--idle-timeout", "1s")
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    t0 = time.time()
    rest = s.recv(65536)  # the server closes the idle connection
    assert rest == b""
    assert 0.5 < time.time() - t0 < 5
    s.close()


def read_all(s):
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_connections_over_the_maximum_get_503(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-connections", "5", "--threads", "1")
    held = [socket.create_connection(("127.0.0.1", gw.port), timeout=10) for _ in range(5)]
    for s in held:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    # Past the maximum, in the probe reserve: a probe is served (and closed) ...
    extra = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = read_all(extra)  # the server closes after the answer
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    extra.close()
    # ... anything else is 503 (and closed).
    extra = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    extra.sendall(b"GET /operations HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = read_all(extra)
    assert answer.startswith(b"HTTP/1.1 503") and b"ServerBusy" in answer, answer[:100]
    extra.close()
    for s in held:
        s.close()
    time.sleep(0.2)
    assert request(gw.base, "GET", "/healthz").status == 200  # room again
    assert request(gw.base, "GET", "/operations").status != 503


def test_the_probe_reserve_is_bounded(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-connections", "2", "--threads", "1")
    held = [socket.create_connection(("127.0.0.1", gw.port), timeout=10) for _ in range(2)]
    for s in held:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    # 64 idle connections fill the reserve (each waits at most 2 s for a header) ...
    reserve = [socket.create_connection(("127.0.0.1", gw.port), timeout=10) for _ in range(64)]
    # ... and the next ones are closed at once, without being read.
    t0 = time.time()
    past = [socket.create_connection(("127.0.0.1", gw.port), timeout=1) for _ in range(3)]
    for s in past:
        assert s.recv(65536) == b""
    assert time.time() - t0 < 1.5
    for s in held + reserve + past:
        s.close()
    time.sleep(0.3)
    assert request(gw.base, "GET", "/healthz").status == 200


def test_sigterm_finishes_requests_in_flight_then_exits_0(procs):
    sim = procs.sim("--latency", "1500ms")
    gw = procs.gateway(sim)
    result = {}

    def slow_submit():
        result["r"] = gw.submit(url="https://d/a.pdf?sim_duration=60s", timeout=20)

    t = threading.Thread(target=slow_submit)
    t.start()
    time.sleep(0.5)  # the submit is waiting on the (slow) upstream
    gw.p.send_signal(15)
    time.sleep(0.2)
    # No new connections are accepted while draining.
    try:
        request(gw.base, "GET", "/healthz", timeout=2)
        accepted_new = True
    except OSError:
        accepted_new = False
    t.join(20)
    assert gw.p.wait(15) == 0
    assert not accepted_new
    assert result["r"].status == 202  # the request in flight was finished
    op_id = result["r"].json()["operationId"]
    # ... and recorded: a restarted gateway on the same store knows it.
    store = [a for a in gw.args if a.startswith("sqlite:")][0]
    gw2 = procs.gateway(sim, "--fallback-lookup", "off", store=store, name="gw2")
    assert gw2.results(op_id).status == 202
