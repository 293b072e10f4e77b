"""OIDC bearer tokens (Entra ID first) from the simulator's issuer: a table of
token cases each with its reason, key rotation and an unreachable JWKS, and
who owns an operation (a group named by X-Group-ID, else the user)."""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

import pytest

from conftest import SECRETS, request

AUD = "api://lrogate"
TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
MINTED = []  # every token a test minted; the secrets check covers them


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    def __init__(self, sim):
        self.sim = sim
        self.url = f"http://127.0.0.1:{sim.port}/_sim/oidc"

    def post(self, path, body):
        r = request(self.sim.base, "POST", f"/_sim/oidc{path}", body=body)
        assert r.status == 200, r.body
        return r.json()

    def token(self, **claims):
        claims.setdefault("tid", TID)
        claims.setdefault("aud", AUD)
        t = self.post("/token", claims)["access_token"]
        MINTED.append(t)
        SECRETS.append(t)
        return t


def start(procs, *extra, sim_flags=()):
    sim = procs.sim(*sim_flags)
    issuer = Issuer(sim)
    gw = procs.gateway(sim, "--oidc-issuer", issuer.url, "--oidc-audience", AUD,
                       "--oidc-min-refetch", "1s", *extra)
    gw.wait_record("oidc signing keys fetched")
    return sim, issuer, gw


def bearer(token, group=None):
    h = {"Authorization": f"Bearer {token}"}
    if group:
        h["X-Group-ID"] = group
    return h


def refusal(gw, token):
    r = request(gw.base, "GET", "/operations", headers=bearer(token))
    assert r.status == 401, (r.status, r.body)
    assert r.json()["error"]["code"] == "Unauthorized"
    www = r.header("WWW-Authenticate")
    assert www.startswith("Bearer") and 'error="invalid_token"' in www, www
    return www


