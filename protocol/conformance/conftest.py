"""Real `sitesync` processes for the suite: a hub initialised as the repository README shows
(CURVE keys, an allow-list, `sitesync serve` on a 127.0.0.1 port), its allow-list naming every
client the tests use, and a real SiteSync node to exchange records with.

The binary comes from $SITESYNC_BIN (run.sh sets it)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time

import pytest
import zmq

import ssp

BINARY = os.environ.get("SITESYNC_BIN", "")

# Every Python client of the shared hub: name -> (role, department) as the allow-list gives
# them. Each test works in departments of its own, so tests do not see each other's changes.
CLIENTS = {
    "hs-field": ("field", "d-handshake"),
    "push-field": ("field", "d-push"),
    "interop-office": ("office", "office"),
    "interop-reader": ("field", "d-interop"),
    "resume-writer": ("field", "d-resume"),
    "resume-reader": ("field", "d-resume"),
    "limit-writer": ("field", "d-limit"),
    "limit-reader": ("field", "d-limit"),
    "chain-field": ("field", "d-chain"),
    "chain-reader": ("field", "d-chain"),
    "unknown-start": ("field", "d-unknown-start"),
    "unknown-reader": ("field", "d-unknown-start"),
    "hole-writer": ("field", "d-holes"),
    "hole-reader": ("field", "d-holes"),
    "relay": ("office", "office"),
    "auditor": ("auditor", "office"),
    "errors": ("field", "d-errors"),
    "rate": ("field", "d-rate"),
    "revokee": ("field", "d-revoke"),
}
REAL_NODE = ("site-real", "field", "d-interop")


def run_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"sitesync {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """A hub data directory and its `sitesync serve` process."""

    def __init__(self, directory: pathlib.Path, clients: dict[str, tuple[str, str]], env: dict | None = None):
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory / "hub"
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.env = env or {}
        run_cli("init", "--data-dir", str(self.directory), "--node", "hub-1", "--department", "office",
                "--role", "hub", "--listen", self.endpoint)
        self.key = run_cli("keys", "show", "--data-dir", str(self.directory)).stdout.strip()
        assert len(self.key) == 80, f"`sitesync keys show` printed {self.key!r}, not an 80-character key"
        self.server_key = self.key[:40].encode()
        self.identities = {name: ssp.Identity(name) for name in clients}
        self.roles = dict(clients)
        self.write_allow_list()
        self.process = None
        self.log_path = directory / "hub.log"

    def write_allow_list(self) -> None:
        """The allow-list written by hand, as config/allow-list.example.toml describes it."""
        lines = []
        for name, (role, department) in self.roles.items():
            lines += ["[[node]]", f'name = "{name}"', f'department = "{department}"', f'role = "{role}"',
                      f'key = "{self.identities[name].public_key}"', 'status = "active"', ""]
        (self.directory / "allow-list.toml").write_text("\n".join(lines))

    def allow(self, node: str, role: str, department: str, key: str) -> None:
        run_cli("keys", "allow", "--data-dir", str(self.directory), "--node", node, "--department", department,
                "--role", role, "--key", key)

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([BINARY, "serve", "--data-dir", str(self.directory)],
                                        stdout=log, stderr=log, env={**os.environ, **self.env})
        self.wait_until_serving()

    def wait_until_serving(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"sitesync serve exited {self.process.returncode}:\n{self.log()}")
            if "listening on" in self.log():
                return
            time.sleep(0.05)
        raise AssertionError(f"sitesync serve did not say it was listening within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # Clients

    def connect(self, name: str) -> ssp.Connection:
        return ssp.Connection(self.endpoint, self.identities[name], self.server_key)

    def session(self, name: str, knowledge: dict[int, int] | None = None, claim: tuple[str, str] | None = None):
        role, department = claim or self.roles[name]
        return ssp.Session(self.connect(name), self.identities[name], role, department, knowledge)


def _require_binary() -> None:
    if not BINARY or not os.access(BINARY, os.X_OK):
        pytest.exit(f"set SITESYNC_BIN to the built sitesync binary (got {BINARY!r}); run.sh does", returncode=2)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    """The shared hub, with a real SiteSync node (`REAL_NODE`) initialised against it."""
    _require_binary()
    root = tmp_path_factory.mktemp("shared")
    # Many checks in a row open sessions as the same few nodes: the per-node Hello limits (§15)
    # are raised here, and checked at their defaults on a hub of their own (fresh_hub).
    h = Hub(root, CLIENTS, env={"SITESYNC_SYNC_HELLO_BURST": "10000", "SITESYNC_SYNC_HELLOS_PER_SECOND": "10000",
                                "SITESYNC_SYNC_SESSIONS_PER_NODE": "1000"})
    name, role, department = REAL_NODE
    h.real_node = root / name
    created = run_cli("init", "--data-dir", str(h.real_node), "--node", name, "--department", department,
                      "--hub", h.endpoint, "--hub-key", h.key)
    real_key = run_cli("keys", "show", "--data-dir", str(h.real_node)).stdout.strip()
    assert real_key in created.stdout, "init did not print the node's public key"
    h.start()
    # As the README: the hub allows the node's key while it serves (it takes it within a second).
    h.allow(name, role, department, real_key)
    yield h
    h.stop()


@pytest.fixture
def make_hub(tmp_path):
    """Starts hubs of their own, with the default limits unless `env` overrides them, for
    checks that disturb every session (a revocation) or need particular limits."""
    _require_binary()
    hubs = []

    def make(env: dict | None = None) -> Hub:
        clients = {name: CLIENTS[name] for name in ("revokee", "rate")} | {"bystander": ("field", "d-bystander")}
        h = Hub(tmp_path / f"hub-{len(hubs)}", clients, env=env)
        hubs.append(h)
        h.start()
        return h

    make.hubs = hubs  # for the failure report below
    yield make
    for h in hubs:
        h.stop()


@pytest.fixture
def fresh_hub(make_hub):
    return make_hub()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, show the tail of the hub's log beside the assertion."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        arguments = getattr(item, "funcargs", {})
        hubs = [("hub", arguments.get("hub"))] + \
            [(f"hub {i}", h) for i, h in enumerate(getattr(arguments.get("make_hub"), "hubs", []))]
        for name, h in hubs:
            if h is not None:
                report.sections.append((f"{name} log (tail)", h.log()[-3000:]))
