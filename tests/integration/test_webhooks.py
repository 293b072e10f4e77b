"""Completion webhooks (issue 18, item 1): a submit names a callback; the
final transition writes its event to the store's outbox in the same
transaction; the dispatcher POSTs it signed as Standard Webhooks says, with a
webhook-id that every retry keeps. The receivers here are the test's own HTTP
servers on 127.0.0.1; they check every signature with Python's hmac (an
implementation independent of the gateway's) and dedupe by webhook-id."""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SECRETS, request
from test_pool import metric, metrics, wait_for

KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
SECRET_A = "whsec_" + base64.b64encode(KEY_A).decode()
SECRET_B = "whsec_" + base64.b64encode(KEY_B).decode()
SECRETS.extend([SECRET_A, SECRET_B])


class Receiver:
    """An HTTP server that records every POST and answers what `answers`
    says, one by one (the last one repeats): a status, ("hang", event) to hold
    the request until the event is set, or ("redirect", url)."""

    def __init__(self, answers=(200,), keys=(KEY_A,)):
        self.answers = list(answers)
        self.keys = list(keys)
        self.requests = []  # (headers, body, signature_ok)
        self.lock = threading.Lock()
        self.holding = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.requests.append((headers, body, receiver.verify(headers, body)))
                    n = len(receiver.requests)
                    answer = receiver.answers[min(n, len(receiver.answers)) - 1]
                if isinstance(answer, tuple) and answer[0] == "hang":
                    with receiver.lock:
                        receiver.holding += 1
                    answer[1].wait(30)
                    with receiver.lock:
                        receiver.holding -= 1
                    answer = 200
                if isinstance(answer, tuple) and answer[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", answer[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def verify(self, headers, body):
        """Standard Webhooks: any v1 signature over id.timestamp.body made
        with one of our keys, and a timestamp within five minutes."""
        msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return False
        signed = f"{msg_id}.{ts}.".encode() + body
        sent = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split(" ") if s.startswith("v1,")]
        for key in self.keys:
            want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            if any(hmac.compare_digest(want, s) for s in sent):
                return True
        return False

    def ids(self):
        with self.lock:
            return [h["webhook-id"] for h, _, _ in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*args, **kw):
        r = Receiver(*args, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def webhook_gateway(procs, sim, *extra, secrets=None, hosts="127.0.0.1", **kw):
    path = procs.tmp / "webhook-secrets.txt"
    path.write_text(secrets if secrets is not None else f"default:{SECRET_A}\n")
    return procs.gateway(sim, "--webhook-allowed-hosts", hosts,
                         "--webhook-allowed-networks", "127.0.0.1/32",
                         "--webhook-secrets-file", str(path),
                         "--webhook-retry-schedule", "300ms,300ms,300ms,300ms", *extra, **kw)


def native_submit(gw, callback, url="https://docs.example/w.pdf?sim_duration=1s", headers=None):
    body = {"analyzerId": "pro-demo", "documentUrl": url}
    if callback is not None:
        body["callbackUrl"] = callback
    return request(gw.base, "POST", "/operations", body=body, headers=headers)


def status_of(gw, delivery_id, headers=None):
    """The delivery's status, or None before its operation has finished."""
    r = request(gw.base, "GET", f"/webhooks/deliveries/{delivery_id}", headers=headers)
    return r.json()["status"] if r.status == 200 else None


def delivery(gw, delivery_id, headers=None):
    r = request(gw.base, "GET", f"/webhooks/deliveries/{delivery_id}", headers=headers)
    assert r.status == 200, (r.status, r.body)
    return r.json()


def test_a_completion_is_posted_once_signed_with_a_stable_id(procs, receivers):
    """Both of a tenant's secrets sign (rotation): a receiver holding either
    one accepts the event. The body is the operation's status monitor, as
    GET /operations/{id} answers it."""
    sim = procs.sim()
    old_only, new_only = receivers(keys=(KEY_A,)), receivers(keys=(KEY_B,))
    gw = webhook_gateway(procs, sim, secrets=f"default:{SECRET_A}\ndefault:{SECRET_B}\n")
    ops = []
    for rec in (old_only, new_only):
        r = native_submit(gw, rec.url)
        assert r.status == 202, r.body
        ops.append((r.json()["id"], rec))
    # The compatible route names its callback in a header.
    r = gw.submit(url="https://docs.example/c.pdf?sim_duration=1s",
                  headers={"Lrogate-Callback-Url": old_only.url})
    assert r.status == 202, r.body
    ops.append((r.json()["operationId"], old_only))
    for op_id, rec in ops:
        wait_for(lambda: f"msg_{op_id}" in rec.ids(), what=f"the event of {op_id}")
    for op_id, rec in ops:
        got = [(h, b, ok) for h, b, ok in rec.requests if h["webhook-id"] == f"msg_{op_id}"]
        assert len(got) == 1
        headers, body, ok = got[0]
        assert ok, "the signature did not verify"
        assert headers["content-type"] == "application/json"
        event = json.loads(body)
        monitor = request(gw.base, "GET", f"/operations/{op_id}").json()
        assert event["id"] == op_id and event["status"] == "Succeeded"
        assert event["result"] == monitor["result"]
        d = delivery(gw, f"msg_{op_id}")
        assert d["status"] == "delivered" and d["attempts"] == 1 and d["lastResponseStatus"] == 200
        assert d["operationId"] == op_id and d["url"] == rec.url
    assert metric(metrics(gw), "lrogate_webhook_attempts_total", outcome="delivered") == 3
    assert metric(metrics(gw), "lrogate_webhook_delivery_seconds_count") == 3


def test_a_failing_receiver_is_retried_with_the_same_id_and_bytes(procs, receivers):
    sim = procs.sim()
    rec = receivers(answers=(500, 500, 503, 200))
    gw = webhook_gateway(procs, sim)
    op_id = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: status_of(gw, f"msg_{op_id}") == "delivered", what="the delivery")
    assert rec.ids() == [f"msg_{op_id}"] * 4
    assert len({b for _, b, _ in rec.requests}) == 1  # every attempt sends the same event
    assert all(ok for _, _, ok in rec.requests)
    d = delivery(gw, f"msg_{op_id}")
    assert d["attempts"] == 4 and d["lastResponseStatus"] == 200
    assert metric(metrics(gw), "lrogate_webhook_attempts_total", outcome="retry") == 3


