"""The simulator throttles as one Azure resource does (--analyze-rps,
--status-rps, --ops-per-minute; src/sim/throttle.h): over a limit a call
answers 429 with Retry-After in its flavor's shape, and /_sim/stats counts
what it admitted and refused, by kind and per 1 s window. Several simulators
on several ports each keep their own quota. Every assertion is a count the
simulator measured, or a shape; none is a timing."""
import concurrent.futures
import subprocess
import time
import uuid

from conftest import BIN, KEY, request

AUTH = {"Ocp-Apim-Subscription-Key": KEY}
CU = "2025-05-01-preview"
DI = "2024-11-30"


def cu_analyze(sim, url=None):
    return request(sim.base, "POST", f"/contentunderstanding/analyzers/pro-demo:analyze?api-version={CU}",
                   body={"url": url or f"https://docs.example/{uuid.uuid4().hex}.pdf"}, headers=AUTH)


def cu_poll(sim, op_id):
    return request(sim.base, "GET", f"/contentunderstanding/analyzerResults/{op_id}?api-version={CU}",
                   headers=AUTH)


def until_throttled(call, most=500):
    """Calls until one is refused (as fast as one client can); the answers."""
    answers = []
    for _ in range(most):
        r = call()
        answers.append(r)
        if r.status == 429:
            return answers
    raise AssertionError(f"no 429 in {most} calls")


def burst(call, n, workers=8):
    """n calls at once from `workers` threads; their answers."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def check_window_stats(stats, kind, limit):
    """The simulator's own counts agree with themselves and with the limit."""
    assert stats[f"max_{kind}_1s"] <= limit
    per_second = stats["per_second"]
    assert sum(s[kind] for s in per_second) == stats[f"admitted_{kind}"]
    assert sum(s[f"throttled_{kind}"] for s in per_second) == stats[f"throttled_{kind}"]
    assert all(s[kind] <= limit for s in per_second)


def check_cu_429(r, limit, per="second"):
    assert r.status == 429
    assert r.header("Content-Type").startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == "429"
    ra = int(r.header("Retry-After"))
    assert err["message"].startswith("Requests to the ")
    assert f"simulated: {limit} calls a {per}" in err["message"]
    assert f"Please retry after {ra} second" in err["message"]
    return ra


def test_two_simulators_each_hold_their_own_quota(procs):
    a = procs.sim("--analyze-rps", "3", "--status-rps", "5", name="sim-a")
    b = procs.sim("--analyze-rps", "2", name="sim-b")
    assert a.port != b.port
    answers_a = burst(lambda: cu_analyze(a), 24)
    answers_b = burst(lambda: cu_analyze(b), 16)
    sa, sb = a.stats(), b.stats()
    for answers, stats, limit in ((answers_a, sa, 3), (answers_b, sb, 2)):
        accepted = [r for r in answers if r.status == 202]
        refused = [r for r in answers if r.status == 429]
        assert len(accepted) + len(refused) == len(answers)
        # Each simulator counted exactly its own calls.
        assert stats["admitted_analyze"] == len(accepted) == stats["submits"] == stats["operations"]
        assert stats["throttled_analyze"] == len(refused)
        assert stats["admitted_status"] == stats["throttled_status"] == 0
        check_window_stats(stats, "analyze", limit)
        # A per-second limit always frees within a second.
        assert all(check_cu_429(r, limit) == 1 for r in refused)
        assert stats["analyze_rps"] == limit
    assert sa["status_rps"] == 5 and sb["status_rps"] == 0


def test_retry_after_is_when_a_call_is_admitted_again(procs):
    sim = procs.sim("--status-rps", "2")
    op_id = cu_analyze(sim).json()["id"]  # analyze calls have no limit here
    answers = until_throttled(lambda: cu_poll(sim, op_id))
    ra = check_cu_429(answers[-1], 2)
    assert ra == 1
    # No other call meanwhile: after Retry-After the next one is admitted.
    time.sleep(ra)
    assert cu_poll(sim, op_id).status == 200
    stats = sim.stats()
    assert stats["throttled_status"] == 1
    assert stats["admitted_status"] == len(answers)  # those before the 429, and the last
    assert stats["polls"] == stats["admitted_status"]  # a refused poll never reached the operation
    check_window_stats(stats, "status", 2)
    # The operation's own record lists the refused poll and its Retry-After.
    op = sim.op_stats(op_id)
    assert [t["retry_after_s"] for t in op["throttled_polls"]] == [1]
    assert op["polls"] == len(answers)


