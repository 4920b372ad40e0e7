"""Real headless browsers for the live view's tests, each driven through its own
remote protocol over a websocket: Debian's chromium through the DevTools
protocol, Debian's firefox-esr through WebDriver BiDi. Both give the same
small page interface: navigate, eval (a JSON-able value back), a real mouse
click in the middle of an element, a key press, and a PNG screenshot."""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import threading

import pytest

websocket = pytest.importorskip("websocket")

BROWSERS = {"chromium": "chromium", "firefox": "firefox-esr"}
WIDTH, HEIGHT = 1400, 1250


class _Connection:
    def __init__(self, ws_url):
        # No Origin header: Firefox refuses a handshake that names one it does not expect.
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method, params, **envelope):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params, **envelope}))
        while True:  # events and other replies are skipped
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']} {reply.get('message', '')}")
                return reply["result"]


def _box(page, selector):
    """The middle of the element, scrolled into view, in viewport pixels."""
    return page.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                     f" const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")


class _ChromiumPage:
    def __init__(self, ws_url):
        self.connection = _Connection(ws_url)
        target = self.connection.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.connection.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def _send(self, method, **params):
        return self.connection.call(method, params, sessionId=self.session)

    def navigate(self, url):
        self._send("Page.navigate", url=url)

    def eval(self, expression):
        result = self._send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector):
        x, y = _box(self, selector)
        for kind in ("mousePressed", "mouseReleased"):
            self._send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def press(self, key):
        """Enter, or a letter key."""
        code, keycode, text = ("Enter", 13, "\r") if key == "Enter" else (f"Key{key.upper()}", ord(key.upper()), key)
        self._send("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, windowsVirtualKeyCode=keycode,
                   text=text)
        self._send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=keycode)

    def screenshot(self):
        return base64.b64decode(self._send("Page.captureScreenshot", format="png")["data"])


class _FirefoxPage:
    def __init__(self, ws_url):
        self.connection = _Connection(ws_url + "/session")
        self.connection.call("session.new", {"capabilities": {}})
        self.context = self.connection.call("browsingContext.getTree", {})["contexts"][0]["context"]

    def _send(self, method, **params):
        return self.connection.call(method, params)

    def navigate(self, url):
        self._send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def eval(self, expression):
        # BiDi returns typed remote values; JSON.stringify in the page gives plain ones.
        result = self._send("script.evaluate", expression=f"JSON.stringify(({expression}) ?? null)",
                            target={"context": self.context}, awaitPromise=True)
        if result["type"] != "success":
            raise AssertionError(f"{expression}: {result.get('exceptionDetails')}")
        return json.loads(result["result"]["value"])

    def _actions(self, source):
        self._send("input.performActions", context=self.context, actions=[source])

    def click(self, selector):
        x, y = _box(self, selector)
        self._actions({"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                       "actions": [{"type": "pointerMove", "x": round(x), "y": round(y)},
                                   {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]})

    def press(self, key):
        """Enter, or a letter key. The page gets the key events, but headless
        Firefox's document never has the focus, and there a focused button
        does not click on Enter (a known limit of automated Firefox: see
        testcafe issue 7402); a person's Firefox does."""
        value = "\ue007" if key == "Enter" else key  # WebDriver's code for the Enter key
        self._actions({"type": "key", "id": "keyboard",
                       "actions": [{"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]})

    def screenshot(self):
        return base64.b64decode(self._send("browsingContext.captureScreenshot", context=self.context)["data"])


class Browser:
    """A headless browser of this kind in its own profile under tmp_path; skips
    the test when the Debian package is not installed (make deps installs it)."""

    def __init__(self, kind, tmp_path):
        program = shutil.which(BROWSERS[kind])
        if program is None:
            pytest.skip(f"Debian's {BROWSERS[kind]} is not installed (make deps installs it on the host; "
                        f"make test's sid chroot for Python 3.14+ has no browser)")
        profile = tmp_path / f"{kind}-profile"
        profile.mkdir()
        if kind == "chromium":
            command = [program, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                       "--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
                       "about:blank"]
            listening, page = r"DevTools listening on (ws://\S+)", _ChromiumPage
        else:
            command = [program, "--headless", "--no-remote", "-profile", str(profile), "--remote-debugging-port=0",
                       f"--window-size={WIDTH},{HEIGHT}", "about:blank"]
            listening, page = r"WebDriver BiDi listening on (ws://\S+)", _FirefoxPage
        # Its own process group: close() ends the browser's helper processes too.
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
        # A browser that never says where it listens is killed, ending the loop below.
        watchdog = threading.Timer(60, self.close)
        watchdog.start()
        try:
            for line in self.process.stderr:
                match = re.search(listening, line)
                if match:
                    # The rest of its stderr (Firefox's console chatter) must not fill the pipe.
                    threading.Thread(target=self.process.stderr.read, daemon=True).start()
                    self.page = page(match.group(1))
                    return
            raise AssertionError(f"{kind} did not start its remote protocol endpoint within 60 s")
        except BaseException:
            self.close()
            raise
        finally:
            watchdog.cancel()

    def close(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:  # already gone
            pass
        self.process.wait()