def test_a_valid_token_admits_and_each_bad_one_is_refused_with_its_reason(procs):
    sim, issuer, gw = start(procs)
    good = issuer.token(oid="user-1", sub="s-1")
    assert request(gw.base, "GET", "/operations", headers=bearer(good)).status == 200
    assert "expired" in refusal(gw, issuer.token(oid="u", lifetime_s=-300))
    assert "not valid yet" in refusal(gw, issuer.token(oid="u", nbf_offset_s=600))
    assert "issuer" in refusal(gw, issuer.token(oid="u", iss="https://evil.example/"))
    assert "audience" in refusal(gw, issuer.token(oid="u", aud="api://someone-else"))
    # A payload from another token under this one's signature.
    other = issuer.token(oid="admin")
    h, p, s = good.split(".")
    assert "signature" in refusal(gw, ".".join([h, other.split(".")[1], s]))
    # alg none, and HS256 signed with the issuer's public key as the secret.
    keys = request(sim.base, "GET", "/_sim/oidc/discovery/keys").json()["keys"]
    rsa = [k for k in keys if k["kty"] == "RSA"][0]
    payload = b64(json.dumps({"iss": issuer.url, "aud": AUD, "tid": TID, "oid": "x",
                              "exp": int(time.time()) + 600}).encode())
    none = b64(json.dumps({"alg": "none", "kid": rsa["kid"]}).encode()) + "." + payload + ".AAAA"
    assert "none" in refusal(gw, none)
    head = b64(json.dumps({"alg": "HS256", "kid": rsa["kid"]}).encode())
    mac = hmac.new(json.dumps(rsa).encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert "HS256" in refusal(gw, f"{head}.{payload}.{b64(mac)}")
    assert "three base64url parts" in refusal(gw, "garbage")
    # A 20 KB token: over the header limit, or refused; never echoed.
    huge = "e" * 20_000
    r = request(gw.base, "GET", "/operations", headers=bearer(huge))
    assert r.status in (401, 431) and huge[:64].encode() not in r.body
    # No token in any answer or log line (conftest checks every answer; the
    # gateway's log here).
    text = gw.text()
    for t in MINTED:
        assert t not in text and t.split(".")[2] not in text


def test_es256_and_entra_v1_tokens(procs):
    v1 = f"https://sts.windows.net/{TID}/"
    sim, issuer, gw = start(procs, "--oidc-extra-issuers", v1)
    assert request(gw.base, "GET", "/operations",
                   headers=bearer(issuer.token(oid="u", alg="ES256"))).status == 200
    t = issuer.token(oid="u", iss=v1, ver="1.0", aud=[AUD])
    assert request(gw.base, "GET", "/operations", headers=bearer(t)).status == 200


def test_a_rotated_key_is_fetched_and_forged_kids_cannot_hammer_the_issuer(procs):
    sim, issuer, gw = start(procs)
    old = issuer.token(oid="u")
    issuer.post("/rotate", {})
    new = issuer.token(oid="u")
    deadline = time.time() + 10
    while request(gw.base, "GET", "/operations", headers=bearer(new)).status != 200:
        assert time.time() < deadline, "the rotated key was never fetched"
        time.sleep(0.2)
    assert request(gw.base, "GET", "/operations", headers=bearer(old)).status == 200
    before = sim.stats()["oidc_jwks_requests"]
    t0 = time.time()
    for _ in range(60):
        forged = issuer.token(oid="u", kid=uuid.uuid4().hex)
        assert "known keys" in refusal(gw, forged)
    elapsed = time.time() - t0
    fetched = sim.stats()["oidc_jwks_requests"] - before
    # At most one fetch per --oidc-min-refetch (1 s) caused by unknown kids.
    assert fetched <= int(elapsed) + 2, (fetched, elapsed)


def test_keys_held_keep_working_while_the_jwks_endpoint_is_down(procs):
    sim, issuer, gw = start(procs)
    old = issuer.token(oid="u")
    assert request(gw.base, "GET", "/operations", headers=bearer(old)).status == 200
    issuer.post("/jwks-down", {"down": True})
    issuer.post("/rotate", {})
    new = issuer.token(oid="u")
    deadline = time.time() + 10
    www = refusal(gw, new)
    while "could not be refreshed" not in www:
        assert time.time() < deadline, www
        time.sleep(0.3)
        www = refusal(gw, new)
    assert request(gw.base, "GET", "/operations", headers=bearer(old)).status == 200
    issuer.post("/jwks-down", {"down": False})
    deadline = time.time() + 10
    while request(gw.base, "GET", "/operations", headers=bearer(new)).status != 200:
        assert time.time() < deadline
        time.sleep(0.3)


def submit(gw, token, group=None, key=None, url="https://d/a.pdf?sim_duration=60s"):
    h = bearer(token, group)
    if key:
        h["Idempotency-Key"] = key
    r = request(gw.base, "POST", "/operations", headers=h,
                body={"analyzerId": "pro-demo", "documentUrl": url})
    assert r.status == 202, r.body
    return r.json()["id"]


def test_a_group_owns_what_its_members_submit_and_no_one_else_sees_it(procs):
    sim, issuer, gw = start(procs)
    alice = issuer.token(oid="alice", groups=["team-1", "team-2"])
    bob = issuer.token(oid="bob", groups=["team-1"])
    carol = issuer.token(oid="carol", groups=["team-3"])
    stranger = issuer.token(oid="dave", groups=["team-1"], tid="another-tenant")
    op = submit(gw, alice, "team-1")
    # Bob is in team-1: he reads, lists and long-polls it.
    r = request(gw.base, "GET", f"/operations/{op}", headers=bearer(bob, "team-1"))
    assert r.status == 200 and r.json()["id"] == op
    listed = request(gw.base, "GET", "/operations", headers=bearer(bob, "team-1")).json()["value"]
    assert [o["id"] for o in listed] == [op]
    # Without the header Bob acts for himself: his own (empty) list, and 404.
    assert request(gw.base, "GET", "/operations", headers=bearer(bob)).json()["value"] == []
    time.sleep(1.05)
    assert request(gw.base, "GET", f"/operations/{op}", headers=bearer(bob)).status == 404
    # Carol may not name team-1; in her own group it is unknown on every route.
    r = request(gw.base, "GET", f"/operations/{op}", headers=bearer(carol, "team-1"))
    assert r.status == 403 and r.json()["error"]["code"] == "GroupNotAllowed"
    for method, path in [("GET", f"/operations/{op}"),
                         ("GET", f"/pro-mode/content-analyzers/pro-demo/results/{op}"),
                         ("DELETE", f"/operations/{op}")]:
        time.sleep(1.05)
        assert request(gw.base, method, path, headers=bearer(carol, "team-3")).status == 404
    # Another tenant with a group of the same name is another owner.
    time.sleep(1.05)
    assert request(gw.base, "GET", f"/operations/{op}",
                   headers=bearer(stranger, "team-1")).status == 404
    # Bob cancels it for the group.
    r = request(gw.base, "DELETE", f"/operations/{op}", headers=bearer(bob, "team-1"))
    assert r.status == 200 and r.json()["status"] == "Canceled"
    # Two X-Group-ID headers: refused.
    import socket
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall((f"GET /operations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n"
               "X-Group-ID: team-1\r\nX-Group-ID: team-2\r\n\r\n").encode())
    assert s.recv(65536).startswith(b"HTTP/1.1 400")
    s.close()


def test_idempotency_keys_are_per_owner_and_api_keys_still_work(procs):
    keys = procs.tmp / "keys.txt"
    api_key = "oidc-test-key-" + os.urandom(8).hex()
    SECRETS.append(api_key)
    keys.write_text(f"team-k:{api_key}\n")
    sim, issuer, gw = start(procs, "--api-keys-file", str(keys))
    alice = issuer.token(oid="alice", groups=["g"])
    bob = issuer.token(oid="bob", groups=["g"])
    a1 = submit(gw, alice, key="same-key")
    assert submit(gw, alice, key="same-key") == a1  # a retry: the same operation
    b1 = submit(gw, bob, key="same-key")
    assert b1 != a1
    g1 = submit(gw, alice, "g", key="group-key")
    assert submit(gw, bob, "g", key="group-key") == g1  # the group's key, shared
    assert sim.stats()["submits"] == 3
    # Either credential admits.
    r = request(gw.base, "GET", "/operations", headers={"api-key": api_key})
    assert r.status == 200 and r.json()["value"] == []
    assert request(gw.base, "GET", "/operations").status == 401


def test_the_cli_sends_a_bearer_token_from_lrogate_token(procs):
    import subprocess
    from conftest import BIN
    sim, issuer, gw = start(procs)
    token = issuer.token(oid="cli-user")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LROGATE_TOKEN": token}
    p = subprocess.run([BIN, "analyze", "--gateway", f"http://{gw.base}", "--analyzer", "pro-demo",
                        "--url", "https://docs.example/cli.pdf?sim_duration=1s", "--wait"],
                       capture_output=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert token.encode() not in p.stdout + p.stderr
    # The operation is the token's user's: listed for them, unknown to another.
    mine = request(gw.base, "GET", "/operations", headers=bearer(token)).json()["value"]
    assert len(mine) == 1
    other = issuer.token(oid="someone-else")
    assert request(gw.base, "GET", "/operations", headers=bearer(other)).json()["value"] == []
    both = dict(env, LROGATE_API_KEY="a-key-12345")
    p = subprocess.run([BIN, "status", "--gateway", f"http://{gw.base}", "x1"],
                       capture_output=True, env=both, timeout=30)
    assert p.returncode == 2 and b"not both" in p.stderr