def test_ops_per_minute_counts_both_kinds_and_waits_up_to_a_minute(procs):
    sim = procs.sim("--ops-per-minute", "4")
    op_id = cu_analyze(sim).json()["id"]
    for _ in range(3):
        assert cu_poll(sim, op_id).status == 200
    refused = cu_analyze(sim)
    ra = check_cu_429(refused, 4, per="minute")
    assert 1 <= ra <= 60
    assert cu_poll(sim, op_id).status == 429
    stats = sim.stats()
    assert stats["max_calls_60s"] == 4
    assert stats["admitted_analyze"] + stats["admitted_status"] == 4
    assert stats["throttled_analyze"] == 1 and stats["throttled_status"] == 1


def test_each_flavor_answers_429_in_its_own_shape(procs):
    sim = procs.sim("--ops-per-minute", "1", "--analyzers", "prebuilt-layout,pro-demo")
    di_path = f"/documentintelligence/documentModels/prebuilt-layout:analyze?api-version={DI}"
    di = request(sim.base, "POST", di_path, body={"urlSource": "https://docs.example/a.pdf"}, headers=AUTH)
    assert di.status == 202
    di = request(sim.base, "POST", di_path, body={"urlSource": "https://docs.example/b.pdf"}, headers=AUTH)
    ra = check_cu_429(di, 1, per="minute")
    assert "Document Intelligence" in di.json()["error"]["message"]
    assert di.header("apim-request-id")
    generic = request(sim.base, "POST", "/generic/jobs/pro-demo", body={"source": "https://docs.example/c.pdf"},
                      headers={"X-Api-Key": KEY})
    assert generic.status == 429
    err = generic.json()["error"]
    assert err["code"] == "TooManyRequests"
    assert 1 <= int(generic.header("Retry-After")) <= ra
    cu = cu_analyze(sim)
    check_cu_429(cu, 1, per="minute")
    assert "Content Understanding" in cu.json()["error"]["message"]


def test_the_key_is_checked_first_and_a_401_counts_against_nothing(procs):
    sim = procs.sim("--analyze-rps", "1")
    for _ in range(5):
        r = request(sim.base, "POST", f"/contentunderstanding/analyzers/pro-demo:analyze?api-version={CU}",
                    body={"url": "https://docs.example/a.pdf"}, headers={"Ocp-Apim-Subscription-Key": "wrong"})
        assert r.status == 401
    stats = sim.stats()
    assert stats["rejected"] == 5
    assert stats["admitted_analyze"] == stats["throttled_analyze"] == 0
    # Control routes and health never count.
    for path in ("/healthz", "/_sim/stats", "/_sim/throttle"):
        assert request(sim.base, "GET", path).status == 200
    assert sim.stats()["admitted_status"] == 0


def test_analyzer_routes_count_as_analyze_or_status_calls(procs):
    sim = procs.sim("--analyzer-create-duration", "0s")
    base = "/contentunderstanding/analyzers/thr_analyzer"

    def counts():
        s = sim.stats()
        return s["admitted_analyze"], s["admitted_status"]

    r = request(sim.base, "PUT", f"{base}?api-version={CU}", body={"description": "t"}, headers=AUTH)
    assert r.status == 201
    assert counts() == (1, 0)  # a creation starts work: analyze-type
    assert request(sim.base, "GET", f"{base}?api-version={CU}", headers=AUTH).status == 200
    op_path = r.header("Operation-Location").split(sim.base, 1)[1]
    assert request(sim.base, "GET", op_path, headers=AUTH).status == 200
    assert counts() == (1, 2)  # reads: status-type
    assert request(sim.base, "DELETE", f"{base}?api-version={CU}", headers=AUTH).status == 204
    assert counts() == (2, 2)
    # And they are held to those quotas.
    assert request(sim.base, "PUT", "/_sim/throttle", body={"status_rps": 1}).status == 200
    answers = until_throttled(lambda: request(sim.base, "GET", op_path, headers=AUTH))
    check_cu_429(answers[-1], 1)


def test_limits_change_while_running_and_bad_settings_are_refused(procs):
    sim = procs.sim()
    assert request(sim.base, "GET", "/_sim/throttle").json() == {
        "analyze_rps": 0, "status_rps": 0, "ops_per_minute": 0}
    burst(lambda: cu_analyze(sim), 10)
    assert sim.stats()["throttled_analyze"] == 0  # no limit by default
    r = request(sim.base, "PUT", "/_sim/throttle", body={"analyze_rps": 1, "reset": True})
    assert r.status == 200
    assert r.json() == {"analyze_rps": 1, "status_rps": 0, "ops_per_minute": 0}
    stats = sim.stats()
    assert stats["admitted_analyze"] == 0 and stats["max_analyze_1s"] == 0 and stats["per_second"] == []
    until_throttled(lambda: cu_analyze(sim))
    # Lifted again: everything passes.
    assert request(sim.base, "PUT", "/_sim/throttle", body={"analyze_rps": 0}).status == 200
    assert all(r.status == 202 for r in burst(lambda: cu_analyze(sim), 6))
    for body, named in (({"analyze_rps": -1}, "analyze_rps"), ({"status_rps": 100001}, "status_rps"),
                        ({"ops_per_minute": 1.5}, "ops_per_minute"), ({"ops_per_minute": "5"}, "ops_per_minute"),
                        ({"analyse_rps": 1}, "analyse_rps"), ({"reset": 1}, "reset"), ([1], "JSON object")):
        r = request(sim.base, "PUT", "/_sim/throttle", body=body)
        assert r.status == 400, body
        assert r.json()["error"]["code"] == "InvalidRequest"
        assert named in r.json()["error"]["message"], body
    assert request(sim.base, "GET", "/_sim/throttle").json()["analyze_rps"] == 0


