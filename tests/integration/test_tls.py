"""TLS to the upstream is verified: chain, host name, SNI. The test makes its
own CA and server certificate with the openssl CLI."""
import ssl
import subprocess

from conftest import KEY, request


def make_pki(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=lrogate test CA")
    run("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    # A second, unrelated CA: the "wrong CA".
    run("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=other CA")
    return d


def https_sim(procs):
    pki = make_pki(procs.tmp)
    sim = procs.sim("--tls-cert", str(pki / "srv.pem"), "--tls-key", str(pki / "srv.key"))
    sim.ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    sim.ctx.check_hostname = False  # the test's own stats calls go to 127.0.0.1
    return pki, sim


def test_whole_flow_over_https_with_a_generated_certificate(procs):
    pki, sim = https_sim(procs)
    gw = procs.gateway(f"https://localhost:{sim.port}", "--upstream-ca-file", str(pki / "ca.pem"))
    r = gw.submit()
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    final = gw.results(op_id)
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    direct = request(f"localhost:{sim.port}", "GET",
                     f"/contentunderstanding/analyzerResults/{op_id}?api-version=2025-05-01-preview",
                     headers={"Ocp-Apim-Subscription-Key": KEY}, https_context=ctx)
    assert final.status == 200 and final.body == direct.body


def test_an_untrusted_ca_fails_with_a_clear_error(procs):
    pki, sim = https_sim(procs)
    gw = procs.gateway(f"https://localhost:{sim.port}", "--upstream-ca-file", str(pki / "other.pem"),
                       "--submit-timeout", "2s")
    r = gw.submit()
    assert r.status == 502
    err = r.json()["error"]
    assert err["code"] == "UpstreamTlsError"
    assert "certificate" in err["message"] and "issuer" in err["message"], err
    assert sim.stats()["submits"] == 0


def test_a_wrong_host_name_fails_with_a_clear_error(procs):
    pki, sim = https_sim(procs)
    # The certificate names localhost only; 127.0.0.1 must not be accepted.
    gw = procs.gateway(f"https://127.0.0.1:{sim.port}", "--upstream-ca-file", str(pki / "ca.pem"),
                       "--submit-timeout", "2s")
    r = gw.submit()
    assert r.status == 502
    err = r.json()["error"]
    assert err["code"] == "UpstreamTlsError"
    assert "mismatch" in err["message"], err


def test_a_missing_ca_file_is_a_start_up_error(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-ca-file", str(procs.tmp / "missing.pem"), start=False)
    try:
        gw.start(timeout=5)
        raise AssertionError("started with a missing CA file")
    except RuntimeError as e:
        assert "upstream-ca-file" in str(e)
