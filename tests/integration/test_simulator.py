"""The simulator speaks the Azure Content Understanding REST API faithfully."""
import base64
import json
import time

from conftest import KEY, SECRETS, request

AUTH = {"Ocp-Apim-Subscription-Key": KEY}


def analyze(sim, analyzer="pro-demo", body=None, version="2025-05-01-preview", headers=None,
            route="analyze"):
    h = dict(AUTH)
    h.update(headers or {})
    return request(sim.base, "POST",
                   f"/contentunderstanding/analyzers/{analyzer}:{route}?api-version={version}",
                   body=body if body is not None else {"url": "https://docs.example/a.pdf"}, headers=h)


def poll(sim, op_id, version="2025-05-01-preview"):
    return request(sim.base, "GET",
                   f"/contentunderstanding/analyzerResults/{op_id}?api-version={version}", headers=AUTH)


def test_analyze_answers_202_with_operation_location(procs):
    sim = procs.sim()
    r = analyze(sim)
    assert r.status == 202
    body = r.json()
    assert body["status"] == "NotStarted"
    loc = r.header("Operation-Location")
    assert loc == f"http://{sim.base}/contentunderstanding/analyzerResults/{body['id']}?api-version=2025-05-01-preview"


def test_operation_runs_then_succeeds_with_the_documented_shape(procs):
    sim = procs.sim("--duration", "1s")
    op_id = analyze(sim).json()["id"]
    first = poll(sim, op_id).json()
    assert first["status"] in ("NotStarted", "Running")
    time.sleep(1.2)
    final = poll(sim, op_id)
    assert final.status == 200
    doc = final.json()
    assert doc["id"] == op_id and doc["status"] == "Succeeded"
    result = doc["result"]
    assert result["analyzerId"] == "pro-demo"
    assert result["apiVersion"] == "2025-05-01-preview"
    assert result["createdAt"].endswith("Z")
    assert result["warnings"] == []
    content = result["contents"][0]
    assert content["kind"] == "document"
    assert "markdown" in content and "Checksum" in content["fields"]
    # Deterministic: the same answer every time.
    assert poll(sim, op_id).body == final.body


def test_inputs_form_and_ga_version_and_binary(procs):
    sim = procs.sim("--duration", "0s")
    r = analyze(sim, body={"inputs": [{"url": "https://docs.example/b.pdf"}]}, version="2025-11-01")
    assert r.status == 202
    # GA takes binary on :analyzeBinary, not :analyze.
    r = analyze(sim, body=b"%PDF-1.7 ...", version="2025-11-01", headers={"Content-Type": "application/pdf"},
                route="analyzeBinary")
    assert r.status == 202
    r = analyze(sim, body=b"%PDF-1.7 ...", version="2025-11-01", headers={"Content-Type": "application/pdf"})
    assert r.status == 415
    # The 2025-05-01-preview version takes binary on :analyze.
    r = analyze(sim, body=b"%PDF-1.7 ...", headers={"Content-Type": "application/pdf"})
    assert r.status == 202
    op_id = r.json()["id"]
    src = poll(sim, op_id).json()["result"]["contents"][0]["fields"]["Source"]["valueString"]
    assert src.startswith("binary:12:")
    r = analyze(sim, version="2024-12-01-preview")
    assert r.status == 202


def test_errors_wrong_key_unknown_analyzer_unknown_result(procs):
    sim = procs.sim()
    r = request(sim.base, "POST", "/contentunderstanding/analyzers/pro-demo:analyze?api-version=2025-05-01-preview",
                body={"url": "u"}, headers={"Ocp-Apim-Subscription-Key": "wrong"})
    assert r.status == 401
    r = analyze(sim, analyzer="no-such-analyzer")
    assert r.status == 404 and r.json()["error"]["code"] == "ModelNotFound"
    r = poll(sim, "00000000-0000-0000-0000-000000000000")
    assert r.status == 404 and r.json()["error"]["code"] == "OperationNotFound"
    r = analyze(sim, body={"nothing": 1})
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidRequest"
    r = analyze(sim, version="2023-01-01")
    assert r.status == 400


def test_expired_result_is_operation_not_found(procs):
    sim = procs.sim("--duration", "0s", "--result-ttl", "500ms")
    op_id = analyze(sim).json()["id"]
    assert poll(sim, op_id).status == 200
    time.sleep(0.7)
    r = poll(sim, op_id)
    assert r.status == 404 and r.json()["error"]["code"] == "OperationNotFound"


