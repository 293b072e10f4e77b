"""The simulator draws each operation's duration per analyzer (--analyzer-duration),
the same for the same document on every simulator with the same --seed."""
import subprocess
import time

from conftest import BIN, KEY, request

CU = "2025-05-01-preview"
DI = "2024-11-30"
AUTH = {"Ocp-Apim-Subscription-Key": KEY}
RULES = ("--analyzer-duration", "pro-demo=lognormal:120s:0.3",
         "--analyzer-duration", "prebuilt-layout=bimodal:30s:300s:0.1,*=fixed:7s",
         "--analyzers", "pro-demo,prebuilt-layout,prebuilt-read", "--seed", "5")


def doc(i, query=""):
    return f"https://docs.example/doc-{i}.pdf{query}"


def cu_submit(sim, analyzer, url=None, binary=None):
    path = f"/contentunderstanding/analyzers/{analyzer}:analyze?api-version={CU}"
    if binary is not None:
        r = request(sim.base, "POST", path, body=binary, headers={**AUTH, "Content-Type": "application/pdf"})
    else:
        r = request(sim.base, "POST", path, body={"url": url}, headers=AUTH)
    assert r.status == 202, r.body
    return r.json()["id"]


def di_submit(sim, model, url):
    r = request(sim.base, "POST", f"/documentintelligence/documentModels/{model}:analyze?api-version={DI}",
                body={"urlSource": url}, headers=AUTH)
    assert r.status == 202, r.body
    return r.header("apim-request-id")


def generic_submit(sim, analyzer, url):
    r = request(sim.base, "POST", f"/generic/jobs/{analyzer}", body={"source": url}, headers={"X-Api-Key": KEY})
    assert r.status == 202, r.body
    return r.json()["id"]


def duration_ms(sim, op_id):
    return sim.op_stats(op_id)["duration_ms"]


def test_the_same_document_takes_the_same_time_on_every_route_and_simulator(procs):
    a = procs.sim(*RULES, name="a")
    b = procs.sim(*RULES, name="b")
    seen = []
    for i in range(8):
        da = duration_ms(a, cu_submit(a, "pro-demo", doc(i)))
        assert da == duration_ms(b, cu_submit(b, "pro-demo", doc(i)))
        # The draw belongs to the document and analyzer, not to the API that carried it.
        assert da == duration_ms(a, di_submit(a, "pro-demo", doc(i)))
        assert da == duration_ms(b, generic_submit(b, "pro-demo", doc(i)))
        seen.append(da)
    assert len(set(seen)) == len(seen), seen  # each document its own
    assert all(40_000 < d < 360_000 for d in seen), seen  # within ±3.6σ of 120 s
    # Bimodal: each draw near one of its two medians.
    for i in range(8):
        d = duration_ms(a, di_submit(a, "prebuilt-layout", doc(i)))
        assert 20_000 < d < 45_000 or 200_000 < d < 450_000, d
        assert d == duration_ms(b, di_submit(b, "prebuilt-layout", doc(i)))
    # *: every analyzer not named.
    assert duration_ms(a, cu_submit(a, "prebuilt-read", doc(1))) == 7_000
    # An uploaded body: by its bytes, on both.
    body = b"%PDF-1.7 the same bytes"
    assert duration_ms(a, cu_submit(a, "pro-demo", binary=body)) == duration_ms(b, cu_submit(b, "pro-demo", binary=body))


def test_a_documents_directive_wins_and_other_seeds_draw_otherwise(procs):
    a = procs.sim(*RULES, name="a")
    other = procs.sim(*RULES[:-1], "6", name="other")
    plain = procs.sim(name="plain")  # no rule: --duration (2s in the fixture)
    assert duration_ms(a, cu_submit(a, "pro-demo", doc(1, "?sim_duration=1500ms"))) == 1_500
    assert duration_ms(a, generic_submit(a, "prebuilt-read", doc(1, "?sim_duration=0s"))) == 0
    assert duration_ms(plain, cu_submit(plain, "pro-demo", doc(1))) == 2_000
    differ = sum(duration_ms(a, cu_submit(a, "pro-demo", doc(i))) != duration_ms(other, cu_submit(other, "pro-demo", doc(i)))
                 for i in range(5))
    assert differ == 5


def test_an_operation_finishes_at_its_drawn_duration(procs):
    sim = procs.sim("--analyzer-duration", "pro-demo=lognormal:1500ms:0.2", name="short")
    op_id = cu_submit(sim, "pro-demo", doc(3))
    d = duration_ms(sim, op_id)
    assert d != 1_500 and 500 < d < 5_000
    poll = lambda: request(sim.base, "GET", f"/contentunderstanding/analyzerResults/{op_id}?api-version={CU}",  # noqa: E731
                           headers=AUTH).json()["status"]
    assert poll() in ("NotStarted", "Running")
    time.sleep(d / 1000 + 0.3)
    assert poll() == "Succeeded"
    offsets = sim.op_stats(op_id)["poll_offsets_ms"]
    assert offsets[0] < d <= offsets[-1]


def test_a_bad_rule_stops_the_start_with_its_reason():
    for rule in ("pro-demo=normal:1s:0.3", "pro-demo=lognormal:120s", "lognormal:120s:0.3",
                 "pro-demo=fixed:1s,pro-demo=fixed:2s"):
        out = subprocess.run([BIN, "simulate", "--listen", "127.0.0.1:0", "--key", "k",
                              "--analyzer-duration", rule], capture_output=True, timeout=10)
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert out.returncode == 2, (rule, text)
        assert "analyzer-duration" in text and "listening" not in text, (rule, text)