def test_a_receiver_that_never_succeeds_ends_failed_and_can_be_redelivered(procs, receivers):
    sim = procs.sim()
    rec = receivers(answers=(500,) * 5 + (204,))
    gw = webhook_gateway(procs, sim)
    op_id = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: status_of(gw, f"msg_{op_id}") == "failed", what="the dead letter")
    d = delivery(gw, f"msg_{op_id}")
    assert d["attempts"] == 5 and "gave up after 5 attempts" in d["lastError"]
    failed = request(gw.base, "GET", "/webhooks/deliveries?status=failed").json()["value"]
    assert [x["id"] for x in failed] == [f"msg_{op_id}"]
    assert request(gw.base, "GET", "/webhooks/deliveries?status=delivered").json()["value"] == []
    r = request(gw.base, "POST", f"/webhooks/deliveries/msg_{op_id}:redeliver")
    assert r.status == 202 and r.json()["status"] == "pending"
    wait_for(lambda: status_of(gw, f"msg_{op_id}") == "delivered", what="the redelivery")
    assert rec.ids() == [f"msg_{op_id}"] * 6
    r = request(gw.base, "POST", f"/webhooks/deliveries/msg_{op_id}:redeliver")
    assert r.status == 409 and r.json()["error"]["code"] == "DeliveryNotFailed"


def test_gone_disables_the_receiver_until_a_redelivery(procs, receivers):
    sim = procs.sim()
    rec = receivers(answers=(410, 200))
    gw = webhook_gateway(procs, sim)
    first = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: status_of(gw, f"msg_{first}") == "failed", what="the 410")
    assert "410" in delivery(gw, f"msg_{first}")["lastError"]
    second = native_submit(gw, rec.url).json()["id"]
    assert gw.wait_status(second) == "Succeeded"
    # Written failed with its completion: the disabled receiver is not called.
    wait_for(lambda: status_of(gw, f"msg_{second}"), what="the second event")
    d = delivery(gw, f"msg_{second}")
    assert d["status"] == "failed" and d["attempts"] == 0 and "disabled" in d["lastError"]
    assert rec.ids() == [f"msg_{first}"]
    assert request(gw.base, "POST", f"/webhooks/deliveries/msg_{first}:redeliver").status == 202
    wait_for(lambda: status_of(gw, f"msg_{first}") == "delivered", what="the redelivery")
    assert rec.ids() == [f"msg_{first}"] * 2


