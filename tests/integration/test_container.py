"""The container image cannot be built here (no Docker engine), so these
check what can be checked without one: the Dockerfile builds with exactly the
packages scripts/install-deps.sh installs, its runtime stage provides every
library the binary links, and its HEALTHCHECK command really reads /healthz."""
import json
import os
import re
import subprocess

from conftest import ROOT

# The image holds the release build (the sanitizer build links its runtimes).
RELEASE_BIN = os.path.join(ROOT, "build", "lrogate")

BASE_IMAGE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}  # in debian:bookworm-slim


def dockerfile():
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        return f.read()


def apt_installs(text):
    """The package lists of the Dockerfile's `apt-get install` lines, per stage."""
    out = []
    for m in re.finditer(r"apt-get install -y --no-install-recommends(.*?)(?:&&|$)", text, re.S):
        words = m.group(1).replace("\\\n", " ").split()
        out.append({w for w in words if not w.startswith("-")})
    return out


def build_packages():
    with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
        text = f.read()
    body = re.search(r"BUILD_PACKAGES=\((.*?)\)", text, re.S).group(1)
    return set(body.split())


def test_the_build_stage_installs_what_install_deps_installs():
    build_stage, _ = apt_installs(dockerfile())
    assert build_stage == build_packages()


def test_the_runtime_stage_provides_every_library_the_binary_links():
    _, runtime = apt_installs(dockerfile())
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        subprocess.run(["readelf", "-d", RELEASE_BIN], capture_output=True, text=True).stdout)
    paths = {}
    for line in subprocess.run(["ldd", RELEASE_BIN], capture_output=True, text=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            paths[m.group(1)] = os.path.realpath(m.group(2))
    assert needed
    for lib in needed:
        path = paths[lib]
        # dpkg may record the path without the /usr prefix (merged /usr).
        candidates = [path, path[4:]] if path.startswith("/usr/") else [path, "/usr" + path]
        package = ""
        for c in candidates:
            owner = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True).stdout
            if owner:
                package = owner.split(":")[0]
                break
        assert package in runtime or package in BASE_IMAGE_PACKAGES, (lib, package)


def test_the_healthcheck_command_reads_healthz(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    cmd = json.loads(re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[[^\n]*\])", dockerfile()).group(1))
    assert cmd[:2] == ["bash", "-c"] and "/dev/tcp/127.0.0.1/8080" in cmd[2]
    live = cmd[2].replace("8080", str(gw.port))
    assert subprocess.run(["bash", "-c", live], timeout=10).returncode == 0
    # and it fails when nothing answers there
    dead = cmd[2].replace("8080", "1")
    assert subprocess.run(["bash", "-c", dead], timeout=10, stderr=subprocess.DEVNULL).returncode != 0


def test_docker_build_script_is_valid_bash_and_builds_this_dockerfile():
    path = os.path.join(ROOT, "docker-build.sh")
    assert subprocess.run(["bash", "-n", path]).returncode == 0
    with open(path) as f:
        assert 'docker build -t "$tag" .' in f.read()
