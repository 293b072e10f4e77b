"""Usage counted exactly once (issue 18, item 2): a Succeeded analysis's
usage is written by its completion's own store transaction, so a crash, a
restart or a second replica can neither lose it nor count it twice. GET
/usage reads it per tenant or per analyzer; per-tenant daily quotas from
--tenants-file answer 429 at submit. The expected pages and tokens are
computed from the results the client fetched, never from constants."""
import os
import signal
import time

from conftest import SECRETS, request
from test_pool import metric, metrics, wait_for

KEY_OP = "usage-op-" + os.urandom(8).hex()
KEY_A = "usage-a-" + os.urandom(8).hex()
KEY_B = "usage-b-" + os.urandom(8).hex()
SECRETS.extend([KEY_OP, KEY_A, KEY_B])
OP, A, B = {"x-api-key": KEY_OP}, {"x-api-key": KEY_A}, {"x-api-key": KEY_B}


def cu_usage(body):
    """Pages and tokens as the gateway counts them from a Content
    Understanding result (README, "Usage and quotas")."""
    u = body.get("usage") or {}
    num = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else 0
    pages = sum(int(num(u.get(k))) for k in
                ("documentPagesMinimal", "documentPagesBasic", "documentPagesStandard"))
    tokens = int(num(u.get("contextualizationTokens")))
    tokens += sum(int(num(v)) for v in (u.get("tokens") or {}).values())
    return pages, tokens


def usage(gw, query="", headers=None):
    return request(gw.base, "GET", "/usage" + query, headers=headers)


def keyed_gateway(procs, sim, tenants_toml, *extra, **kw):
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"ops:{KEY_OP}\na:{KEY_A}\nb:{KEY_B}\n")
    tenants = procs.tmp / "tenants.toml"
    tenants.write_text(tenants_toml)
    gw = procs.gateway(sim, "--api-keys-file", str(keys), "--tenants-file", str(tenants),
                       *extra, **kw)
    return gw, tenants


def submit(gw, doc, analyzer="pro-demo", headers=None, duration="1s"):
    return gw.submit(url=f"https://docs.example/{doc}.pdf?sim_duration={duration}",
                     analyzer=analyzer, headers=headers)


def finish_all(gw, ids, headers=None, analyzer="pro-demo"):
    """Fetches every result; the pages and tokens they report, summed."""
    pages = tokens = 0
    for op_id in ids:
        r = gw.wait_final(op_id, analyzer=analyzer, timeout=60) if headers is None else \
            wait_final_as(gw, op_id, analyzer, headers)
        assert r.status == 200, (r.status, r.body)
        p, t = cu_usage(r.json())
        pages, tokens = pages + p, tokens + t
    return pages, tokens


