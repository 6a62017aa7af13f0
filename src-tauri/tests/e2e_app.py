#!/usr/bin/python3
"""End-to-end tests of the real desktop app (src-tauri) under Xvfb.

Run by src-tauri/tests/run_e2e.sh inside `dbus-run-session`, which gives a private session bus.
Parts, all real: the debug app binary (target/debug/airlock-app) driven through tauri-driver and
WebKitWebDriver (W3C WebDriver, spoken here with urllib only), a test notification server on the
private bus (fake_notifyd.py, records Notify/CloseNotification and clicks buttons on request), the
real `airlock call` binary as the agent, and a temporary config and data dir per app run.

Prints one line per test and a closing line `N passed, N failed`; exits 1 when any test failed.
Artifacts (screenshots, logs) go to test-artifacts/desktop/; with UPDATE_SCREENSHOTS=1 the
README's pictures in docs/screenshots/ are refreshed too (never by default: a test run leaves the
tree clean).
`--bench` measures start-up, idle memory and call-to-notification latency instead.
"""
import base64
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# AIRLOCK_PROFILE=release measures (or tests) the release build instead.
PROFILE = os.environ.get("AIRLOCK_PROFILE", "debug")
APP = os.path.join(ROOT, "target", PROFILE, "airlock-app")
CLI = os.path.join(ROOT, "target", PROFILE, "airlock")
HERE = os.path.dirname(os.path.abspath(__file__))
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "desktop")
SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
ELEM = "element-6066-11e4-a52e-4f735466cecf"
# Upper bounds for waiting on something to happen; a test fails when they pass. Not speed checks.
WAIT = 30.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout=WAIT, every=0.05):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = check()
        except Exception as e:  # noqa: BLE001 - keep polling; report the last error
            value, last = None, e
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))


class Notifyd:
    """The test notification server and its log."""

    def __init__(self, workdir):
        self.log_path = os.path.join(workdir, "notify.jsonl")
        self.out = open(os.path.join(workdir, "fake_notifyd.log"), "w")
        env = dict(os.environ, NOTIFY_LOG=self.log_path)
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fake_notifyd.py")],
                                     stdout=self.out, stderr=subprocess.STDOUT, env=env)
        wait_for("the notification server", lambda: any(r["event"] == "ready" for r in self.records()))

    def records(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def notifies(self):
        return [r for r in self.records() if r["event"] == "Notify"]

    def closes(self):
        return [r for r in self.records() if r["event"] == "CloseNotification"]

    def notify_for(self, approval_id):
        """The last Notify that carries buttons for this request."""
        found = [r for r in self.notifies() if f"approve:{approval_id}" in r["actions"]]
        return found[-1] if found else None

    def click(self, nid, key):
        subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.Notifications",
                        "--object-path", "/org/freedesktop/Notifications",
                        "--method", "com.example.FakeNotifyd.InvokeAction", str(nid), key],
                       check=True, capture_output=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.out.close()


