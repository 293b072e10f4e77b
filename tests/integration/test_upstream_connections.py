"""Upstream connections: at most --max-upstream-connections open to the
upstream at once (calls beyond it wait for one, within their deadline), and
idle ones closed as soon as the upstream closes them (none left in CLOSE-WAIT).
The gateway's sockets are read from /proc: its fds, matched to /proc/net/tcp."""
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# /proc/net/tcp states
ESTABLISHED = "01"
CLOSE_WAIT = "08"


def upstream_sockets(pid, port, detail=False):
    """States of the process's TCP sockets whose remote port is `port` (with
    detail: (state, local address, inode) of each)."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    # /proc/net/tcp is not read atomically: while sockets come and go, one
    # may be listed twice (seen under load), so each inode counts once.
    states = []
    counted = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[9] in inodes and fields[9] not in counted:
                    counted.add(fields[9])
                    states.append((fields[3], fields[1], fields[9]) if detail else fields[3])
    return states


# Only submits reach the upstream (no poller), so the counts are the submits'.
NO_POLLS = ("--max-inflight-polls", "0")


def test_connections_to_the_upstream_never_exceed_the_cap(procs):
    sim = procs.sim("--latency", "300ms")
    gw = procs.gateway(sim, "--max-upstream-connections", "8", *NO_POLLS,
                       "--submit-timeout", "60s", "--upstream-timeout", "60s", "--lease", "90s")
    seen = []
    worst = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            now = upstream_sockets(gw.p.pid, sim.port, detail=True)
            seen.append(len(now))
            if len(now) > len(worst):
                worst[:] = now
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.time()
    try:
        # 300 at once: 38 rounds of 8 at 300 ms each, about 12 s, well within 60 s.
        with ThreadPoolExecutor(max_workers=300) as pool:
            statuses = list(pool.map(lambda i: gw.submit(url=f"https://d/{i}.pdf", timeout=90).status,
                                     range(300)))
    finally:
        done.set()
        sampler.join()
    elapsed = time.time() - t0
    assert statuses == [202] * 300, {s: statuses.count(s) for s in set(statuses)}
    assert max(seen) <= 8, f"{max(seen)} upstream sockets at once: {worst}"
    assert max(seen) >= 4, f"only {max(seen)} upstream sockets seen: the test did not load it"
    print(f"max upstream sockets seen: {max(seen)} over {len(seen)} samples, {elapsed:.1f}s")


def test_idle_connections_closed_by_the_upstream_do_not_linger(procs):
    sim = procs.sim("--latency", "200ms")
    gw = procs.gateway(sim, *NO_POLLS)
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda i: gw.submit(url=f"https://d/{i}.pdf").status, range(10)))
    assert statuses == [202] * 10
    idle = upstream_sockets(gw.p.pid, sim.port)
    assert idle.count(ESTABLISHED) >= 2, idle  # kept alive, idle
    sim.kill9()  # the kernel closes its ends: every idle connection gets a FIN
    deadline = time.time() + 2
    while time.time() < deadline:
        states = upstream_sockets(gw.p.pid, sim.port)
        if not states:
            break
        time.sleep(0.05)
    assert CLOSE_WAIT not in states, states
    assert states == [], states
