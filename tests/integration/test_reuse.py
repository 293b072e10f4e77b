"""Reuse of results (issue 18, item 3): a submit that asks for reuse (`Prefer:
reuse`, or its tenant's `reuse` setting) and whose exact document bytes,
analyzer and api-version match a stored Succeeded result of the same tenant
gets a new operation that is Succeeded already, with that result, and no
upstream call; the answer says `Preference-Applied: reuse`, and its usage is
not counted again. A URL is never reused (its content can change), nor is a
result of another tenant, another analyzer or other bytes."""
import os
import time

from conftest import SECRETS, request
from test_usage import total

KEY_A = "reuse-a-" + os.urandom(8).hex()
KEY_B = "reuse-b-" + os.urandom(8).hex()
SECRETS.extend([KEY_A, KEY_B])
A, B = {"x-api-key": KEY_A}, {"x-api-key": KEY_B}
REUSE = {"Prefer": "reuse"}
GA = "2025-11-01"


def binary(gw, doc, analyzer="pro-demo", headers=None, version=GA):
    """A document's bytes through the Azure-compatible :analyzeBinary."""
    return request(gw.base, "POST",
                   f"/contentunderstanding/analyzers/{analyzer}:analyzeBinary?api-version={version}",
                   body=doc, headers={"Content-Type": "application/pdf", **(headers or {})})


def status(gw, op_id, analyzer="pro-demo", headers=None, version=GA):
    return request(gw.base, "GET",
                   f"/contentunderstanding/analyzerResults/{op_id}?api-version={version}",
                   headers=headers)


def wait_succeeded(gw, op_id, headers=None, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = status(gw, op_id, headers=headers)
        if r.status != 429:  # within --client-poll-rate (1 a second)
            assert r.status == 200, (r.status, r.body)
            if r.json()["status"] not in ("NotStarted", "Running"):
                assert r.json()["status"] == "Succeeded", r.body
                return r.json()
        time.sleep(1.05)
    raise AssertionError(f"{op_id} not final after {timeout}s")


def op_id(r):
    assert r.status == 202, (r.status, r.body)
    return r.header("Operation-Location").split("/analyzerResults/")[1].split("?")[0]


def keyed(procs, sim, tenants_toml="", *extra):
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"a:{KEY_A}\nb:{KEY_B}\n")
    args = ["--api-keys-file", str(keys)]
    if tenants_toml:
        tenants = procs.tmp / "tenants.toml"
        tenants.write_text(tenants_toml)
        args += ["--tenants-file", str(tenants)]
    return procs.gateway(sim, *args, *extra)


def test_the_same_bytes_reuse_the_stored_result_with_no_upstream_call(procs):
    sim = procs.sim()
    gw = keyed(procs, sim)
    doc = b"%PDF-1.7 reuse me " + os.urandom(16)
    first = binary(gw, doc, headers={**A, **REUSE})
    assert first.header("Preference-Applied") is None  # nothing to reuse yet
    first_id = op_id(first)
    result = wait_succeeded(gw, first_id, headers=A)
    assert sim.stats()["submits"] == 1
    used = total(gw, A)
    assert used["operations"] == 1

    again = binary(gw, doc, headers={**A, "Prefer": "respond-async, Reuse"})
    assert again.header("Preference-Applied") == "reuse"
    again_id = op_id(again)
    assert again_id != first_id
    # Final at once: the first read answers it, with the same result.
    r = status(gw, again_id, headers=A)
    assert r.status == 200 and r.json()["status"] == "Succeeded", r.body
    assert r.json()["result"] == result["result"]
    assert sim.stats()["submits"] == 1  # no upstream call
    assert total(gw, A) == used  # usage not counted again
    assert any(rec.get("msg") == "state" and rec.get("operation_id") == again_id
               and rec.get("reused") is True for rec in gw.records())

    # Without the preference, the same bytes go upstream.
    plain = op_id(binary(gw, doc, headers=A))
    assert sim.stats()["submits"] == 2
    wait_succeeded(gw, plain, headers=A)


def test_other_bytes_analyzer_tenant_or_version_miss(procs):
    sim = procs.sim()
    gw = keyed(procs, sim)
    doc = b"%PDF-1.7 the one document " + os.urandom(16)
    wait_succeeded(gw, op_id(binary(gw, doc, headers={**A, **REUSE})), headers=A)
    submits = sim.stats()["submits"]
    misses = [
        binary(gw, doc + b" ", headers={**A, **REUSE}),                         # other bytes
        binary(gw, doc, analyzer="prebuilt-invoice", headers={**A, **REUSE}),  # other analyzer
        binary(gw, doc, headers={**B, **REUSE}),                               # other tenant
    ]
    for r in misses:
        assert r.header("Preference-Applied") is None, r.headers
        assert r.status == 202, (r.status, r.body)
    assert sim.stats()["submits"] == submits + len(misses)


