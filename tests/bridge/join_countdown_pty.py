#!/usr/bin/env python3
"""desktop-bridge interactive mode in a real pseudo-terminal (issue 15, desktop side).

Starts the real relay and the real bridge with stdin/stdout on a pty (TERM=xterm-256color) and
reads what a user would see:
  * the "treat this link like a password" line next to the join link,
  * the OSC 52 clipboard sequence carrying exactly the printed join link,
  * the live expiry countdown line, redrawn in place with a falling value (--join-ttl 10),
  * the "expired" line once it runs out, and 'a' printing a fresh link with a new countdown.
Then with REMOTE_CONTROL_NO_CLIPBOARD=1 (no OSC 52, the fallback line instead) and with stdout
on a pipe (no countdown line outside a terminal). Every wait is bounded; every child is killed
by its PID. Exit 77 = skipped (binaries missing).
"""
import argparse
import base64
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CSI_ERASE = "\r\x1b[2K"
OSC52 = re.compile(r"\x1b\]52;c;([A-Za-z0-9+/=]+)\x07")
COUNTDOWN = re.compile(r"Join link expires in (\d+):(\d\d) \(a: new link, h: help\)")
PASSWORD = "Treat this link like a password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(msg, out=""):
    print(f"bridge_join_pty FAILED: {msg}")
    if out:
        print("---- terminal output (escapes shown) ----")
        print(out[-3000:].encode("unicode_escape").decode("ascii"))
    sys.exit(1)


class Term:
    """The bridge on a pty: everything it writes is collected in .out."""

    def __init__(self, argv, env):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                     start_new_session=True)
        os.close(slave)
        self.out = ""

    def read_until(self, pred, timeout_s, what):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if pred(self.out):
                return
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # EIO: the bridge closed the terminal
                    data = b""
                if not data:
                    break
                self.out += data.decode("utf-8", "replace")
        if not pred(self.out):
            fail(f"timed out after {timeout_s} s waiting for {what}", self.out)

    def key(self, ch):
        os.write(self.master, ch.encode())

    def close(self):
        stop(self.proc)
        try:
            os.close(self.master)
        except OSError:
            pass


def stop(proc, grace_s=5):
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def countdown_values(text):
    return [int(m) * 60 + int(s) for m, s in COUNTDOWN.findall(text)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--relay-bin", required=True)
    a = ap.parse_args()
    for b in (a.bridge, a.relay_bin):
        if not os.access(b, os.X_OK):
            print(f"bridge_join_pty SKIPPED: {b} missing")
            sys.exit(77)

    tmp = tempfile.mkdtemp(prefix="rc-join-pty-")
    port = free_port()
    relay_env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    relay_env.pop("STATE_PATH", None)
    relay_log = open(os.path.join(tmp, "relay.log"), "wb")
    relay = subprocess.Popen([a.relay_bin], env=relay_env, stdout=relay_log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    terms = []
    try:
        end = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if relay.poll() is not None or time.monotonic() > end:
                fail("relay did not start")
            time.sleep(0.15)

        def bridge_argv(name):
            return [a.bridge, "--runtime", "demo", "--relay", f"ws://127.0.0.1:{port}/ws",
                    "--join-url", "http://127.0.0.1:9/", "--state-file", os.path.join(tmp, f"{name}.json"),
                    "--join-ttl", "10"]

        def bridge_env(**extra):
            env = dict(os.environ, TERM="xterm-256color", HOME=tmp, **extra)
            env.pop("REMOTE_CONTROL_NO_CLIPBOARD", None)
            env.update(extra)
            return env

        # 1. a terminal that allows OSC 52
        t = Term(bridge_argv("tty"), bridge_env())
        terms.append(t)
        t.read_until(lambda o: len(set(countdown_values(o))) >= 3, 20, "three countdown values")
        out = t.out
        link = re.search(r"Join link \(copy\):\r?\n(\S+#sid=\S+)\r?\n", out)
        if not link:
            fail("no join link line", out)
        if PASSWORD not in out:
            fail("no 'treat this link like a password' line", out)
        clip = OSC52.search(out)
        if not clip or base64.b64decode(clip.group(1)).decode() != link.group(1):
            fail("OSC 52 sequence missing or not the printed link", out)
        if "Sent to your clipboard (OSC 52)" not in out:
            fail("no clipboard confirmation line", out)
        vals = countdown_values(out)
        if any(b > a_ for a_, b in zip(vals, vals[1:])) or vals[0] > 10:
            fail(f"countdown not falling from the 10 s lifetime: {vals}", out)
        # redrawn in place: every countdown line starts with carriage return + erase line
        if out.count(CSI_ERASE + "Join link expires in") != len(vals):
            fail("countdown line not redrawn in place", out)
        t.read_until(lambda o: "Join link expired; press 'a' for a fresh one." in o, 20, "the expired line")
        mark = len(t.out)
        t.key("a")
        t.read_until(lambda o: "New join link" in o[mark:] and countdown_values(o[mark:]), 20,
                     "a fresh link and a new countdown after 'a'")
        fresh = re.search(r"Join link \(copy\):\r?\n(\S+#sid=\S+)\r?\n", t.out[mark:])
        if not fresh or fresh.group(1) == link.group(1):
            fail("'a' did not print a different join link", t.out)
        first = vals[0]
        t.key("q")
        t.read_until(lambda o: t.proc.poll() is not None or "Stopped" in o[mark:], 15, "quit")
        t.close()

        # 2. clipboard opted out: no OSC 52, the fallback line
        t = Term(bridge_argv("noclip"), bridge_env(REMOTE_CONTROL_NO_CLIPBOARD="1"))
        terms.append(t)
        t.read_until(lambda o: countdown_values(o), 20, "the countdown (no clipboard)")
        if OSC52.search(t.out) or "Clipboard copy not available here" not in t.out or PASSWORD not in t.out:
            fail("REMOTE_CONTROL_NO_CLIPBOARD=1: OSC 52 sent or fallback/password line missing", t.out)
        t.close()

        # 3. stdout on a pipe: the link and the password line, no OSC 52, no live countdown line
        p = subprocess.Popen(bridge_argv("pipe"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=bridge_env(), start_new_session=True)
        try:
            buf = b""
            end = time.monotonic() + 20
            while b"Keys:" not in buf and time.monotonic() < end:
                r, _, _ = select.select([p.stdout], [], [], 0.2)
                if r:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    buf += chunk
            time.sleep(1.5)  # long enough for a countdown tick, were one drawn
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                buf += os.read(p.stdout.fileno(), 65536)
            piped = buf.decode("utf-8", "replace")
            if b"Keys:" not in buf or PASSWORD not in piped:
                fail("piped run: no join link block", piped)
            if OSC52.search(piped) or countdown_values(piped) or "Clipboard copy not available here" not in piped:
                fail("piped run: OSC 52 or a countdown line written to a pipe", piped)
        finally:
            stop(p)

        print(f"bridge_join_pty: ok — countdown {first}s→…→expired (first values {vals[:4]}), redrawn in place, password line, "
              f"OSC 52 = printed link, 'a' = fresh link; opt-out fallback; pipe without countdown")
    finally:
        for t in terms:
            t.close()
        stop(relay)
        relay_log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
