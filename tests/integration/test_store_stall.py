"""Store calls run on store threads, never on a server I/O thread nor on
the upstream client's (docs/design.md, "Threads"): while the store is
stalled from outside, a gateway with a single I/O thread still answers
liveness, metrics, CORS preflights, status reads its read cache holds, and
calls that only need the upstream (a forwarded analyzer read) while the
poller's own writes wait; the requests that need the store finish once it
answers again. Every check is an ordering (answered
while the stalled request was still waiting), never a timing."""
import sqlite3
import subprocess
import threading
import time

from conftest import request

SPA = "http://127.0.0.1:5173"


class Waiting:
    """A request sent on its own thread; done tells whether it has answered."""

    def __init__(self, fn):
        self.result = None
        self.done = threading.Event()

        def run():
            try:
                self.result = fn()
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def probes_answer(gw, cached_op=None):
    """The requests that must not wait for the store; returns their statuses."""
    out = {
        "healthz": request(gw.base, "GET", "/healthz", timeout=10).status,
        "preflight": request(gw.base, "OPTIONS", "/operations", timeout=10,
                             headers={"Origin": SPA, "Access-Control-Request-Method": "POST"}).status,
        "metrics": request(gw.base, "GET", "/metrics", timeout=10).status,
        # Through the upstream client, whose thread the poller shares.
        "upstream": request(gw.base, "GET", "/pro-mode/content-analyzers/prebuilt-layout",
                            timeout=10).status,
    }
    if cached_op:
        out["cached status"] = gw.operation(cached_op).status
    return out


def test_a_stalled_sqlite_writer_stalls_no_event_loop(procs):
    sim = procs.sim()
    db = procs.tmp / "stall.db"
    gw = procs.gateway(sim, "--threads", "1", "--cors-origins", SPA, store=f"sqlite:{db}")
    op_id = gw.submit(url="https://docs.example/a.pdf?sim_duration=60s").json()["operationId"]
    assert gw.operation(op_id).status == 200  # now in the read cache
    gw.pace(op_id)
    # Another process takes SQLite's write lock (WAL: readers go on, writers wait).
    locker = sqlite3.connect(str(db), timeout=0, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        stalled = Waiting(lambda: gw.submit(url="https://docs.example/b.pdf",
                                            headers={"Idempotency-Key": "stalled-1"}))
        # Let it reach the store, and the poller's next write (polls every
        # 1 s) wait for it too; not a pass/fail timing.
        time.sleep(1.5)
        assert not stalled.done.is_set(), "the write lock did not stall the submit"
        statuses = probes_answer(gw, cached_op=op_id)
        answered_while_stalled = not stalled.done.is_set()
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert statuses == {"healthz": 200, "preflight": 204, "metrics": 200, "upstream": 200,
                        "cached status": 200}
    assert answered_while_stalled, "a probe waited for the stalled store"
    assert stalled.done.wait(15)
    assert stalled.result.status == 202, stalled.result.body


def test_a_locked_postgres_table_stalls_no_event_loop(procs, pg_url):
    sim = procs.sim()
    gw = procs.gateway(sim, "--threads", "1", "--cors-origins", SPA, store=pg_url)
    op_id = gw.submit(url="https://docs.example/a.pdf?sim_duration=60s").json()["operationId"]
    gw.pace(op_id)
    # A session holds the table's strongest lock: every read and write waits.
    locker = subprocess.Popen(
        ["psql", "-X", "-q", "-d", pg_url, "-v", "ON_ERROR_STOP=1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    locker.stdin.write("BEGIN; LOCK TABLE operations IN ACCESS EXCLUSIVE MODE; \\echo locked\n")
    locker.stdin.flush()
    assert locker.stdout.readline().strip() == "locked"
    try:
        stalled = Waiting(lambda: gw.operation(op_id, pace=False))
        time.sleep(1.5)  # the poller's next claim or write waits too
        assert not stalled.done.is_set(), "the table lock did not stall the status read"
        statuses = probes_answer(gw)
        answered_while_stalled = not stalled.done.is_set()
    finally:
        locker.stdin.write("COMMIT;\n\\q\n")
        locker.stdin.flush()
        locker.wait(timeout=15)
    assert statuses == {"healthz": 200, "preflight": 204, "metrics": 200, "upstream": 200}
    assert answered_while_stalled, "a probe waited for the stalled store"
    assert stalled.done.wait(15)
    assert stalled.result.status == 200, stalled.result.body
