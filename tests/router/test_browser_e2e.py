"""A real browser: headless Chromium logs in on the example page the cfxstore router serves itself.

Needs Debian's chromium (/usr/bin/chromium; .ci/run installs it) and npm (autobahn-browser for the
page and playwright-core for the driver come from the npm registry at test time).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cfxstore.cookies.service import CookieService
from cfxstore.database import open_database
from router_harness import RouterProcess, edit_config, free_port, run_cli, running, wait_for, websocket_handshake

CHROMIUM = "/usr/bin/chromium"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "browser"
DRIVER = Path(__file__).with_name("browser_driver.js")
PLAYWRIGHT = "playwright-core@1.65.1"
MAX_AGE = 3600

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason="chromium is not installed here (`apt-get install -y chromium`; .ci/run installs it)"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed here"),
]


def _npm(*args: str, cwd: Path) -> None:
    result = subprocess.run(["npm", *args, "--no-audit", "--no-fund"], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stderr[-2000:]}"


def _self_signed(cbdir: Path) -> dict:
    """A TLS endpoint item with a certificate for 127.0.0.1 made here (the browser is told to accept it)."""
    result = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                             "-keyout", str(cbdir / "server.key"), "-out", str(cbdir / "server.crt"),
                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {"key": "server.key", "certificate": "server.crt"}


@pytest.fixture(scope="module", params=["http", "https"])
def node(request, tmp_path_factory):
    """A node whose web transport serves the example page at / and WAMP at /ws (over TLS for https)."""
    tls = request.param == "https"
    if tls and shutil.which("openssl") is None:
        pytest.skip("openssl is not installed here (it makes the test certificate)")
    web = tmp_path_factory.mktemp("web")
    shutil.copytree(EXAMPLE, web, dirs_exist_ok=True, ignore=shutil.ignore_patterns("node_modules"))
    _npm("install", cwd=web)  # autobahn-browser, as a user of the example does
    cbdir = tmp_path_factory.mktemp("node")
    port = free_port()
    assert run_cli("router", "init", "--cbdir", str(cbdir), "--port", str(port)).returncode == 0
    endpoint_tls = _self_signed(cbdir) if tls else None

    def configure(config: dict) -> None:
        worker = config["workers"][0]
        plain = worker["transports"][0]
        cookie = {**plain["cookie"], "max_age": MAX_AGE, "same_site": "Strict", "http_strict": True,
                  # No cookie cache: a revocation counts at the next connection.
                  "store": {**plain["cookie"]["store"], "cache_ttl": 0}}
        endpoint = dict(plain["endpoint"])
        if tls:
            cookie["secure"] = True
            endpoint["tls"] = endpoint_tls
        worker["transports"] = [{
            "type": "web", "endpoint": endpoint,
            "paths": {"/": {"type": "static", "directory": str(web)},
                      "ws": {"type": "websocket", "cookie": cookie, "auth": plain["auth"]}},
        }]

    edit_config(cbdir, configure)
    router = RouterProcess(cbdir, [port])
    router.port, router.scheme = port, request.param
    with running(router):
        yield router


@pytest.fixture(scope="module")
def driver_modules(tmp_path_factory):
    tools = tmp_path_factory.mktemp("tools")
    _npm("install", PLAYWRIGHT, cwd=tools)
    return tools / "node_modules"


class Browser:
    """The driver process; steps() yields its JSON lines, each within a deadline."""

    def __init__(self, url: str, authid: str, ticket: str, profile: Path, modules: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(["node", str(DRIVER), url, authid, ticket, str(profile), *extra],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "NODE_PATH": str(modules)})
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def step(self, name: str, timeout: float = 90) -> dict:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"the browser driver exited before {name!r}: {self.proc.stderr.read()[-3000:]}"
        data = json.loads(line)
        assert data["step"] == name, data
        return data

    def go_on(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def test_ticket_login_then_cookie_alone_then_logout_and_revocation(node, driver_modules, tmp_path):
    ticket = node.admin_ticket()
    url = f"{node.scheme}://127.0.0.1:{node.port}/"
    browser = Browser(url, "admin", ticket, tmp_path / "profile", driver_modules)
    try:
        first = browser.step("first-visit")
        assert first["state"] == "denied"  # no cookie yet

        login = browser.step("ticket-login")
        assert login["state"] == "joined", login
        assert json.loads(login["detail"]) == {"authid": "admin", "authrole": "admin", "authmethod": "ticket"}
        (cookie,) = [c for c in login["cookies"] if c["name"] == "cbtid"]
        # The attributes as the browser took them from the router's Set-Cookie.
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert cookie["secure"] is (node.scheme == "https")  # "secure": true is configured with TLS only
        assert abs(cookie["expires"] - (time.time() + MAX_AGE)) < 120
        assert "cbtid" not in login["documentCookie"]  # HttpOnly: the page cannot read it

        reload = browser.step("reload")
        assert reload["state"] == "joined", reload
        assert json.loads(reload["detail"])["authmethod"] == "cookie"
        assert json.loads(reload["detail"])["authid"] == "admin"

        after_logout = browser.step("after-logout")
        assert after_logout["state"] == "denied", after_logout

        again = browser.step("login-again")
        assert again["state"] == "joined" and json.loads(again["detail"])["authmethod"] == "ticket"
        browser.step("wait")
        revoked = run_cli("router", "revoke", "--cbdir", str(node.cbdir), "admin")
        assert revoked.returncode == 0 and "deleted 1 cookie(s)" in revoked.stdout, revoked.stdout + revoked.stderr
        browser.go_on()
        assert browser.step("after-revoke")["state"] == "denied"
    finally:
        browser.close()


def test_a_planted_cookie_never_becomes_the_browsers_login(node, driver_modules, tmp_path):
    ticket = node.admin_ticket()
    url = f"{node.scheme}://127.0.0.1:{node.port}/"
    # The attacker's own handshake gets a cookie value and keeps its connection open meanwhile.
    with websocket_handshake(node.port, path="ws", tls=node.scheme == "https") as attackers:
        planted = attackers.partition("=")[2]
        browser = Browser(url, "admin", ticket, tmp_path / "profile", driver_modules, planted)
        try:
            visit = browser.step("planted-visit")
            assert visit["state"] == "denied"  # the planted value logs nobody in ...
            (replaced,) = [c["value"] for c in visit["cookies"] if c["name"] == "cbtid"]
            assert replaced != planted         # ... and the router replaced it at once
            login = browser.step("ticket-login")
            assert login["state"] == "joined", login
            (bound,) = [c["value"] for c in login["cookies"] if c["name"] == "cbtid"]
            assert bound != planted
        finally:
            browser.close()
    db = open_database(str(node.cbdir / "cfxstore-db"))
    try:
        cookies = CookieService(db)
        wait_for(lambda: cookies.lookup(bound) is not None, 10, "the browser's login to be committed")
        assert cookies.lookup(bound).authid == "admin"
        assert cookies.lookup(planted) is None
    finally:
        db.close()