def test_a_hanging_receiver_delays_neither_polls_nor_other_receivers(procs, receivers):
    sim = procs.sim()
    release = threading.Event()
    hanging, healthy = receivers(answers=(("hang", release),)), receivers()
    gw = webhook_gateway(procs, sim, "--webhook-timeout", "20s", "--lease", "60s")
    try:
        stuck = native_submit(gw, hanging.url).json()["id"]
        wait_for(lambda: hanging.holding == 1, what="the hanging receiver to hold the attempt")
        later = [native_submit(gw, healthy.url).json()["id"] for _ in range(3)]
        plain = native_submit(gw, None).json()["id"]
        for op_id in later:
            wait_for(lambda: f"msg_{op_id}" in healthy.ids(), what="the healthy receiver's events")
        assert gw.wait_status(plain) == "Succeeded"
        # All of that while the first attempt was still held.
        assert hanging.holding == 1 and hanging.ids() == [f"msg_{stuck}"]
        assert delivery(gw, f"msg_{stuck}")["status"] == "pending"
    finally:
        release.set()
    wait_for(lambda: status_of(gw, f"msg_{stuck}") == "delivered", what="the held one")


def test_a_hanging_host_holds_only_its_own_places_whatever_its_urls(procs, receivers):
    """Places are counted per receiver origin (scheme, host, port), as the
    client counts connections: callbacks to one hanging host that differ
    only in their query take its two places, not the gateway's four."""
    sim = procs.sim()
    release = threading.Event()
    hanging, healthy = receivers(answers=(("hang", release),)), receivers()
    gw = webhook_gateway(procs, sim, "--webhook-timeout", "20s", "--lease", "60s",
                         "--webhook-max-in-flight", "4",
                         "--webhook-max-in-flight-per-receiver", "2")
    try:
        stuck = [native_submit(gw, f"{hanging.url}?op={i}").json()["id"] for i in range(4)]
        wait_for(lambda: hanging.holding == 2, what="the hanging host's two places")
        ok = native_submit(gw, healthy.url).json()["id"]
        wait_for(lambda: f"msg_{ok}" in healthy.ids(), what="the healthy receiver's event")
        assert hanging.holding == 2 and len(hanging.ids()) == 2
        assert sorted(status_of(gw, f"msg_{i}") for i in stuck) == ["pending"] * 4
    finally:
        release.set()
    for i in stuck:
        wait_for(lambda: status_of(gw, f"msg_{i}") == "delivered", what="the held ones")


def test_callbacks_the_policy_refuses_are_400_and_nothing_is_submitted(procs, receivers):
    sim = procs.sim()
    keys = procs.tmp / "keys.txt"
    key_a, key_b = "tenant-a-" + os.urandom(8).hex(), "tenant-b-" + os.urandom(8).hex()
    SECRETS.extend([key_a, key_b])
    keys.write_text(f"a:{key_a}\nb:{key_b}\n")
    # Listed, yet refused: link-local (cloud metadata) and a loopback address
    # outside the allowed network.
    gw = webhook_gateway(procs, sim, "--api-keys-file", str(keys), secrets=f"a:{SECRET_A}\n",
                         hosts="127.0.0.1,169.254.169.254,127.0.0.2")
    a = {"x-api-key": key_a}
    rec = receivers()
    refused = {
        "http://169.254.169.254/latest/meta-data/": "InvalidCallbackUrl",
        "http://127.0.0.2:9/hook": "InvalidCallbackUrl",
        "https://hooks.example.com/hook": "InvalidCallbackUrl",  # not listed
        "ftp://127.0.0.1/hook": "InvalidCallbackUrl",
        "http://user:pw@127.0.0.1/hook": "InvalidCallbackUrl",
        "127.0.0.1/hook": "InvalidCallbackUrl",
        "http://127.0.0.1/" + "a" * 2100: "InvalidCallbackUrl",
    }
    before = sim.stats()["submits"]
    for url, code in refused.items():
        r = native_submit(gw, url, headers=a)
        assert r.status == 400 and r.json()["error"]["code"] == code, (url, r.body)
    r = native_submit(gw, 42, headers=a)
    assert r.status == 400
    # Body and header must agree.
    r = native_submit(gw, rec.url, headers={**a, "Lrogate-Callback-Url": rec.url + "x"})
    assert r.status == 400 and "different" in r.json()["error"]["message"]
    # A tenant without a secret cannot name a callback: its events could not be signed.
    r = native_submit(gw, rec.url, headers={"x-api-key": key_b})
    assert r.status == 400 and r.json()["error"]["code"] == "WebhookSecretMissing"
    assert sim.stats()["submits"] == before  # none went upstream
    # Without --webhook-allowed-hosts no submit may name a callback.
    plain = procs.gateway(sim, name="plain")
    r = native_submit(plain, rec.url)
    assert r.status == 400 and "no --webhook-allowed-hosts" in r.json()["error"]["message"]


