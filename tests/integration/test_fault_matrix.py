"""The upstream fault matrix, on submit and on poll: each fault ends in a
defined way (completes after retries, or fails with a clear code) and never
crashes or wedges the gateway. docs/reliability.md records the outcomes."""
import time

import pytest

from conftest import request

# fault at submit → (status the client gets, error code) or 202 when retries cure it
SUBMIT = [
    ("429", 202, None),                     # no Retry-After: backoff, then accepted
    ("429:1", 202, None),                   # Retry-After seconds
    ("429:date1", 202, None),               # Retry-After HTTP-date
    ("500", 202, None), ("502", 202, None), ("503", 202, None), ("504", 202, None),
    ("reset", 202, None),                   # connection cut mid-body: retried
    ("hang", 202, None),                    # no answer: the attempt times out, retried
    ("slow", 202, None),                    # trickle longer than the deadline: retried
    ("badjson", 502, "UpstreamProtocolError"),   # 200 without Operation-Location
    ("404", 404, "OperationNotFound"),      # passed on
]


@pytest.mark.parametrize("fault,status,code", SUBMIT)
def test_submit_fault(procs, fault, status, code):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-timeout", "2s", "--submit-timeout", "10s")
    r = gw.submit(url=f"https://d/{fault}.pdf?sim_duration=0s&sim_submit_faults={fault}")
    assert r.status == status, r.body
    if code:
        assert r.json()["error"]["code"] == code
    else:
        assert gw.wait_status(r.json()["operationId"]) == "Succeeded"
    assert request(gw.base, "GET", "/healthz").status == 200


def test_poll_connection_refused_is_retried_until_the_upstream_is_back(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-backoff", "1s")
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=60s").json()["operationId"]
    port = sim.port
    sim.stop()
    time.sleep(3)
    refused = [r for r in gw.records() if r.get("operation_id") == op_id and r.get("error_code") == "Upstream_connect"]
    assert refused, "no connect failures were logged"
    assert gw.operation(op_id).json()["status"] in ("NotStarted", "Running")  # not failed by it
    # The upstream comes back (having lost the operation, as a restarted simulator does).
    sim2 = procs.sim("--listen", f"127.0.0.1:{port}", name="sim2")
    assert sim2.port == port
    assert gw.wait_status(op_id) == "Failed"
    assert gw.operation(op_id).json()["error"]["code"] == "Expired"


def test_stored_operation_location_off_the_endpoint_is_never_called(procs):
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'ssrf.db'}"
    gw = procs.gateway(sim, store=store, name="gw-a")
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=60s").json()["operationId"]
    gw.kill9()
    polls = sim.op_stats(op_id)["polls"]
    # Restarted against another endpoint: the stored URL is now foreign.
    gw2 = procs.gateway(f"http://localhost:{sim.port}", store=store, name="gw-b")
    assert gw2.wait_status(op_id) == "Failed"
    assert gw2.operation(op_id).json()["error"]["code"] == "ForeignOperationLocation"
    assert sim.op_stats(op_id)["polls"] == polls
