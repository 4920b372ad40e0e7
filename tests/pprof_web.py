"""`go tool pprof -http` on a profile, for tests: the server on a free
loopback port, its pages fetched, and its source view (/ui/source?f=REGEX,
the page the web UI's "Source" menu opens) parsed into per-line values.
The server is pprof's own binary (`go tool -n pprof` names it), run
directly so that killing it leaves no child behind."""
import html
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

# One function's block: <h2>NAME</h2><p class="filename">FILE</p><pre ...>BODY</pre>.
BLOCK = re.compile(r'<h2>(.*?)</h2><p class="filename">(.*?)</p>\s*<pre[^>]*>(.*?)</pre>', re.S)
TOTAL = re.compile(r"Total:\s+(\S+)\s+(\S+) \(flat, cum\)")
# A source line: "<span class=line> NUMBER</span> <span class=KIND>  FLAT CUM (11 spaces) SOURCE </span>".
LINE = re.compile(r"<span class=line>\s*(\d+)</span> <span class=\w+>\s*(\S+)\s+(\S+) {11}(.*?) </span>")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PprofWeb:
    """The web UI of `profile`, served until close()."""

    def __init__(self, profile, env, attempts=3):
        tool = subprocess.run(["go", "tool", "-n", "pprof"], capture_output=True, text=True, env=env,
                              check=True).stdout.strip()
        for _ in range(attempts):  # another process may take the free port first
            self.port = free_port()
            self.stderr = tempfile.TemporaryFile(mode="w+")
            self.process = subprocess.Popen(
                [tool, f"-http=127.0.0.1:{self.port}", "-no_browser", str(profile)],
                env=env, stdout=subprocess.DEVNULL, stderr=self.stderr)
            if self._wait_until_serving():
                return
            self.close()
        raise AssertionError(f"go tool pprof -http did not start: {self.why}")

    def _wait_until_serving(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.why = self.log()
                return False
            try:
                self.get("/ui/")
                return True
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        self.why = f"not serving after {timeout} s: {self.log()}"
        return False

    def log(self):
        """What the server has written to stderr so far."""
        self.stderr.seek(0)
        return self.stderr.read()

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=300) as reply:
            return reply.read().decode()

    def source(self, regex, options=""):
        """The source view of the functions matching regex, parsed (see
        source_listing); options: more of the query, e.g. "&si=samples"."""
        return source_listing(self.get("/ui/source?f=" + urllib.parse.quote(regex) + options))

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)
        self.stderr.close()


def source_listing(page):
    """{(function, file): {"totals": [(flat, cum) of each block], "lines": {number: (flat, cum,
    source)}}} of a source view page: pprof shows a function in several
    blocks when its lines lie far apart. Values as pprof prints them ("."
    for none)."""
    out = {}
    for name, path, body in BLOCK.findall(page):
        entry = out.setdefault((html.unescape(name), html.unescape(path)), {"totals": [], "lines": {}})
        total = TOTAL.search(body)
        assert total, body
        entry["totals"].append(total.groups())
        for number, flat, cum, source in LINE.findall(body):
            entry["lines"][int(number)] = (flat, cum, html.unescape(source))
    return out