def test_outcomes_and_faults_follow_the_directives(procs):
    sim = procs.sim()
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_outcome=Failed"}).json()["id"]
    doc = poll(sim, op_id).json()
    assert doc["status"] == "Failed" and doc["error"]["code"] == "InvalidContent"
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_outcome=Canceled"}).json()["id"]
    assert poll(sim, op_id).json()["status"] == "Canceled"
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_poll_faults=429:7,503,badjson"}).json()["id"]
    r = poll(sim, op_id)
    assert r.status == 429 and r.header("Retry-After") == "7"
    assert poll(sim, op_id).status == 503
    r = poll(sim, op_id)
    assert r.status == 200
    try:
        r.json()
        raise AssertionError("badjson fault returned valid JSON")
    except ValueError:
        pass
    assert poll(sim, op_id).json()["status"] == "Succeeded"
    r = analyze(sim, body={"url": "https://d/x.pdf?sim_typo=1"})
    assert r.status == 400


def test_same_input_gives_the_same_checksum(procs):
    sim = procs.sim("--duration", "0s")
    a = analyze(sim, body={"url": "https://docs.example/same.pdf"}).json()["id"]
    b = analyze(sim, body={"url": "https://docs.example/same.pdf"}).json()["id"]
    fa = poll(sim, a).json()["result"]["contents"][0]["fields"]["Checksum"]
    fb = poll(sim, b).json()["result"]["contents"][0]["fields"]["Checksum"]
    assert fa == fb
    assert sim.op_stats(a)["checksum"] == fa["valueString"]


# --- The OIDC issuer (/_sim/oidc) ---

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def mint(sim, **claims):
    r = request(sim.base, "POST", "/_sim/oidc/token", body=claims)
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["token_type"] == "Bearer"
    token = doc["access_token"]
    SECRETS.append(token)  # a bearer credential: no answer or log may hold it
    return token, doc


def decode(token):
    parts = token.split(".")
    assert len(parts) == 3 and all(parts)
    return json.loads(b64decode(parts[0])), json.loads(b64decode(parts[1])), b64decode(parts[2])


def keys_of(sim):
    r = request(sim.base, "GET", "/_sim/oidc/discovery/keys")
    assert r.status == 200
    return r.json()["keys"]