def wait_final_as(gw, op_id, analyzer, headers, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = gw.results(op_id, analyzer, headers=headers)
        if r.status not in (202, 429):
            return r
        time.sleep(1.05)
    raise AssertionError(f"{op_id} still processing after {timeout}s")


def total(gw, headers=None, query=""):
    r = usage(gw, query, headers)
    assert r.status == 200, (r.status, r.body)
    rows = r.json()["value"]
    return {k: sum(row[k] for row in rows) for k in ("operations", "pages", "tokens", "bytesIn",
                                                      "bytesOut")}


def test_usage_is_counted_once_across_a_kill9_and_restart(procs):
    sim = procs.sim()
    db = f"sqlite:{procs.tmp / 'usage.db'}"
    gw = procs.gateway(sim, store=db)
    ids = []
    for i in range(6):
        r = submit(gw, f"crash-{i}", duration="3s")
        assert r.status == 202, (r.status, r.body)
        ids.append(r.json()["operationId"])
    gw.kill9()  # while they run upstream
    gw2 = procs.gateway(sim, store=db, name="gw2")
    pages, tokens = finish_all(gw2, ids)
    assert pages > 0 and tokens > 0  # the simulator reports both
    got = total(gw2)
    assert got["operations"] == len(ids)
    assert got["pages"] == pages and got["tokens"] == tokens
    assert got["bytesIn"] > 0 and got["bytesOut"] > 0
    # This process counted what it completed: at most every one.
    text = metrics(gw2)
    counted = metric(text, "lrogate_usage_operations_total", tenant="default") or 0
    assert 1 <= counted <= len(ids)  # it completed those the killed one had not
    assert (metric(text, "lrogate_usage_pages_total", tenant="default") or 0) <= pages
    # Another restart counts nothing again.
    gw2.stop()
    gw3 = procs.gateway(sim, store=db, name="gw3")
    assert total(gw3) == got
    by = usage(gw3, "?group_by=analyzer").json()
    assert by["groupBy"] == "analyzer"
    assert by["value"] == [{"analyzer": "pro-demo", **got}]


def test_two_replicas_count_each_operation_once(procs, pg_url):
    sim = procs.sim()
    gws = [procs.gateway(sim, store=pg_url, name=f"gw{i}") for i in range(2)]
    ids = []
    for i in range(16):
        r = submit(gws[i % 2], f"replica-{i}")
        assert r.status == 202, (r.status, r.body)
        ids.append(r.json()["operationId"])
    pages = tokens = 0
    for i, op_id in enumerate(ids):
        p, t = finish_all(gws[i % 2], [op_id])
        pages, tokens = pages + p, tokens + t
    for gw in gws:
        got = total(gw)
        assert got["operations"] == len(ids) and got["pages"] == pages and got["tokens"] == tokens
    # Each completion took effect on one replica, which alone counted it.
    counted = sum(metric(metrics(gw), "lrogate_usage_operations_total", tenant="default") or 0
                  for gw in gws)
    assert counted == len(ids)


def test_an_operator_sees_every_tenant_and_others_only_their_own(procs):
    sim = procs.sim()
    gw, _ = keyed_gateway(procs, sim, "[tenants.ops]\noperator = true\n")
    a_ids = [submit(gw, f"a-{i}", headers=A).json()["operationId"] for i in range(2)]
    b_ids = [submit(gw, "b-0", analyzer="prebuilt-invoice", headers=B).json()["operationId"]]
    a_pages, _ = finish_all(gw, a_ids, headers=A)
    b_pages, _ = finish_all(gw, b_ids, headers=B, analyzer="prebuilt-invoice")
    everyone = usage(gw, "?group_by=tenant", OP).json()["value"]
    assert [(r["tenant"], r["operations"], r["pages"]) for r in everyone] == \
        [("a", 2, a_pages), ("b", 1, b_pages)]
    by_analyzer = usage(gw, "?group_by=analyzer", OP).json()["value"]
    assert [(r["analyzer"], r["operations"]) for r in by_analyzer] == \
        [("prebuilt-invoice", 1), ("pro-demo", 2)]
    only_b = usage(gw, "?tenant=b", OP).json()["value"]
    assert [(r["tenant"], r["operations"]) for r in only_b] == [("b", 1)]
    # A tenant that is no operator sees its own row, whatever it asks.
    mine = usage(gw, "", A).json()
    assert [(r["tenant"], r["operations"], r["pages"]) for r in mine["value"]] == [("a", 2, a_pages)]
    assert [r["analyzer"] for r in usage(gw, "?group_by=analyzer", B).json()["value"]] == \
        ["prebuilt-invoice"]
    r = usage(gw, "?tenant=b", A)
    assert r.status == 403 and r.json()["error"]["code"] == "NotAnOperator"
    assert usage(gw, "?tenant=a", A).status == 200
    assert usage(gw, "").status == 401


def test_bad_usage_queries_are_400(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    cases = {
        "?from=2026-13-01": "InvalidDate",
        "?to=yesterday": "InvalidDate",
        "?from=2026-02-30": "InvalidDate",
        "?from=2026-03-02&to=2026-03-01": "InvalidRange",
        "?from=2026-03-01&to=2026-03-01": "InvalidRange",
        "?from=2025-01-01&to=2026-01-03": "RangeTooLong",
        "?group_by=day": "InvalidGroupBy",
        "?top=5": "InvalidQuery",
    }
    for q, code in cases.items():
        r = usage(gw, q)
        assert r.status == 400, (q, r.status)
        assert r.json()["error"]["code"] == code, (q, r.body)
    ok = usage(gw, "?from=2025-01-01&to=2026-01-02").json()
    assert ok["from"] == "2025-01-01" and ok["to"] == "2026-01-02" and ok["value"] == []
    default = usage(gw).json()
    assert default["groupBy"] == "tenant"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert default["from"] < today < default["to"]


def quota_refused(r, which):
    assert r.status == 429, (r.status, r.body)
    body = r.json()["error"]
    assert body["code"] == "QuotaExceeded" and which in body["message"], body
    assert 0 < int(r.header("Retry-After")) <= 86400


def test_an_operations_quota_refuses_the_fourth_submit_of_the_day(procs):
    sim = procs.sim()
    gw, _ = keyed_gateway(procs, sim, "[tenants.a]\noperations_per_day = 3\n")
    first = [submit(gw, f"q-{i}", headers=A, duration="20s") for i in range(2)]
    assert all(r.status == 202 for r in first)
    keyed = dict(A, **{"Idempotency-Key": "third"})
    third = submit(gw, "q-2", headers=keyed, duration="20s")
    assert third.status == 202
    # In flight counts toward the quota: a fourth is refused while they run.
    quota_refused(submit(gw, "q-3", headers=A), "operations_per_day")
    # A replay of an accepted submit still answers its operation.
    again = submit(gw, "q-2", headers=keyed, duration="20s")
    assert again.status == 202 and again.json()["operationId"] == third.json()["operationId"]
    # Another tenant is not limited, and is told nothing of a's usage.
    assert submit(gw, "b-free", headers=B).status == 202
    # All through the Azure-compatible and native routes too.
    azure = request(gw.base, "POST",
                    "/contentunderstanding/analyzers/pro-demo:analyze?api-version=2025-05-01-preview",
                    body={"url": "https://docs.example/az.pdf"}, headers=A)
    quota_refused(azure, "operations_per_day")
    native = request(gw.base, "POST", "/operations",
                     body={"analyzerId": "pro-demo", "documentUrl": "https://docs.example/n.pdf"},
                     headers=A)
    quota_refused(native, "operations_per_day")


def test_a_pages_quota_refuses_once_the_days_pages_reach_it(procs):
    sim = procs.sim()
    gw, _ = keyed_gateway(procs, sim, "[tenants.a]\npages_per_day = 1\n")
    op_id = submit(gw, "pages-0", headers=A).json()["operationId"]
    pages, _ = finish_all(gw, [op_id], headers=A)
    assert pages >= 1
    quota_refused(submit(gw, "pages-1", headers=A), "pages_per_day")
    assert submit(gw, "pages-b", headers=B).status == 202


def test_sighup_reloads_the_tenants_file(procs):
    sim = procs.sim()
    gw, path = keyed_gateway(procs, sim, "[tenants.a]\noperations_per_day = 1\n")
    assert submit(gw, "h-0", headers=A, duration="20s").status == 202
    quota_refused(submit(gw, "h-1", headers=A), "operations_per_day")
    path.write_text("[tenants.a]\noperations_per_day = 5\n")
    gw.p.send_signal(signal.SIGHUP)
    gw.wait_record("tenants file reloaded")
    assert submit(gw, "h-2", headers=A, duration="20s").status == 202
    # A broken file keeps the settings there are, and says why.
    path.write_text("[tenants.a]\noperations_per_dya = 1\n")
    gw.p.send_signal(signal.SIGHUP)
    bad = gw.wait_record("tenants file not reloaded; the old settings stay")
    assert "operations_per_dya" in bad["error"] and "tenants.toml:2:1" in bad["error"]
    assert submit(gw, "h-3", headers=A, duration="20s").status == 202


def test_a_bad_tenants_file_stops_start_up_with_exit_2(procs):
    sim = procs.sim()
    path = procs.tmp / "tenants.toml"
    path.write_text("[tenants.a]\npages_per_day = 0\n")
    gw = procs.gateway(sim, "--tenants-file", str(path), start=False)
    try:
        gw.start(timeout=5)
        raise AssertionError("started with a bad tenants file")
    except RuntimeError:
        pass
    assert gw.p.wait(timeout=5) == 2
    assert "tenants.toml:2:17" in gw.text() and "pages_per_day" in gw.text()