def test_a_listed_name_that_resolves_to_loopback_is_not_called(procs, receivers):
    """The address is checked after DNS: "localhost" may be listed, but
    without an allowed network its loopback address is refused, and the
    delivery fails at once without a request."""
    sim = procs.sim()
    rec = receivers()
    path = procs.tmp / "webhook-secrets.txt"
    path.write_text(f"default:{SECRET_A}\n")
    gw = procs.gateway(sim, "--webhook-allowed-hosts", "localhost",
                       "--webhook-secrets-file", str(path))
    port = rec.url.rsplit(":", 1)[1]
    op_id = native_submit(gw, f"http://localhost:{port}").json()["id"]
    wait_for(lambda: status_of(gw, f"msg_{op_id}") == "failed", what="the refusal")
    d = delivery(gw, f"msg_{op_id}")
    assert "private" in d["lastError"] and d["attempts"] == 1
    assert rec.ids() == []


def test_a_redirect_is_not_followed(procs, receivers):
    sim = procs.sim()
    target = receivers()
    rec = receivers(answers=(("redirect", target.url),))
    gw = webhook_gateway(procs, sim, "--webhook-retry-schedule", "200ms")
    op_id = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: status_of(gw, f"msg_{op_id}") == "failed", what="the redirects")
    d = delivery(gw, f"msg_{op_id}")
    assert d["lastResponseStatus"] == 302 and d["attempts"] == 2
    assert target.ids() == []


def test_kill9_mid_delivery_sends_it_again_with_the_same_id(procs, receivers):
    """The first attempt is held by the receiver when the gateway dies; the
    restarted one claims the delivery when its lease ends and sends the same
    event, which the receiver dedupes by webhook-id."""
    sim = procs.sim()
    release = threading.Event()
    rec = receivers(answers=(("hang", release), 200))
    db = f"sqlite:{procs.tmp / 'hooks.db'}"
    args = ("--lease", "8s", "--upstream-timeout", "1s", "--webhook-timeout", "3s")
    gw = webhook_gateway(procs, sim, *args, store=db)
    op_id = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: rec.holding == 1, what="the held attempt")
    gw.kill9()
    release.set()
    gw2 = webhook_gateway(procs, sim, *args, store=db, name="gw2")
    wait_for(lambda: status_of(gw2, f"msg_{op_id}") == "delivered", timeout=30,
             what="the redelivery")
    assert rec.ids() == [f"msg_{op_id}"] * 2
    first, second = rec.requests
    assert first[1] == second[1] and first[2] and second[2]
    # The first attempt was never recorded: the restarted gateway's is the
    # only one (not the first gateway retrying before it died).
    assert delivery(gw2, f"msg_{op_id}")["attempts"] == 1


def test_cloudevents_structured_mode(procs, receivers):
    sim = procs.sim()
    rec = receivers()
    gw = webhook_gateway(procs, sim, "--webhook-format", "cloudevents")
    op_id = native_submit(gw, rec.url).json()["id"]
    wait_for(lambda: rec.ids(), what="the event")
    headers, body, ok = rec.requests[0]
    assert ok and headers["content-type"] == "application/cloudevents+json"
    e = json.loads(body)
    assert e["specversion"] == "1.0" and e["id"] == headers["webhook-id"] == f"msg_{op_id}"
    assert e["type"] == "lrogate.operation.succeeded" and e["subject"] == op_id
    assert e["data"]["status"] == "Succeeded" and e["data"]["id"] == op_id


def test_deliveries_are_the_callers_own(procs, receivers):
    sim = procs.sim()
    keys = procs.tmp / "keys.txt"
    key_a, key_b = "tenant-a-" + os.urandom(8).hex(), "tenant-b-" + os.urandom(8).hex()
    SECRETS.extend([key_a, key_b])
    keys.write_text(f"a:{key_a}\nb:{key_b}\n")
    rec = receivers()
    gw = webhook_gateway(procs, sim, "--api-keys-file", str(keys),
                         secrets=f"a:{SECRET_A}\nb:{SECRET_B}\n")
    a, b = {"x-api-key": key_a}, {"x-api-key": key_b}
    op_id = native_submit(gw, rec.url, headers=a).json()["id"]
    wait_for(lambda: rec.ids(), what="the event")
    assert delivery(gw, f"msg_{op_id}", headers=a)["status"] in ("pending", "delivered")
    assert request(gw.base, "GET", f"/webhooks/deliveries/msg_{op_id}", headers=b).status == 404
    assert request(gw.base, "POST", f"/webhooks/deliveries/msg_{op_id}:redeliver", headers=b).status == 404
    assert request(gw.base, "GET", "/webhooks/deliveries", headers=b).json()["value"] == []
    assert request(gw.base, "GET", "/webhooks/deliveries", headers=a).json()["value"][0]["id"] == f"msg_{op_id}"
    for bad in ("?status=lost", "?top=0", "?top=1001", "?skipToken=x", "?nope=1"):
        assert request(gw.base, "GET", "/webhooks/deliveries" + bad, headers=a).status == 400, bad
    assert request(gw.base, "GET", "/webhooks/deliveries/not-a-delivery", headers=a).status == 400
    assert request(gw.base, "GET", "/webhooks/deliveries", headers=None).status == 401