def verify(token, jwk):
    """Checks the signature with python3-cryptography when it is installed."""
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    except ImportError:
        return False
    head, payload, sig = token.split(".")
    signed = f"{head}.{payload}".encode()
    raw = b64decode(sig)
    num = lambda m: int.from_bytes(b64decode(jwk[m]), "big")  # noqa: E731
    if jwk["kty"] == "RSA":
        key = rsa.RSAPublicNumbers(num("e"), num("n")).public_key()
        key.verify(raw, signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert jwk["crv"] == "P-256" and len(raw) == 64  # JOSE form: r || s
        key = ec.EllipticCurvePublicNumbers(num("x"), num("y"), ec.SECP256R1()).public_key()
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    return True


def test_oidc_discovery_leads_to_public_keys_only(procs):
    sim = procs.sim()
    issuer = f"http://{sim.base}/_sim/oidc"
    r = request(sim.base, "GET", "/_sim/oidc/.well-known/openid-configuration")
    assert r.status == 200
    doc = r.json()
    assert doc["issuer"] == issuer
    assert doc["jwks_uri"] == issuer + "/discovery/keys"
    assert doc["token_endpoint"] == issuer + "/token"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    keys = request(sim.base, "GET", doc["jwks_uri"][len(f"http://{sim.base}"):]).json()["keys"]
    assert sorted(k["kty"] for k in keys) == ["EC", "RSA"]
    for k in keys:
        assert k["use"] == "sig" and k["kid"]
        assert not [m for m in PRIVATE_MEMBERS if m in k], k
    rsa_key = [k for k in keys if k["kty"] == "RSA"][0]
    ec_key = [k for k in keys if k["kty"] == "EC"][0]
    assert rsa_key["alg"] == "RS256" and rsa_key["e"] and len(b64decode(rsa_key["n"])) == 256
    assert ec_key["alg"] == "ES256" and ec_key["crv"] == "P-256" and ec_key["x"] and ec_key["y"]
    stats = sim.stats()
    assert stats["oidc_discovery_requests"] == 1 and stats["oidc_jwks_requests"] == 1


def test_oidc_minted_tokens_carry_the_claims_and_verify(procs):
    sim = procs.sim()
    keys = {k["kid"]: k for k in keys_of(sim)}
    now = int(time.time())
    for alg in ("RS256", "ES256"):
        token, doc = mint(sim, alg=alg, sub="s-1", oid="o-1", groups=["g1", "g2"], scp="read",
                          roles=["Admin"], lifetime_s=600, extra={"name": "Ada"})
        assert doc["expires_in"] == 600
        header, claims, _ = decode(token)
        assert header["alg"] == alg and header["typ"] == "JWT" and header["kid"] in keys
        assert keys[header["kid"]]["alg"] == alg
        assert claims["iss"] == f"http://{sim.base}/_sim/oidc"
        assert claims["aud"] == "api://lrogate" and claims["ver"] == "2.0"
        assert claims["tid"] and claims["sub"] == "s-1" and claims["oid"] == "o-1"
        assert claims["groups"] == ["g1", "g2"] and claims["scp"] == "read"
        assert claims["roles"] == ["Admin"] and claims["name"] == "Ada"
        assert abs(claims["exp"] - (now + 600)) <= 5 and abs(claims["nbf"] - now) <= 5
        verify(token, keys[header["kid"]])
    # Tokens a validator must refuse, each for its own reason.
    _, claims, _ = decode(mint(sim, lifetime_s=-300, nbf_offset_s=600, iat_offset_s=-60)[0])
    assert claims["exp"] < now and claims["nbf"] > now + 500 and claims["iat"] < now
    tid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    _, claims, _ = decode(mint(sim, iss=f"https://sts.windows.net/{tid}/", tid=tid, ver="1.0",
                               aud=["api://a", "api://b"])[0])
    assert claims["iss"] == f"https://sts.windows.net/{tid}/" and claims["ver"] == "1.0"
    assert claims["aud"] == ["api://a", "api://b"]
    header, _, _ = decode(mint(sim, kid="no-such-kid")[0])
    assert header["kid"] == "no-such-kid"
    for bad in ({"scope": "x"}, {"alg": "HS256"}, {"groups": "g"}, {"lifetime_s": "1"}):
        r = request(sim.base, "POST", "/_sim/oidc/token", body=bad)
        assert r.status == 400 and r.json()["error"] == "invalid_request", bad


def test_oidc_rotation_publishes_a_new_kid_and_signs_with_it(procs):
    sim = procs.sim()
    first = keys_of(sim)
    old_rsa = [k["kid"] for k in first if k["kty"] == "RSA"][0]
    ec_kid = [k["kid"] for k in first if k["kty"] == "EC"][0]
    r = request(sim.base, "POST", "/_sim/oidc/rotate", body={})
    assert r.status == 200
    new = r.json()["kid"]
    assert new not in (old_rsa, ec_kid)
    assert set(r.json()["kids"]) == {new, old_rsa, ec_kid}
    keys = {k["kid"]: k for k in keys_of(sim)}
    assert set(keys) == {new, old_rsa, ec_kid}
    token, _ = mint(sim)
    assert decode(token)[0]["kid"] == new
    verify(token, keys[new])
    r = request(sim.base, "POST", "/_sim/oidc/rotate", body={"drop_old": True})
    newest = r.json()["kid"]
    assert set(r.json()["kids"]) == {newest, ec_kid}
    assert {k["kid"] for k in keys_of(sim)} == {newest, ec_kid}
    assert request(sim.base, "POST", "/_sim/oidc/rotate", body={"drop": 1}).status == 400


def test_oidc_jwks_down_answers_503(procs):
    sim = procs.sim()
    assert request(sim.base, "POST", "/_sim/oidc/jwks-down", body={"down": True}).status == 200
    assert request(sim.base, "GET", "/_sim/oidc/discovery/keys").status == 503
    assert request(sim.base, "GET", "/_sim/oidc/.well-known/openid-configuration").status == 503
    mint(sim)  # the token endpoint still answers
    assert request(sim.base, "POST", "/_sim/oidc/jwks-down", body={"down": False}).status == 200
    assert len(keys_of(sim)) == 2
    assert request(sim.base, "POST", "/_sim/oidc/jwks-down", body={}).status == 400
    stats = sim.stats()
    assert stats["oidc_jwks_requests"] == 2 and stats["oidc_discovery_requests"] == 1


def test_oidc_tokens_never_reach_the_log(procs):
    sim = procs.sim("--log-level", "debug")
    tokens = [mint(sim, sub="s", alg=alg)[0] for alg in ("RS256", "ES256")]
    request(sim.base, "POST", "/_sim/oidc/rotate", body={})
    sim.stop()
    text = sim.text()
    for t in tokens:
        assert t not in text and t.split(".")[2] not in text


# --- Analyzer create/get/delete ---

V = "2025-05-01-preview"


def analyzer_url(analyzer_id, version=V, extra=""):
    return f"/contentunderstanding/analyzers/{analyzer_id}?api-version={version}{extra}"


def put_analyzer(sim, analyzer_id, body, **kw):
    return request(sim.base, "PUT", analyzer_url(analyzer_id, **kw), body=body, headers=AUTH)


def wait_operation(sim, location, timeout=10):
    path = location[len(f"http://{sim.base}"):]
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = request(sim.base, "GET", path, headers=AUTH)
        assert r.status == 200, r.body
        doc = r.json()
        seen.append(doc["status"])
        if doc["status"] != "Running":
            return doc, seen
        time.sleep(0.2)
    raise AssertionError(f"creation still running after {timeout}s")


def test_analyzer_is_created_then_analyzes_then_is_deleted(procs):
    sim = procs.sim("--analyzer-create-duration", "1s")
    body = {"description": "Receipts", "baseAnalyzerId": "prebuilt-documentAnalyzer",
            "fieldSchema": {"fields": {"Total": {"type": "number", "method": "extract"}}}}
    r = put_analyzer(sim, "receipts-1", body)
    assert r.status == 201, r.body
    created = r.json()
    assert created["analyzerId"] == "receipts-1" and created["status"] == "creating"
    assert created["fieldSchema"] == body["fieldSchema"] and created["createdAt"].endswith("Z")
    loc = r.header("Operation-Location")
    assert loc.startswith(f"http://{sim.base}/contentunderstanding/analyzers/receipts-1/operations/")
    assert loc.endswith(f"?api-version={V}")
    # While it is being created it cannot analyze.
    r = analyze(sim, analyzer="receipts-1")
    assert r.status == 409 and r.json()["error"]["innererror"]["code"] == "ModelNotReady"
    assert request(sim.base, "GET", analyzer_url("receipts-1"), headers=AUTH).json()["status"] == "creating"
    doc, seen = wait_operation(sim, loc)
    assert seen[0] == "Running" and doc["status"] == "Succeeded"
    assert doc["id"] == loc.split("/operations/")[1].split("?")[0]
    assert doc["result"]["analyzerId"] == "receipts-1" and doc["result"]["status"] == "ready"
    r = request(sim.base, "GET", analyzer_url("receipts-1"), headers=AUTH)
    assert r.status == 200 and r.json()["status"] == "ready"
    r = analyze(sim, analyzer="receipts-1")
    assert r.status == 202
    assert poll(sim, r.json()["id"]).status == 200
    # An existing id is a conflict unless replacing is allowed.
    assert put_analyzer(sim, "receipts-1", body).status == 409
    r = put_analyzer(sim, "receipts-1", body, version="2025-11-01", extra="&allowReplace=true")
    assert r.status == 200 and r.json()["status"] == "creating"
    r = request(sim.base, "DELETE", analyzer_url("receipts-1"), headers=AUTH)
    assert r.status == 204 and r.body == b""
    r = request(sim.base, "GET", analyzer_url("receipts-1"), headers=AUTH)
    assert r.status == 404 and r.json()["error"]["code"] == "ModelNotFound"
    assert request(sim.base, "DELETE", analyzer_url("receipts-1"), headers=AUTH).status == 404
    assert analyze(sim, analyzer="receipts-1").status == 404


def test_analyzer_creation_can_fail_and_checks_like_the_other_routes(procs):
    sim = procs.sim()
    r = put_analyzer(sim, "broken", {"description": "sim_outcome=Failed sim_duration=300ms"})
    assert r.status == 201
    doc, _ = wait_operation(sim, r.header("Operation-Location"))
    assert doc["status"] == "Failed" and doc["error"]["code"] and "result" not in doc
    assert request(sim.base, "GET", analyzer_url("broken"), headers=AUTH).json()["status"] == "failed"
    r = analyze(sim, analyzer="broken")
    assert r.status == 409 and "failed" in r.json()["error"]["message"]
    # Directives that do not apply to analyzers, bad bodies, ids, versions and keys.
    assert put_analyzer(sim, "x", {"description": "sim_poll_faults=500"}).status == 400
    assert put_analyzer(sim, "x", {"description": "sim_duration=soon"}).status == 400
    assert request(sim.base, "PUT", analyzer_url("x"), body=b"not json", headers=AUTH).status == 400
    assert put_analyzer(sim, "a" * 65, {}).status == 400
    assert put_analyzer(sim, "x", {}, version="2020-01-01").status == 400
    r = request(sim.base, "PUT", analyzer_url("x"), body={},
                headers={"Ocp-Apim-Subscription-Key": "wrong"})
    assert r.status == 401
    assert request(sim.base, "GET", analyzer_url("x")).status == 401
    r = request(sim.base, "GET", "/contentunderstanding/analyzers/x/operations/nope?api-version=" + V,
                headers=AUTH)
    assert r.status == 404 and r.json()["error"]["code"] == "OperationNotFound"
    # The --analyzers ones are there from the start, ready.
    r = request(sim.base, "GET", analyzer_url("pro-demo"), headers=AUTH)
    assert r.status == 200 and r.json()["status"] == "ready"