def test_bad_quota_flags_are_refused_by_name():
    for flag, value in (("--analyze-rps", "-1"), ("--status-rps", "2.5"), ("--ops-per-minute", "1000001")):
        p = subprocess.run([BIN, "simulate", "--listen", "127.0.0.1:0", "--key", "k", flag, value],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (flag, value)
        assert flag in p.stderr


def sim_final_body(sim, op_id):
    """The simulator's own final answer, honouring its Retry-After (this call
    is a status call too)."""
    for _ in range(30):
        r = sim.final_body(op_id)
        if r.status != 429:
            return r
        time.sleep(int(r.header("Retry-After")))
    raise AssertionError("the simulator kept refusing")


def check_honoured(refused, next_offsets):
    """Every refused call's next call came no sooner than its Retry-After."""
    for call in refused:
        later = [t for t in next_offsets if t > call["offset_ms"]]
        assert later, call
        assert min(later) - call["offset_ms"] >= call["retry_after_s"] * 1000, (call, later)


def test_a_gateway_honours_retry_after_and_finishes_every_operation(procs):
    """Submits and polls through a gateway against a throttled resource: the
    gateway retries refused submits and polls no sooner than Retry-After, and
    every operation ends with the simulator's exact result. Beside it another
    simulator on its own port, which nobody calls, counts nothing."""
    sim = procs.sim("--analyze-rps", "2", "--status-rps", "3", name="sim-throttled")
    idle = procs.sim("--analyze-rps", "2", "--status-rps", "3", name="sim-idle")
    gw = procs.gateway(sim)
    urls = [f"https://docs.example/{uuid.uuid4().hex}.pdf?sim_duration=2s" for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda u: gw.submit(url=u), urls))
    assert [r.status for r in answers] == [202] * 8, [(r.status, r.body[:200]) for r in answers]
    ids = [r.json()["operationId"] for r in answers]
    for op_id in ids:
        final = gw.wait_final(op_id, timeout=90)
        assert final.status == 200, final.body[:300]
        assert final.body == sim_final_body(sim, op_id).body
    stats = sim.stats()
    assert stats["operations"] == 8
    check_window_stats(stats, "analyze", 2)
    check_window_stats(stats, "status", 3)
    # Eight submits at once over a limit of two a second: some were refused.
    assert stats["throttled_analyze"] > 0
    for op_id in ids:
        op = sim.op_stats(op_id)
        # Offsets from the operation's creation: its admitted submit is at 0.
        attempts = [c["offset_ms"] for c in op["throttled_submits"]] + [0]
        check_honoured(op["throttled_submits"], attempts)
        polls = op["poll_offsets_ms"] + [c["offset_ms"] for c in op["throttled_polls"]]
        check_honoured(op["throttled_polls"], polls)
        assert op["overlaps"] == 0
    quiet = idle.stats()
    assert quiet["admitted_analyze"] == quiet["admitted_status"] == 0
    assert quiet["throttled_analyze"] == quiet["throttled_status"] == 0


def test_a_retry_after_beyond_the_submit_budget_is_a_503_without_another_attempt(procs):
    """A per-minute quota spent: the resource's Retry-After (up to a minute)
    is longer than --submit-timeout, so the gateway answers 503 at once with
    a Retry-After of its own and does not call the resource again."""
    sim = procs.sim("--ops-per-minute", "1")
    gw = procs.gateway(sim, "--submit-timeout", "20s")
    assert gw.submit(url="https://docs.example/first.pdf").status == 202
    r = gw.submit(url="https://docs.example/second.pdf")
    assert r.status == 503, r.body
    assert r.json()["error"]["code"] == "UpstreamThrottled"
    assert 1 <= int(r.header("Retry-After")) <= 60
    stats = sim.stats()
    assert stats["admitted_analyze"] == 1
    assert stats["throttled_analyze"] == 1  # the second submit, tried once
