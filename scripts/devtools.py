"""Headless Chromium driven over the DevTools protocol on a pipe (fd 3: our
commands in, fd 4: its replies out, each message JSON ending in a NUL byte),
with Python's standard library only. Used by the screenshot scripts:

    with Page(chromium, profile, 1400, 900) as page:
        page.navigate(url)
        page.screenshot("out.png")
"""
import base64, json, os, subprocess, sys, time

# TensorBoard's dashboards are Polymer: their elements live in shadow roots.
# `deep(root, selector)` finds every element matching `selector` below
# `root`, through them. (var: each evaluation declares it again in the page's
# one global scope.) Prepend it to a script that uses it.
DEEP_QUERY = """
var deep = (root, selector) => {
  const found = [];
  const walk = node => {
    if (node.matches && node.matches(selector)) found.push(node);
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.children || []) walk(child);
  };
  walk(root);
  return found;
};
"""


class Page:
    def __init__(self, chromium, profile, width, height, extra_args=()):
        cmd_r, self._cmd = os.pipe()
        reply_r, reply_w = os.pipe()
        self._proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", *extra_args, "about:blank"],
            preexec_fn=lambda: (os.dup2(os.dup(cmd_r), 3), os.dup2(os.dup(reply_w), 4)),
            close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(reply_w)
        self._replies = os.fdopen(reply_r, "rb", buffering=0)
        self._pending = b""
        self._last_id = 0
        self._session = None
        try:
            target = next(t for t in self.send("Target.getTargets")["targetInfos"]
                          if t["type"] == "page")
            self._session = self.send("Target.attachToTarget",
                                      {"targetId": target["targetId"], "flatten": True},
                                      browser=True)["sessionId"]
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def send(self, method, params=None, browser=False):
        """Sends one command (to the page, unless `browser`) and returns its result."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if self._session and not browser:
            message["sessionId"] = self._session
        os.write(self._cmd, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._pending:
                chunk = self._replies.read(1 << 16)
                if not chunk:
                    sys.exit("error: chromium closed its DevTools pipe")
                self._pending += chunk
            raw, self._pending = self._pending.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    sys.exit(f"error: chromium: {method}: {reply['error']}")
                return reply["result"]

    def js(self, expression):
        """The value of `expression` in the page (promises awaited)."""
        result = self.send("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return result["result"].get("value")

    def navigate(self, url, wait_s=30):
        """Opens `url` and waits (at most `wait_s`) until the document has loaded."""
        self.send("Page.navigate", {"url": url})
        deadline = time.time() + wait_s
        while self.js("document.readyState") != "complete" and time.time() < deadline:
            time.sleep(0.2)

    def screenshot(self, path):
        shot = self.send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def close(self):
        # Browser.close lets Chromium end its own helper processes.
        try:
            self._last_id += 1
            os.write(self._cmd, json.dumps({"id": self._last_id, "method": "Browser.close"}).encode() + b"\0")
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
