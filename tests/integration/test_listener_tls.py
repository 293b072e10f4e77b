"""The listener serves HTTPS with --tls-cert/--tls-key and takes a new
certificate on SIGHUP without dropping open connections. The tests make their
own CA and two server certificates with the openssl CLI (as test_tls.py)."""
import http.client
import shutil
import signal
import socket
import ssl
import subprocess


def make_pki(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=lrogate listener test CA")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth\n")
    for n in (1, 2):
        run("req", *ec, "-keyout", f"srv{n}.key", "-out", f"srv{n}.csr",
            "-subj", f"/CN=lrogate listener {n}")
        run("x509", "-req", "-in", f"srv{n}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(1000 + n), "-out", f"srv{n}.pem", "-days", "2",
            "-extfile", "ext.cnf")
    return d


def der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def client_context(pki):
    return ssl.create_default_context(cafile=str(pki / "ca.pem"))  # host name checked: 127.0.0.1


def https_conn(gw, ctx):
    return http.client.HTTPSConnection("127.0.0.1", gw.port, timeout=10, context=ctx)


def get_healthz(conn):
    """GET /healthz on conn (kept open); the status and the peer's certificate (DER)."""
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    return r.status, conn.sock.getpeercert(binary_form=True)


def tls_gateway(procs):
    pki = make_pki(procs.tmp)
    # Served from copies, so the test can replace them.
    shutil.copy(pki / "srv1.pem", pki / "live.pem")
    shutil.copy(pki / "srv1.key", pki / "live.key")
    sim = procs.sim()
    gw = procs.gateway(sim, "--tls-cert", str(pki / "live.pem"), "--tls-key", str(pki / "live.key"))
    return pki, gw


def test_https_listener_serves_its_certificate_and_refuses_plain_http(procs):
    pki, gw = tls_gateway(procs)
    assert gw.wait_record("listening")["tls"] is True
    conn = https_conn(gw, client_context(pki))
    try:
        status, cert = get_healthz(conn)
        assert status == 200
        assert cert == der(pki / "srv1.pem")
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()
    # Plain HTTP on the TLS port gets no HTTP answer.
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            got = s.recv(4096)
        except (socket.timeout, ConnectionError):
            got = b""
        assert not got.startswith(b"HTTP/"), got


def test_sighup_reloads_the_certificate_without_dropping_connections(procs):
    pki, gw = tls_gateway(procs)
    ctx = client_context(pki)
    old = https_conn(gw, ctx)
    try:
        assert get_healthz(old) == (200, der(pki / "srv1.pem"))
        shutil.copy(pki / "srv2.pem", pki / "live.pem")
        shutil.copy(pki / "srv2.key", pki / "live.key")
        gw.p.send_signal(signal.SIGHUP)
        gw.wait_record("listener tls reloaded")
        # The connection accepted before the reload goes on, on its certificate.
        assert get_healthz(old) == (200, der(pki / "srv1.pem"))
        new = https_conn(gw, ctx)
        try:
            assert get_healthz(new) == (200, der(pki / "srv2.pem"))
        finally:
            new.close()

        # A broken file is refused; the current certificate stays.
        (pki / "live.pem").write_text("not a certificate\n")
        gw.p.send_signal(signal.SIGHUP)
        rec = gw.wait_record("listener tls not reloaded; the old certificate stays")
        assert "live.pem" in rec["error"], rec
        newer = https_conn(gw, ctx)
        try:
            assert get_healthz(newer) == (200, der(pki / "srv2.pem"))
        finally:
            newer.close()
        assert get_healthz(old)[0] == 200
    finally:
        old.close()
    assert gw.p.poll() is None
    assert "PRIVATE KEY" not in gw.text()


def start_fails(gw):
    try:
        gw.start(timeout=10)
    except RuntimeError as e:
        return str(e)
    raise AssertionError("the gateway started")


def test_a_key_not_matching_the_certificate_exits_2(procs):
    pki = make_pki(procs.tmp)
    sim = procs.sim()
    gw = procs.gateway(sim, "--tls-cert", str(pki / "srv1.pem"), "--tls-key", str(pki / "srv2.key"),
                       start=False)
    text = start_fails(gw)
    assert "exited 2" in text, text
    assert "srv2.key" in text, text
    assert "PRIVATE KEY" not in gw.text()
    key_body = (pki / "srv2.key").read_text().splitlines()[1]
    assert key_body not in gw.text()


def test_an_unreadable_certificate_exits_2_naming_the_file(procs):
    pki = make_pki(procs.tmp)
    sim = procs.sim()
    gw = procs.gateway(sim, "--tls-cert", str(pki / "missing.pem"), "--tls-key", str(pki / "srv1.key"),
                       start=False)
    text = start_fails(gw)
    assert "exited 2" in text and "missing.pem" in text, text


def test_one_tls_flag_alone_exits_2(procs):
    pki = make_pki(procs.tmp)
    sim = procs.sim()
    gw = procs.gateway(sim, "--tls-cert", str(pki / "srv1.pem"), start=False)
    text = start_fails(gw)
    assert "exited 2" in text and "--tls-key" in text, text
    gw = procs.gateway(sim, name="gw2", env={"LROGATE_TLS_KEY": str(pki / "srv1.key")}, start=False)
    text = start_fails(gw)
    assert "exited 2" in text and "--tls-cert" in text, text