class App:
    """One run of the app through tauri-driver, with its own config and data dir."""

    def __init__(self, workdir, name, env_extra=None, port=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.config = os.path.join(self.dir, "config", "config.json")
        self.data = os.path.join(self.dir, "data")
        self.env = dict(os.environ, AIRLOCK_CONFIG=self.config, AIRLOCK_DATA_DIR=self.data,
                        AIRLOCK_LISTEN=f"127.0.0.1:{self.port}", LANG="en_US.UTF-8",
                        AIRLOCK_LOG="info,airlock_app=debug")
        self.env.update(env_extra or {})
        self.driver_port = free_port()
        self.driver_log = open(os.path.join(self.dir, "tauri-driver.log"), "w")
        self.driver = subprocess.Popen(["tauri-driver", "--port", str(self.driver_port)],
                                       stdout=self.driver_log, stderr=subprocess.STDOUT, env=self.env)
        self.base = f"http://127.0.0.1:{self.driver_port}"
        wait_for("tauri-driver", lambda: self._status_ok())
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {"application": APP}}}}
        self.sid = wait_for("a WebDriver session", lambda: self.wd("POST", "/session", caps)["sessionId"])

    def _status_ok(self):
        with urllib.request.urlopen(self.base + "/status", timeout=2) as r:
            return r.status == 200

    def wd(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        # tauri-driver sometimes drops a connection to WebKitWebDriver ("Remote end closed
        # connection"); the commands used here are safe to send again.
        for attempt in range(3):
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return json.loads(resp.read() or b"{}").get("value")
            except urllib.error.HTTPError as e:
                raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:300]!r}") from None
            except (ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError):
                if attempt == 2 or path == "/session":
                    raise
                time.sleep(0.2)

    def s(self, path, body=None, method=None):
        return self.wd(method or ("POST" if body is not None else "GET"), f"/session/{self.sid}{path}", body)

    def js(self, script, *args):
        return self.s("/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.s("/execute/async", {"script": script, "args": list(args)})

    def invoke(self, command, args=None):
        """A Tauri command, as the window calls it."""
        res = self.js_async("var done = arguments[arguments.length - 1];"
                            "window.__TAURI__.core.invoke(arguments[0], arguments[1])"
                            ".then(function (v) { done({ok: v}); }, function (e) { done({err: String(e)}); });",
                            command, args or {})
        if "err" in res:
            raise AssertionError(f"command {command} failed: {res['err']}")
        return res["ok"]

    def find(self, css, timeout=WAIT):
        def one():
            v = self.s("/element", {"using": "css selector", "value": css})
            return v.get(ELEM) if isinstance(v, dict) else None
        try:
            return wait_for(f"element {css}", one, timeout)
        except AssertionError:
            raise AssertionError(f"no element {css} in the window; it shows: {self.text()[:300]!r}") from None

    def click(self, css):
        self.s(f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        self.s(f"/element/{self.find(css)}/value", {"text": text})

    def text(self):
        return self.js("return document.body ? document.body.innerText : ''") or ""

    def route(self, name):
        self.js("window.location.hash = arguments[0];", f"#/{name}")

    def screenshot(self, name):
        png = base64.b64decode(self.s("/screenshot"))
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        with open(path, "wb") as f:
            f.write(png)
        return path

    def token(self):
        with open(os.path.join(self.data, "api-token")) as f:
            return f.read().strip()

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.token()}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def pending(self):
        return self.api("GET", "/approvals")

    def call(self, tool, *pairs):
        """Starts `airlock call pusher <tool> <pairs>` as the agent; returns the process."""
        out = tempfile.TemporaryFile(mode="w+")
        proc = subprocess.Popen([CLI, "call", "pusher", tool, *pairs], stdout=out, stderr=subprocess.STDOUT,
                                env=self.env)
        proc.out = out
        return proc

    def close(self):
        # Quit through the tray's own entry first: with a tray, closing the window only hides it.
        if app_pids():
            try:
                self.invoke("tray_action", {"action": "quit"})
            except Exception:  # noqa: BLE001 - a problem window has no tray; it quits on close
                pass
        try:
            self.wd("DELETE", f"/session/{self.sid}")
        except Exception:  # noqa: BLE001 - the app may be gone already
            pass
        # One instance per session bus: the next run must not find this one still alive.
        for sig in (0, 15, 9):
            if sig:
                for pid in app_pids():
                    os.kill(pid, sig)
            try:
                wait_for("the app to exit", lambda: not app_pids(), timeout=10)
                break
            except AssertionError:
                print(f"warning: the app did not exit; sending signal {sig or 15}", file=sys.stderr)
        self.driver.terminate()
        try:
            self.driver.wait(10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
        self.driver_log.close()


def app_pids():
    """Pids of running app binaries started from this checkout."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == APP:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def finish(proc, timeout=WAIT):
    proc.wait(timeout)
    proc.out.seek(0)
    return proc.returncode, proc.out.read()


def new_pending(app, before, tool):
    """The id of the request that appeared for `tool` since `before` (a set of ids)."""
    def look():
        for a in app.pending():
            if a["id"] not in before and a["tool"] == tool:
                return a
        return None
    return wait_for(f"a pending request for {tool}", look)


def ids(app):
    return {a["id"] for a in app.pending()}


def approval_source(app, approval_id):
    db = sqlite3.connect(f"file:{os.path.join(app.data, 'airlock.db')}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT status, source FROM approvals WHERE id = ?", (approval_id,)).fetchone()
        return row
    finally:
        db.close()


# ---------------------------------------------------------------------------------------------
# Tests. Each takes the running app (and the notification server) and raises on failure.

def test_first_run_writes_the_default_config(app, nd):
    assert os.path.exists(app.config), "no config written on first run"
    policy = os.path.join(os.path.dirname(app.config), "pusher-channels.json")
    assert os.path.exists(policy), "no policy written next to the config"
    with open(app.config) as f:
        config = json.load(f)
    assert config["mcpServers"]["pusher"] == {"builtin": "demo-pusher", "policy": "pusher-channels.json"}, config
    status = app.api("GET", "/status")
    assert status["servers"][0]["name"] == "pusher", status


def test_window_shows_the_approvals_view(app, nd):
    app.find("[data-testid=approvals], .empty, main.view")
    info = app.invoke("api_info")
    assert info["baseUrl"] == f"http://127.0.0.1:{app.port}", info
    assert info["token"] == app.token()


def test_notification_approve_reaches_the_agent(app, nd):
    before = ids(app)
    agent = app.call("terminate_user_connections", "userId=u-notify")
    req = new_pending(app, before, "terminate_user_connections")
    note = wait_for("a Notify with Approve/Deny for the request", lambda: nd.notify_for(req["id"]))
    assert note["summary"].endswith("wants terminate_user_connections"), note
    assert "pusher" in note["body"] and "userId=u-notify" in note["body"], note
    assert note["actions"][f"approve:{req['id']}"] == "Approve", note
    assert note["actions"][f"deny:{req['id']}"] == "Deny", note
    assert note["actions"][f"allow10:{req['id']}"] == "Allow 10 min", note
    nd.click(note["id"], f"approve:{req['id']}")
    code, out = finish(agent)
    assert code == 0, out
    assert 'All connections terminated for user "u-notify"' in out, out
    row = wait_for("the decision in history", lambda: approval_source(app, req["id"]) if
                   approval_source(app, req["id"]) and approval_source(app, req["id"])[0] != "pending" else None)
    assert row == ("approved", "notification"), row


def test_history_shows_approved_by_a_human_via_notification(app, nd):
    app.route("history")
    app.find("[data-testid=history]")
    app.click("[data-testid=history] tbody tr td:nth-child(3)")
    detail = app.find("[data-testid=call-detail]")
    text = wait_for("the call detail", lambda: (lambda t: t if "Decided by" in t else None)(
        app.s(f"/element/{detail}/text")))
    assert "approved by a human (notification)" in text.lower(), text


def test_approve_from_the_window(app, nd):
    app.route("approvals")
    before = ids(app)
    agent = app.call("terminate_user_connections", "userId=u-window")
    req = new_pending(app, before, "terminate_user_connections")
    note = wait_for("its notification", lambda: nd.notify_for(req["id"]))
    app.click(f"[data-approval-id='{req['id']}'] button.approve")
    code, out = finish(agent)
    assert code == 0, out
    assert 'All connections terminated for user "u-window"' in out, out
    assert approval_source(app, req["id"]) == ("approved", "window"), approval_source(app, req["id"])
    # Decided in the window: its notification is closed.
    wait_for("CloseNotification of the decided request", lambda: any(c["id"] == note["id"] for c in nd.closes()
                                                                      if c["t"] >= note["t"]))


def test_deny_with_a_note_from_the_window(app, nd):
    app.route("approvals")
    before = ids(app)
    agent = app.call("terminate_user_connections", "userId=u-deny")
    req = new_pending(app, before, "terminate_user_connections")
    card = f"[data-approval-id='{req['id']}']"
    app.type(f"{card} input[aria-label='Note for the agent']", "use the staging app instead")
    app.click(f"{card} button.deny")
    code, out = finish(agent)
    assert code != 0, out
    assert "use the staging app instead" in out, out
    assert approval_source(app, req["id"]) == ("denied", "window"), approval_source(app, req["id"])


def test_two_pending_requests_coalesce_into_one_notification(app, nd):
    app.route("approvals")
    start = len(nd.records())
    before = ids(app)
    first = app.call("terminate_user_connections", "userId=u-burst-1")
    a = new_pending(app, before, "terminate_user_connections")
    second = app.call("terminate_user_connections", "userId=u-burst-2")
    b = new_pending(app, before | {a["id"]}, "terminate_user_connections")

    def coalesced():
        fresh = [r for r in nd.records()[start:] if r["event"] == "Notify"]
        return next((r for r in fresh if r["summary"].startswith("2 requests wait")), None)
    merged = wait_for("a coalesced notification with a count", coalesced)
    fresh = [r for r in nd.records()[start:] if r["event"] == "Notify"]
    assert len({r["id"] for r in fresh}) == 1, f"more than one notification for the burst: {fresh}"
    assert merged["replaces_id"] == merged["id"], merged
    assert not any(k.startswith("approve:") for k in merged["actions"]), merged
    assert "u-burst" not in merged["body"] and "terminate_user_connections" in merged["body"], merged
    tray = app.invoke("tray_state")
    assert tray["pending"] == 2 and tray["countLabel"] == "2 pending requests", tray
    assert "2 pending requests" in tray["tooltip"], tray
    for req, proc in ((a, first), (b, second)):
        app.click(f"[data-approval-id='{req['id']}'] button.approve")
        code, out = finish(proc)
        assert code == 0, out
    wait_for("the notification closed once nothing is pending",
             lambda: any(c["id"] == merged["id"] for c in nd.closes() if c["t"] >= merged["t"]))


def test_pause_from_the_tray_denies_calls_and_resume_allows_them(app, nd):
    state = app.invoke("tray_action", {"action": "pause-toggle"})
    assert state["paused"] and state["pauseChecked"], state
    assert "paused" in state["tooltip"], state
    notifies = len(nd.notifies())
    code, out = finish(app.call("terminate_user_connections", "userId=u-paused"))
    assert code != 0 and "paused" in out, out
    code, out = finish(app.call("list_channels"))
    assert code != 0 and "paused" in out, out
    assert len(nd.notifies()) == notifies, "a notification for a call the gate decided by itself"
    state = app.invoke("tray_action", {"action": "pause-toggle"})
    assert not state["paused"] and not state["pauseChecked"], state
    code, out = finish(app.call("list_channels"))
    assert code == 0, out


def test_tray_follows_a_pause_made_through_the_api(app, nd):
    app.api("POST", "/pause", {"paused": True})
    state = wait_for("the tray to show the pause", lambda: (lambda s: s if s["pauseChecked"] else None)(
        app.invoke("tray_state")))
    assert state["paused"], state
    app.api("POST", "/pause", {"paused": False})
    wait_for("the tray to show the resume", lambda: not app.invoke("tray_state")["pauseChecked"])


def test_policy_decided_calls_get_no_notification(app, nd):
    notifies = len(nd.notifies())
    code, out = finish(app.call("list_channels"))
    assert code == 0, out
    code, out = finish(app.call("trigger_event", "channel=private-admin-x", "event=e", "data=d"))
    assert code != 0, out
    assert len(nd.notifies()) == notifies, nd.notifies()[notifies:]


def test_screenshots_of_each_window(app, nd):
    before = ids(app)
    agent = app.call("terminate_user_connections", "userId=u-42")
    req = new_pending(app, before, "terminate_user_connections")
    app.route("approvals")
    app.find(f"[data-approval-id='{req['id']}']")
    time.sleep(0.5)  # let fonts and the countdown settle for the picture (not a check)
    shots = {"approvals": app.screenshot("desktop-approvals.png")}
    app.click(f"[data-approval-id='{req['id']}'] button.approve")
    finish(agent)
    for route, marker in (("history", "[data-testid=history]"), ("policies", "main.view"), ("servers", "main.view")):
        app.route(route)
        app.find(marker)
        time.sleep(0.5)
        shots[route] = app.screenshot(f"desktop-{route}.png")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        os.makedirs(SCREENSHOTS, exist_ok=True)
        for route in ("approvals", "history"):
            shutil.copyfile(shots[route], os.path.join(SCREENSHOTS, f"desktop-{route}.png"))
    for path in shots.values():
        assert os.path.getsize(path) > 10_000, f"{path} looks empty"


def test_second_launch_hands_over_to_the_first(app, nd):
    second = subprocess.run([APP], env=app.env, capture_output=True, text=True, timeout=WAIT)
    assert second.returncode == 0, second.stderr[-500:]
    code, out = finish(app.call("list_channels"))
    assert code == 0, out
    app.js("return 1")  # the first window still answers


def test_closing_the_window_keeps_the_gate_running(app, nd):
    visible = "var done = arguments[0]; window.__TAURI__.window.getCurrentWindow().isVisible().then(done, function (e) { done(String(e)); });"
    app.js("window.__TAURI__.window.getCurrentWindow().close(); return 1;")
    wait_for("the window to hide", lambda: app.js_async(visible) is False)
    code, out = finish(app.call("list_channels"))
    assert code == 0, f"gate gone after closing the window: {out}"
    state = app.invoke("tray_action", {"action": "open"})
    assert state["pending"] == 0, state
    wait_for("the tray's Open Approvals to show the window again", lambda: app.js_async(visible) is True)


def test_clicking_the_notification_body_opens_the_window_on_that_request(app, nd):
    visible = "var done = arguments[0]; window.__TAURI__.window.getCurrentWindow().isVisible().then(done, function (e) { done(String(e)); });"
    app.route("history")
    app.js("window.__TAURI__.window.getCurrentWindow().close(); return 1;")
    wait_for("the window to hide", lambda: app.js_async(visible) is False)
    before = ids(app)
    agent = app.call("terminate_user_connections", "userId=u-body")
    req = new_pending(app, before, "terminate_user_connections")
    note = wait_for("its notification", lambda: nd.notify_for(req["id"]))
    nd.click(note["id"], "default")
    wait_for("the window to show again", lambda: app.js_async(visible) is True)
    card = f"[data-approval-id='{req['id']}']"
    wait_for("the Approvals view with that request focused",
             lambda: app.js("var el = document.querySelector(arguments[0]);"
                            "return location.hash.indexOf('#/approvals') === 0 && !!el && el.getAttribute('aria-current') === 'true';",
                            card))
    app.click(f"{card} button.approve")
    code, out = finish(agent)
    assert code == 0, out


def test_quit_from_the_tray_stops_the_gate(app, nd):
    runtime = os.path.join(app.data, "runtime.json")
    assert os.path.exists(runtime), "no runtime.json while the gate runs"
    try:
        app.invoke("tray_action", {"action": "quit"})
    except Exception:  # noqa: BLE001 - the app may exit before it answers
        pass
    wait_for("the app to exit", lambda: not app_pids())
    assert not os.path.exists(runtime), "runtime.json left behind after Quit"


# Problem windows: each needs its own app run (one instance per session bus).

def test_reminder_before_expiry_then_closed_when_it_expires(workdir, nd):
    d = os.path.join(workdir, "short-timeout")
    os.makedirs(os.path.join(d, "config"), exist_ok=True)
    # The shipped policy, with a 12 s approval timeout for the tool (it sets 10 minutes).
    with open(os.path.join(ROOT, "policies", "pusher-channels.json")) as f:
        policy = json.load(f)
    policy["tools"]["terminate_user_connections"]["approval_timeout"] = "12s"
    with open(os.path.join(d, "config", "short.json"), "w") as f:
        json.dump(policy, f)
    with open(os.path.join(d, "config", "config.json"), "w") as f:
        json.dump({"mcpServers": {"pusher": {"builtin": "demo-pusher", "policy": "short.json"}}}, f)
    app = App(workdir, "short-timeout")
    try:
        before = ids(app)
        agent = app.call("terminate_user_connections", "userId=u-late")
        req = new_pending(app, before, "terminate_user_connections")
        first = wait_for("its notification", lambda: nd.notify_for(req["id"]))
        reminder = wait_for("a reminder", lambda: next((r for r in nd.notifies() if r["t"] > first["t"]
                                                        and r["summary"].startswith("Expiring soon: ")), None))
        assert reminder["id"] == first["id"] and reminder["replaces_id"] == first["id"], reminder
        assert reminder["urgency"] == 2 and f"approve:{req['id']}" in reminder["actions"], reminder
        assert reminder["t"] < req["expiresMs"] / 1000, "the reminder came after expiry"
        wait_for("the notification closed on expiry", lambda: any(c["id"] == first["id"] and c["t"] > reminder["t"]
                                                                  for c in nd.closes()))
        code, out = finish(agent)
        assert code != 0, out
    finally:
        app.close()


def test_sigterm_stops_the_gate_like_quit(workdir, nd):
    app = App(workdir, "sigterm")
    try:
        runtime = os.path.join(app.data, "runtime.json")
        wait_for("runtime.json", lambda: os.path.exists(runtime))
        with open(runtime) as f:
            pid = json.load(f)["pid"]
        assert pid in app_pids(), (pid, app_pids())
        os.kill(pid, 15)
        wait_for("the app to exit", lambda: pid not in app_pids())
        assert not os.path.exists(runtime), "runtime.json left behind after SIGTERM"
    finally:
        app.close()


def test_taken_port_opens_a_window_that_says_so(workdir, nd):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        app = App(workdir, "port-taken", port=port)
        try:
            app.find("#title")
            text = app.text()
            assert "Airlock cannot use its port" in text, text
            assert f"127.0.0.1:{port}" in text and "AIRLOCK_LISTEN" in text, text
            app.screenshot("desktop-problem-port.png")
        finally:
            app.close()


def test_invalid_config_opens_a_window_that_says_where(workdir, nd):
    d = os.path.join(workdir, "bad-config")
    os.makedirs(os.path.join(d, "config"), exist_ok=True)
    with open(os.path.join(d, "config", "config.json"), "w") as f:
        f.write('{\n  "mcpServers": {\n    "pusher": { "builtin": "demo-pusher" },\n  }\n}\n')
    app = App(workdir, "bad-config")
    try:
        app.find("#title")
        text = app.text()
        assert "Airlock cannot read its config" in text, text
        assert "config.json" in text and "4:" in text, text
        app.screenshot("desktop-problem-config.png")
    finally:
        app.close()


MAIN_TESTS = [
    test_first_run_writes_the_default_config,
    test_window_shows_the_approvals_view,
    test_notification_approve_reaches_the_agent,
    test_history_shows_approved_by_a_human_via_notification,
    test_approve_from_the_window,
    test_deny_with_a_note_from_the_window,
    test_two_pending_requests_coalesce_into_one_notification,
    test_pause_from_the_tray_denies_calls_and_resume_allows_them,
    test_tray_follows_a_pause_made_through_the_api,
    test_policy_decided_calls_get_no_notification,
    test_screenshots_of_each_window,
    test_second_launch_hands_over_to_the_first,
    test_closing_the_window_keeps_the_gate_running,
    test_clicking_the_notification_body_opens_the_window_on_that_request,
    test_quit_from_the_tray_stops_the_gate,
]
PROBLEM_TESTS = [
    test_sigterm_stops_the_gate_like_quit,
    test_reminder_before_expiry_then_closed_when_it_expires,
    test_taken_port_opens_a_window_that_says_so,
    test_invalid_config_opens_a_window_that_says_where,
]


def run_tests(workdir, only=None):
    """Runs every test, or those whose name contains `only`."""
    main_tests = [t for t in MAIN_TESTS if not only or only in t.__name__]
    problem_tests = [t for t in PROBLEM_TESTS if not only or only in t.__name__]
    nd = Notifyd(workdir)
    passed = failed = 0

    def report(test, error):
        nonlocal passed, failed
        if error is None:
            passed += 1
            print(f"ok    {test.__name__}", flush=True)
        else:
            failed += 1
            print(f"FAIL  {test.__name__}: {error}", flush=True)

    try:
        app = App(workdir, "main") if main_tests else None
        try:
            for test in main_tests:
                try:
                    test(app, nd)
                    report(test, None)
                except Exception as e:  # noqa: BLE001 - a failed test is reported, the rest run
                    traceback.print_exc(file=sys.stderr)
                    report(test, e)
        finally:
            if app:
                app.close()
        for test in problem_tests:
            try:
                test(workdir, nd)
                report(test, None)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc(file=sys.stderr)
                report(test, e)
    finally:
        nd.stop()
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copyfile(nd.log_path, os.path.join(ARTIFACTS, "notify.jsonl")) if os.path.exists(nd.log_path) else None
    print(f"{passed} passed, {failed} failed", flush=True)
    return failed == 0


# ---------------------------------------------------------------------------------------------
# Benchmarks (--bench): the app binary started directly, no WebDriver.

def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)


def tree(root):
    """`root` and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = [root], [root]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def bench(workdir, runs=5, calls=100):
    nd = Notifyd(workdir)
    results = {}
    starts = []
    for i in range(runs):
        d = os.path.join(workdir, f"bench-start-{i}")
        port = free_port()
        env = dict(os.environ, AIRLOCK_CONFIG=os.path.join(d, "config.json"), AIRLOCK_DATA_DIR=os.path.join(d, "data"),
                   AIRLOCK_LISTEN=f"127.0.0.1:{port}", LANG="en_US.UTF-8")
        os.makedirs(d, exist_ok=True)
        log = open(os.path.join(d, "app.log"), "w+")
        t0 = time.time()
        proc = subprocess.Popen([APP], env=env, stdout=log, stderr=subprocess.STDOUT)

        def loaded():
            log.seek(0)
            return "window loaded" in log.read()
        wait_for("the window", loaded, every=0.005)
        starts.append((time.time() - t0) * 1000)
        if i == runs - 1:
            time.sleep(10)  # idle: no calls, window open
            results["idle_rss_mb"] = rss_kb(proc.pid) / 1024
            # WebKit renders in child processes (WebKitWebProcess, WebKitNetworkProcess).
            results["idle_rss_with_webkit_children_mb"] = sum(rss_kb(p) for p in tree(proc.pid)) / 1024
            token = open(os.path.join(d, "data", "api-token")).read().strip()
            lat_call, lat_gate = [], []
            for n in range(calls):
                seen = len(nd.notifies())
                t1 = time.time()
                agent = subprocess.Popen([CLI, "call", "pusher", "terminate_user_connections", f"userId=u-b{n}"],
                                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                note = wait_for("a notification", lambda: nd.notifies()[seen] if len(nd.notifies()) > seen else None,
                                every=0.001)
                lat_call.append((note["t"] - t1) * 1000)
                aid = next(k.split(":", 1)[1] for k in note["actions"] if k.startswith("approve:"))
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/approvals", headers={
                    "Authorization": f"Bearer {token}"})
                pending = json.loads(urllib.request.urlopen(req).read())
                created = next(a["createdMs"] for a in pending if a["id"] == aid)
                lat_gate.append(note["t"] * 1000 - created)
                nd.click(note["id"], f"deny:{aid}")
                agent.wait(WAIT)
            results["call_to_notify_ms"] = {"p50": percentile(lat_call, 50), "p99": percentile(lat_call, 99),
                                            "max": max(lat_call)}
            results["request_to_notify_ms"] = {"p50": percentile(lat_gate, 50), "p99": percentile(lat_gate, 99),
                                               "max": max(lat_gate)}
        proc.terminate()
        proc.wait(10)
        log.close()
    results["profile"] = PROFILE
    results["cold_start_ms"] = {"runs": [round(s) for s in starts], "median": percentile(starts, 50),
                                "max": max(starts)}
    nd.stop()
    print(json.dumps(results, indent=2))


def main():
    for tool in (APP, CLI):
        if not os.path.exists(tool):
            sys.exit(f"missing {tool}: run `cargo build -p airlock-app -p airlock-cli` first")
    workdir = tempfile.mkdtemp(prefix="airlock-desktop-e2e-")
    try:
        if "--bench" in sys.argv:
            bench(workdir)
            return 0
        only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
        return 0 if run_tests(workdir, only) else 1
    finally:
        keep = os.path.join(ARTIFACTS, "run")
        shutil.rmtree(keep, ignore_errors=True)
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copytree(workdir, keep, ignore=shutil.ignore_patterns("*.db*", "api-token"))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