def test_a_url_is_never_reused_and_a_tenant_setting_asks_for_reuse(procs):
    sim = procs.sim()
    gw = keyed(procs, sim, "[tenants.a]\nreuse = true\n")
    url = {"inputs": [{"url": "https://docs.example/same.pdf"}]}
    path = f"/contentunderstanding/analyzers/pro-demo:analyze?api-version={GA}"
    first = request(gw.base, "POST", path, body=url, headers=A)
    wait_succeeded(gw, op_id(first), headers=A)
    second = request(gw.base, "POST", path, body=url, headers=A)
    assert second.header("Preference-Applied") is None
    assert sim.stats()["submits"] == 2
    # Bytes are reused for tenant a without any header (its setting) ...
    doc = b"%PDF-1.7 setting " + os.urandom(16)
    wait_succeeded(gw, op_id(binary(gw, doc, headers=A)), headers=A)
    assert binary(gw, doc, headers=A).header("Preference-Applied") == "reuse"
    # ... and not for tenant b, which has no such setting and asks nothing.
    wait_succeeded(gw, op_id(binary(gw, doc, headers=B)), headers=B)
    assert binary(gw, doc, headers=B).header("Preference-Applied") is None


def test_an_expired_result_is_not_reused(procs):
    sim = procs.sim()
    gw = keyed(procs, sim, "", "--result-ttl", "3s", "--retrieval-grace", "3s")
    doc = b"%PDF-1.7 short-lived " + os.urandom(16)
    wait_succeeded(gw, op_id(binary(gw, doc, headers={**A, **REUSE})), headers=A)
    time.sleep(3.5)  # past its result TTL
    late = binary(gw, doc, headers={**A, **REUSE})
    assert late.header("Preference-Applied") is None
    assert sim.stats()["submits"] == 2


def test_reuse_with_an_idempotency_key_replays_the_reused_operation(procs):
    sim = procs.sim()
    gw = keyed(procs, sim)
    doc = b"%PDF-1.7 keyed " + os.urandom(16)
    wait_succeeded(gw, op_id(binary(gw, doc, headers={**A, **REUSE})), headers=A)
    h = {**A, **REUSE, "Idempotency-Key": "reuse-key-1"}
    first = binary(gw, doc, headers=h)
    assert first.header("Preference-Applied") == "reuse"
    replay = binary(gw, doc, headers=h)
    assert op_id(replay) == op_id(first)
    assert sim.stats()["submits"] == 1


def test_a_reused_operation_survives_a_restart(procs):
    sim = procs.sim()
    db = f"sqlite:{procs.tmp / 'reuse.db'}"
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"a:{KEY_A}\nb:{KEY_B}\n")
    gw = procs.gateway(sim, "--api-keys-file", str(keys), store=db)
    doc = b"%PDF-1.7 durable " + os.urandom(16)
    result = wait_succeeded(gw, op_id(binary(gw, doc, headers={**A, **REUSE})), headers=A)
    reused = op_id(binary(gw, doc, headers={**A, **REUSE}))
    gw.kill9()
    gw2 = procs.gateway(sim, "--api-keys-file", str(keys), store=db, name="gw2")
    r = status(gw2, reused, headers=A)
    assert r.status == 200 and r.json()["status"] == "Succeeded"
    assert r.json()["result"] == result["result"]
    assert sim.stats()["submits"] == 1


def test_a_re_created_analyzer_matches_no_older_result(procs):
    """The analyzer's latest creation is part of what a reuse matches: after
    the analyzer is created again through the gateway, the same bytes go
    upstream (the new definition may extract other fields)."""
    from test_analyzers import analyzer, creation_id, put, wait_creation
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = put(gw, "receipts-r", analyzer())
    assert r.status == 201, r.body
    assert wait_creation(gw, creation_id(r))["status"] == "Succeeded"
    doc = b"%PDF-1.7 redefined " + os.urandom(16)
    wait_succeeded(gw, op_id(binary(gw, doc, analyzer="receipts-r", headers=REUSE)))
    hit = binary(gw, doc, analyzer="receipts-r", headers=REUSE)
    assert hit.header("Preference-Applied") == "reuse"
    r = put(gw, "receipts-r", analyzer("Receipts, v2"), query="?allowReplace=true")
    assert r.status in (200, 201), r.body
    assert wait_creation(gw, creation_id(r))["status"] == "Succeeded"
    submits = sim.stats()["submits"]
    miss = binary(gw, doc, analyzer="receipts-r", headers=REUSE)
    assert miss.header("Preference-Applied") is None
    assert miss.status == 202, (miss.status, miss.body)
    assert sim.stats()["submits"] == submits + 1
