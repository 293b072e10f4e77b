"""CORS (Fetch standard) with --cors-origins: a browser page on a listed
origin may call the gateway; preflights need no key and reach no handler,
store or upstream; without the setting no CORS header is ever sent."""
import os
import subprocess

from conftest import BIN, SECRETS, request

SPA = "http://127.0.0.1:5173"
ORIGINS = f"{SPA},https://app.contoso.example"
RESULTS = "/pro-mode/content-analyzers/a/results/x"
ANALYZE = "/pro-mode/content-analyzers/pro-demo:analyze"
CLIENT_KEY = "cors-client-" + os.urandom(8).hex()
SECRETS.append(CLIENT_KEY)


def preflight(gw, path, origin=SPA, method="GET", headers="authorization,x-group-id"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return request(gw.base, "OPTIONS", path, headers=h)


def tokens(value):
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def cors_headers(r):
    return [k for k, _ in r.headers if k.lower().startswith("access-control-")]


def test_a_preflight_from_a_listed_origin_is_204_with_the_lists(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--cors-origins", ORIGINS)
    r = preflight(gw, RESULTS)
    assert r.status == 204, r.body
    assert r.body == b""
    assert r.header("Access-Control-Allow-Origin") == SPA
    assert {"get", "options"} <= tokens(r.header("Access-Control-Allow-Methods"))
    allowed = tokens(r.header("Access-Control-Allow-Headers"))
    assert {"authorization", "x-group-id", "content-type", "idempotency-key", "prefer",
            "repeatability-request-id", "repeatability-first-sent", "x-ms-client-request-id",
            "traceparent", "api-key", "x-api-key"} <= allowed
    assert int(r.header("Access-Control-Max-Age")) > 0
    assert "origin" in tokens(r.header("Vary"))
    assert r.header("Access-Control-Allow-Credentials") is None
    # The other listed origin is echoed too; each path lists its own methods.
    r = preflight(gw, "/operations/x", origin="https://app.contoso.example", method="DELETE")
    assert r.status == 204
    assert r.header("Access-Control-Allow-Origin") == "https://app.contoso.example"
    assert tokens(r.header("Access-Control-Allow-Methods")) == {"get", "delete", "options"}
    r = preflight(gw, ANALYZE, method="POST", headers="content-type,idempotency-key")
    assert r.status == 204
    assert tokens(r.header("Access-Control-Allow-Methods")) == {"post", "options"}
    # Preflights reach no handler, store or upstream.
    stats = sim.stats()
    assert stats["submits"] == 0 and stats["polls"] == 0
    assert request(gw.base, "GET", "/operations").json()["value"] == []


def test_an_unlisted_origin_is_refused_403_without_cors_headers(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--cors-origins", ORIGINS)
    for origin in ("https://evil.example", "http://127.0.0.1:5174", "HTTP://127.0.0.1:5173"):
        r = preflight(gw, RESULTS, origin=origin)
        assert r.status == 403, origin
        assert r.json()["error"]["code"] == "CorsOriginNotAllowed"
        assert cors_headers(r) == [], origin
    # Its actual requests are answered as usual, without CORS headers (the browser blocks the read).
    r = request(gw.base, "GET", "/healthz", headers={"Origin": "https://evil.example"})
    assert r.status == 200 and cors_headers(r) == []
    assert sim.stats()["submits"] == 0


def test_a_preflight_needs_no_key_and_a_401_carries_cors_headers(procs):
    sim = procs.sim()
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"team-a:{CLIENT_KEY}\n")
    gw = procs.gateway(sim, "--cors-origins", ORIGINS, "--api-keys-file", str(keys))
    r = preflight(gw, RESULTS)
    assert r.status == 204, r.body
    assert r.header("Access-Control-Allow-Origin") == SPA
    # The page can read the 401 (and its WWW-Authenticate) to ask for a key.
    r = request(gw.base, "GET", RESULTS, headers={"Origin": SPA})
    assert r.status == 401
    assert r.header("Access-Control-Allow-Origin") == SPA
    assert "www-authenticate" in tokens(r.header("Access-Control-Expose-Headers"))
    assert "origin" in tokens(r.header("Vary"))
    # With the key, the same origin gets through, with CORS headers.
    r = request(gw.base, "GET", RESULTS, headers={"Origin": SPA,
                                                   "Authorization": f"Bearer {CLIENT_KEY}"})
    assert r.status == 404 and r.header("Access-Control-Allow-Origin") == SPA
    # A preflight to a path no route serves learns nothing of the routes: the guard's 401.
    r = preflight(gw, "/no/such/route")
    assert r.status == 401 and r.header("Access-Control-Allow-Origin") == SPA
    stats = sim.stats()
    assert stats["submits"] == 0 and stats["polls"] == 0


def test_actual_answers_carry_cors_headers(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--cors-origins", ORIGINS)
    r = gw.submit(url="https://d/a.pdf?sim_duration=1s", headers={"Origin": SPA})
    assert r.status == 202, r.body
    assert r.header("Access-Control-Allow-Origin") == SPA
    assert "origin" in tokens(r.header("Vary"))
    expose = tokens(r.header("Access-Control-Expose-Headers"))
    assert {"operation-location", "retry-after", "preference-applied", "repeatability-result",
            "x-ms-request-id", "www-authenticate"} <= expose
    assert r.header("Access-Control-Allow-Credentials") is None
    op = r.json()["operationId"]
    # The router's own answers too: 404 unknown route, 405 wrong method.
    r = request(gw.base, "GET", "/no/such/route", headers={"Origin": SPA})
    assert r.status == 404 and r.header("Access-Control-Allow-Origin") == SPA
    r = request(gw.base, "PUT", f"/operations/{op}", headers={"Origin": SPA})
    assert r.status == 405 and r.header("Access-Control-Allow-Origin") == SPA
    r = request(gw.base, "GET", "/healthz", headers={"Origin": "https://app.contoso.example"})
    assert r.status == 200
    assert r.header("Access-Control-Allow-Origin") == "https://app.contoso.example"
    # OPTIONS that is no preflight (no Access-Control-Request-Method) is a method like any other.
    r = request(gw.base, "OPTIONS", f"/operations/{op}", headers={"Origin": SPA})
    assert r.status == 405 and r.header("Access-Control-Allow-Origin") == SPA
    # Without Origin: no CORS header.
    r = request(gw.base, "GET", f"/operations/{op}")
    assert r.status == 200 and cors_headers(r) == [] and r.header("Vary") is None
    assert sim.stats()["submits"] == 1


def test_a_star_echoes_each_origin(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--cors-origins", "*")
    r = preflight(gw, RESULTS, origin="https://anywhere.example")
    assert r.status == 204
    assert r.header("Access-Control-Allow-Origin") == "https://anywhere.example"
    r = request(gw.base, "GET", "/healthz", headers={"Origin": "https://other.example"})
    assert r.header("Access-Control-Allow-Origin") == "https://other.example"


def test_without_the_setting_no_cors_header_is_sent(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = preflight(gw, RESULTS)
    assert r.status == 405 and cors_headers(r) == []
    r = gw.submit(headers={"Origin": SPA})
    assert r.status == 202 and cors_headers(r) == [] and r.header("Vary") is None
    r = request(gw.base, "GET", "/no/such/route", headers={"Origin": SPA})
    assert r.status == 404 and cors_headers(r) == []


def test_a_bad_origin_is_refused_at_start_by_name(procs):
    for bad in ("https://app.contoso.example/", "app.contoso.example", "https://a.example,*"):
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--upstream-endpoint",
                            "http://127.0.0.1:9", "--store", f"sqlite:{procs.tmp / 'bad.db'}",
                            "--cors-origins", bad],
                           env={"AZURE_CU_KEY": "k", "PATH": os.environ.get("PATH", "")},
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2, (bad, p.returncode, p.stderr[-500:])
        assert "--cors-origins" in p.stderr
        named = "*" if bad.endswith("*") else bad
        assert named in p.stderr, p.stderr[-500:]


def test_a_bad_origin_with_a_key_fetch_in_flight_exits_cleanly(procs):
    # The OIDC verifier has started its discovery fetch (the issuer answers
    # slowly) when the bad --cors-origins stops start-up: the client's thread
    # must stop before the verifier it calls back is destroyed (under the
    # sanitizers' build, a use after free otherwise).
    sim = procs.sim("--latency", "300ms")
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--upstream-endpoint",
                        f"http://{sim.base}", "--store", f"sqlite:{procs.tmp / 'bad.db'}",
                        "--oidc-issuer", f"http://{sim.base}/_sim/oidc", "--oidc-audience", "api://x",
                        "--cors-origins", "app.contoso.example"],
                       env={"AZURE_CU_KEY": "k", "PATH": os.environ.get("PATH", ""),
                            **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr[-1000:])
    assert "--cors-origins" in p.stderr


def raw_exchange(gw, data):
    """Sends raw bytes, returns (status, headers dict lower-cased) of the answer."""
    import socket
    host, port = gw.base.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(head[0].split()[1]), headers


def test_answers_the_server_writes_itself_carry_cors_and_a_request_id(procs):
    # A browser page must be able to read why its request was refused before
    # any handler saw it (413, framing), not get an opaque CORS failure.
    sim = procs.sim()
    gw = procs.gateway(sim, "--cors-origins", ORIGINS, "--max-body", "1KiB")
    big = request(gw.base, "POST", ANALYZE, body=b"x" * 4096,
                  headers={"Origin": SPA, "Content-Type": "application/octet-stream",
                           "x-ms-client-request-id": "page-req-1"})
    assert big.status == 413, big.body
    assert big.header("Access-Control-Allow-Origin") == SPA
    assert "Operation-Location" in big.header("Access-Control-Expose-Headers")
    assert "origin" in tokens(big.header("Vary"))
    assert big.header("x-ms-request-id")
    assert big.header("x-ms-client-request-id") == "page-req-1"
    status, headers = raw_exchange(
        gw, f"POST {ANALYZE} HTTP/1.1\r\nHost: x\r\nOrigin: {SPA}\r\nContent-Length: 3\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode())
    assert status == 400
    assert headers.get("access-control-allow-origin") == SPA
    assert headers.get("x-ms-request-id")
    # An unlisted origin gets no CORS header here either, but the request id.
    status, headers = raw_exchange(
        gw, f"POST {ANALYZE} HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    assert status == 400
    assert not [k for k in headers if k.startswith("access-control-")]
    assert headers.get("x-ms-request-id")