def test_two_replicas_deliver_each_event_once(procs, receivers, pg_url):
    sim = procs.sim()
    rec = receivers()
    gws = [webhook_gateway(procs, sim, store=pg_url, name=f"gw{i}") for i in range(2)]
    ids = [native_submit(gws[i % 2], rec.url).json()["id"] for i in range(20)]
    wait_for(lambda: len(set(rec.ids())) == 20, timeout=40, what="every event")
    time.sleep(1)  # a duplicate would come within an idle recheck
    assert sorted(rec.ids()) == sorted(f"msg_{i}" for i in ids)
    assert all(ok for _, _, ok in rec.requests)


def test_a_tenants_endpoints_in_settings_get_every_final_transition(procs, receivers):
    """The tenants file names endpoints per tenant: each gets every final
    transition of that tenant's operations, signed with its secrets, beside
    a submit's own callback; another tenant's operations go nowhere."""
    sim = procs.sim()
    endpoint, callback = receivers(), receivers()
    keys = procs.tmp / "keys.txt"
    key_a, key_b = "wh-a-" + os.urandom(8).hex(), "wh-b-" + os.urandom(8).hex()
    SECRETS.extend([key_a, key_b])
    keys.write_text(f"a:{key_a}\nb:{key_b}\n")
    tenants = procs.tmp / "tenants.toml"
    tenants.write_text(f'[tenants.a]\nwebhooks = ["{endpoint.url}"]\n')
    gw = webhook_gateway(procs, sim, "--api-keys-file", str(keys), "--tenants-file", str(tenants),
                         secrets=f"a:{SECRET_A}\nb:{SECRET_B}\n")
    A, B = {"x-api-key": key_a}, {"x-api-key": key_b}
    plain = native_submit(gw, None, headers=A).json()["id"]
    named = native_submit(gw, callback.url, headers=A).json()["id"]
    other = native_submit(gw, None, headers=B).json()["id"]
    wait_for(lambda: len(endpoint.ids()) == 2 and len(callback.ids()) == 1, what="the events")
    suffix = "~" + hashlib.sha256(endpoint.url.encode()).hexdigest()[:12]
    assert sorted(endpoint.ids()) == sorted([f"msg_{plain}{suffix}", f"msg_{named}{suffix}"])
    assert callback.ids() == [f"msg_{named}"]
    assert all(ok for _, _, ok in endpoint.requests + callback.requests)
    assert json.loads(endpoint.requests[0][1])["status"] == "Succeeded"
    # b's operation finished too, and wrote no event for anyone.
    wait_for(lambda: request(gw.base, "GET", f"/operations/{other}", headers=B).json()["status"]
             == "Succeeded", what="b's operation")
    assert request(gw.base, "GET", "/webhooks/deliveries", headers=B).json()["value"] == []
    d = delivery(gw, f"msg_{plain}{suffix}", headers=A)
    assert d["status"] == "delivered" and d["url"] == endpoint.url and d["operationId"] == plain
    assert status_of(gw, f"msg_{plain}{suffix}", headers=B) is None  # another tenant's
    assert len(request(gw.base, "GET", "/webhooks/deliveries", headers=A).json()["value"]) == 3


@pytest.mark.parametrize("toml,why", [
    ('[tenants.a]\nwebhooks = ["http://127.0.0.1:9/x"]\n', "no webhook secret"),
    ('[tenants.default]\nwebhooks = ["https://elsewhere.example/x"]\n', "endpoint 1"),
    ('[defaults]\nwebhooks = ["http://127.0.0.1:9/x"]\n', "[defaults]"),
])
def test_tenant_endpoints_that_cannot_be_called_stop_the_start(procs, toml, why):
    sim = procs.sim()
    tenants = procs.tmp / "tenants.toml"
    tenants.write_text(toml)
    gw = webhook_gateway(procs, sim, "--tenants-file", str(tenants), start=False)
    with pytest.raises(RuntimeError):
        gw.start(timeout=5)
    assert gw.p.wait(timeout=5) == 2
    assert why in gw.text()
    assert "elsewhere.example/x" not in gw.text()  # the URL itself is never logged
