#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for lmtpd under systemd, without systemd as pid 1:
socket activation (the sockets come from systemd-socket-activate, or from
a tiny activator in this file, and the configured `listen` stays unbound)
and sd_notify readiness (READY=1, RELOADING=1, STOPPING=1, STATUS= read
from a datagram socket of the test's own, with the sender's pid).

Usage: python3 tests/integration/test_systemd.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py (Daemon, Client, the /proc readers).
Loopback and temporary directories only; every socket operation and every
wait is bounded; every process started is stopped by PID in the cleanup
(SIGTERM, then SIGKILL of its process group).  The systemd-socket-activate
tests are skipped, loudly, when that program (package systemd) is missing.
Python 3 standard library only.
"""

import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

EX_UNAVAILABLE = 69
NOTIFY_TIMEOUT = 10.0       # seconds for one sd_notify message
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")

# Run by the test's activator: moves the descriptors named in argv[1] to
# 3, 4, ... (what sd_listen_fds(3) expects), sets LISTEN_FDS and LISTEN_PID
# (argv[2]: "self" for its own pid, which exec keeps) and execs argv[3:].
ACTIVATOR = r"""
import fcntl, os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
for fd in fds:
    if fd >= 3 + len(fds):
        os.close(fd)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid()) if sys.argv[2] == "self" \
    else sys.argv[2]
os.execv(sys.argv[3], sys.argv[3:])
"""


# ---------------------------------------------------------------- helpers

def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def refused(port):
    """True when nothing listens on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), 2).close()
    except ConnectionRefusedError:
        return True
    return False


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def listening_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


def listening_tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


class Notifications:
    """The service manager's end of sd_notify: a datagram socket at path,
    writable by the daemon's account, that learns each sender's pid.  A
    path starting with "@" names an abstract socket, as in $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path.startswith("@"):
            self.sock.bind("\0" + path[1:])
        else:
            self.sock.bind(path)
            os.chmod(path, 0o666)   # the master writes after dropping root
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.got = []               # [(pid, {name: value}, raw)]

    def receive(self, timeout):
        """The next message as (pid, {name: value}, raw), or None."""
        self.sock.settimeout(timeout)
        try:
            data, anc, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(struct.calcsize("iII")))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and \
                    kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        text = data.decode("utf-8", "replace")
        fields = {}
        for ln in text.split("\n"):
            if "=" in ln:
                k, v = ln.split("=", 1)
                fields[k] = v
        msg = (pid, fields, text)
        self.got.append(msg)
        return msg

    def wait(self, name, value=None, timeout=NOTIFY_TIMEOUT):
        """Reads until a message sets name (to value, if given); returns
        it, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            msg = self.receive(left)
            if msg is None:
                return None
            if name in msg[1] and (value is None or msg[1][name] == value):
                return msg

    def close(self):
        self.sock.close()


class ActivatedDaemon(T.Daemon):
    """A T.Daemon started as lmtpd.socket would start it: by
    systemd-socket-activate, which binds act_sock and 127.0.0.1:act_port,
    waits for the first connection and execs lmtpd (same pid) with those
    as fds 3 and 4.  The configuration's own listen names other addresses
    (port, sock_path), which must stay unbound."""

    def __init__(self, test, **opts):
        super().__init__(test, **opts)
        self.act_sock = os.path.join(self.dir, "activated.sock")
        self.act_port = None
        self.setenv = {}

    def spawn(self, args=("-f",)):
        argv = [shutil.which("systemd-socket-activate"),
                "-l", self.act_sock, "-l", "127.0.0.1:%d" % self.act_port,
                "--fdname=lmtp-unix:lmtp-inet"]
        for k, v in self.setenv.items():
            argv += ["-E", "%s=%s" % (k, v)]
        for k in SANITIZER_ENV:         # it passes on only what it is told
            if k in os.environ:
                argv += ["-E", k]
        argv += [T.LMTPD] + list(args) + ["-c", self.conf_path]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=self.logf, start_new_session=True)
        return self.proc

    def pick_ports(self):
        super().pick_ports()
        self.act_port = T.free_port()
        if os.path.lexists(self.act_sock):
            os.unlink(self.act_sock)

    def wait_ready(self):
        """The first connection makes the activator exec lmtpd; it waits
        in the socket's queue until a child accepts it."""
        deadline = time.monotonic() + T.START_TIMEOUT
        why = "no 220 on 127.0.0.1:%d within %ss" % (self.act_port,
                                                     T.START_TIMEOUT)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with status %d" % self.proc.returncode
            try:
                c = T.Client(("127.0.0.1", self.act_port), [],
                             timeout=T.START_TIMEOUT)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                code, lines = c.greeting
                if code == 220:
                    c.cmd("QUIT")
                    return True, ""
                why = "greeting %r" % lines
            except (OSError, EOFError, T.LMTPError) as e:
                why = "greeting: %s" % e
            finally:
                c.close()
            time.sleep(0.05)
        return False, why


class HandActivatedDaemon(T.Daemon):
    """A T.Daemon that gets listening sockets the test made and keeps (as
    systemd keeps its own), passed by ACTIVATOR as sd_listen_fds(3) wants.
    listen_pid "self" is the right pid; anything else names another
    process."""

    held = ()
    listen_pid = "self"

    def spawn(self, args=("-f",)):
        fds = [s.fileno() for s in self.held]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ACTIVATOR, ",".join(map(str, fds)),
             self.listen_pid, T.LMTPD] + list(args) +
            ["-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            pass_fds=fds, start_new_session=True)
        return self.proc

    def start_with(self, socks, ready_address):
        """Starts lmtpd on socks and waits for a 220 at ready_address
        (a port on 127.0.0.1, or a unix path)."""
        self.held = socks
        if self.port is None:
            self.port = T.free_port()       # configured, never bound
        self.write_conf()
        self.spawn()
        address = ready_address if isinstance(ready_address, str) else \
            ("127.0.0.1", ready_address)
        deadline = time.monotonic() + T.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            # The test holds the socket: connect() succeeds even when
            # lmtpd is gone, so wait for the greeting briefly, and again.
            try:
                c = T.Client(address, [], timeout=1, greet=False)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                if c.reply()[0] == 220:
                    c.cmd("QUIT")
                    return True
            except (OSError, EOFError, T.LMTPError):
                pass
            finally:
                c.close()
            time.sleep(0.05)
        return False


class SystemdTestCase(T.LMTPDTestCase):
    daemon_opts = None      # each test starts its own daemon

    def deliver(self, c, rcpts, tag):
        msg = T.sample_message(tag)
        c.expect("LHLO client.test", 250)
        _, final = self.transaction(c, rcpts, msg)
        self.assertEqual([f[0] for f in final], [250] * len(rcpts), final)
        c.expect("QUIT", 221)
        return msg

    def client(self, address):
        c = T.Client(address, self.transcript)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        return c

    def assert_unbound(self, d):
        self.assertTrue(refused(d.port), "the configured inet:127.0.0.1:%d "
                        "is bound" % d.port)
        self.assertFalse(os.path.lexists(d.sock_path),
                         "the configured unix:%s was bound" % d.sock_path)

    def assert_clean_stop(self, d):
        os.kill(d.proc.pid, signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=T.SHUTDOWN_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            self.fail("still running %d s after SIGTERM"
                      % (T.SHUTDOWN_TIMEOUT + 5))
        self.assertEqual(rc, 0, "exit status after SIGTERM")
        self.assertTrue(wait_for(lambda: not T.group_members(d.proc.pid),
                                 5), "children left")
        self.assertNotRegex(d.log(), re.compile(
            r"panic|abort|assert|sanitizer|segmentation|core dumped", re.I))

    def notifications(self, d):
        n = Notifications(os.path.join(d.dir, "notify.sock"))
        self.addCleanup(n.close)
        return n


# ------------------------------------------------------------------ tests

class TestSocketActivate(SystemdTestCase):
    """With systemd-socket-activate, as lmtpd.socket does it."""

    def setUp(self):
        super().setUp()
        if shutil.which("systemd-socket-activate") is None:
            loud_skip(self, "no systemd-socket-activate (apt-get install "
                      "systemd): socket activation untested")

    def test_inherited_sockets_deliver(self):
        d = ActivatedDaemon(self)
        self.daemons.append(d)
        n = self.notifications(d)
        d.setenv["NOTIFY_SOCKET"] = n.path
        d.start()
        with open("/proc/%d/cmdline" % d.proc.pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0]
        self.assertEqual(argv0, T.LMTPD.encode(), "the activator did not "
                         "exec lmtpd")

        c = self.client(d.act_sock)
        msg = self.deliver(c, ["alice@example.org", "bob@example.net"],
                           b"activated-unix")
        self.assert_copy(d, "alice@example.org", msg)
        self.assert_copy(d, "bob@example.net", msg)
        c = self.client(("127.0.0.1", d.act_port))
        msg = self.deliver(c, ["carol@example.org"], b"activated-tcp")
        self.assert_copy(d, "carol@example.org", msg)

        self.assert_unbound(d)
        log = d.log()
        self.assertIn("inherited systemd:unix:%s" % d.act_sock, log)
        self.assertIn("inherited systemd:inet:127.0.0.1:%d" % d.act_port,
                      log)
        self.assertRegex(log, r"socket activation: 2 listeners")
        msg = n.wait("READY", "1")
        self.assertIsNotNone(msg, "no READY=1 under socket activation")
        self.assertEqual(msg[0], d.proc.pid, "READY=1 not from the master")

        self.assertTrue(is_socket(d.act_sock))
        self.assert_clean_stop(d)
        self.assertTrue(is_socket(d.act_sock), "lmtpd removed %s, which "
                        "belongs to the activator" % d.act_sock)


class TestHandActivation(SystemdTestCase):
    """Sockets the test holds, as systemd holds its own."""

    def sockets(self, d, n_tcp=1):
        u = listening_unix(os.path.join(d.dir, "held.sock"))
        tcp = [listening_tcp() for _ in range(n_tcp)]
        for s in [u] + tcp:
            self.addCleanup(s.close)
        return [u] + tcp

    def test_stop_leaves_sockets_to_the_manager(self):
        d = HandActivatedDaemon(self)
        self.daemons.append(d)
        socks = self.sockets(d)
        upath, tport = socks[0].getsockname(), socks[1].getsockname()[1]
        self.assertTrue(d.start_with(socks, tport), "lmtpd did not "
                        "start:\n" + d.log())
        msg = self.deliver(self.client(upath), ["alice@example.org"],
                           b"held-1")
        self.assert_copy(d, "alice@example.org", msg)
        self.assert_unbound(d)
        self.assert_clean_stop(d)

        # Still listening, path and all: connections wait in the queue
        # (a stop must not shutdown() a socket it did not bind) ...
        self.assertTrue(is_socket(upath), "lmtpd removed " + upath)
        waiting = T.Client(upath, self.transcript, greet=False)
        self.addCleanup(waiting.close)
        waiting_tcp = T.Client(("127.0.0.1", tport), self.transcript,
                               greet=False)
        self.addCleanup(waiting_tcp.close)
        # ... for the next start, which serves them.
        d2 = HandActivatedDaemon(self)
        self.daemons.append(d2)
        d2.port = d.port
        self.assertTrue(d2.start_with(socks, tport), "second start:\n" +
                        d2.log())
        for w, who in ((waiting, "alice@example.org"),
                       (waiting_tcp, "bob@example.org")):
            w.greeting = w.reply()
            self.assertEqual(w.greeting[0], 220, w.greeting)
            msg = self.deliver(w, [who], b"queued")
            self.assert_copy(d2, who, msg)
        self.assert_clean_stop(d2)
        self.assertTrue(is_socket(upath), "lmtpd removed " + upath)

    def test_more_sockets_than_listen_entries(self):
        d = HandActivatedDaemon(self)
        self.daemons.append(d)
        socks = self.sockets(d, n_tcp=2)        # listen has two entries
        last = socks[2].getsockname()[1]
        if not d.start_with(socks, last):
            if "more than the 2 this lmtpd takes" in d.log():
                loud_skip(self, "main.c still gives the listeners as many "
                          "slots as listen has entries: it needs "
                          "listener_open_set()")
            self.fail("lmtpd did not start:\n" + d.log())
        msg = self.deliver(self.client(("127.0.0.1", last)),
                           ["alice@example.org"], b"third")
        self.assert_copy(d, "alice@example.org", msg)
        self.assertRegex(d.log(), r"socket activation: 3 listeners")

    def test_passed_fd_not_listening(self):
        d = HandActivatedDaemon(self)
        self.daemons.append(d)
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # no listen()
        self.addCleanup(u.close)
        self.assertFalse(d.start_with([u], T.free_port()))
        rc = d.proc.wait(timeout=10)
        self.assertEqual(rc, EX_UNAVAILABLE, d.log())
        self.assertRegex(d.log(), r"socket activation: fd 3 is not "
                         r"listening")
        self.assert_unbound(d)

    def test_listen_pid_of_another_process(self):
        d = HandActivatedDaemon(self)
        self.daemons.append(d)
        d.listen_pid = "1"          # LISTEN_PID names pid 1, not lmtpd
        socks = self.sockets(d)
        d.port = T.free_port()
        self.assertTrue(d.start_with(socks, d.port), "lmtpd did not bind "
                        "its configured listener:\n" + d.log())
        self.assertTrue(is_socket(d.sock_path))
        self.assertNotIn("inherited", d.log())
        # The passed socket is not served.
        c = T.Client(("127.0.0.1", socks[1].getsockname()[1]),
                     self.transcript, timeout=1, greet=False)
        self.addCleanup(c.close)
        with self.assertRaises(socket.timeout):
            c.reply()
        self.assert_clean_stop(d)
        self.assertFalse(os.path.lexists(d.sock_path))


class NotifyDaemon(T.Daemon):
    """A T.Daemon with NOTIFY_SOCKET in its environment."""

    notify_socket = None

    def spawn(self, args=("-f",)):
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify_socket
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [T.LMTPD] + list(args) + ["-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            env=env, start_new_session=True)
        return self.proc


class TestNotify(SystemdTestCase):

    def start_notifying(self, path=None):
        """A NotifyDaemon started with a notification socket (path, or
        one in its directory), and the socket, once READY=1 came from its
        master."""
        d = NotifyDaemon(self)
        self.daemons.append(d)
        if path is None:
            n = self.notifications(d)
        else:
            n = Notifications(path)
            self.addCleanup(n.close)
        d.notify_socket = n.path
        d.port = T.free_port()
        d.write_conf()
        d.spawn()
        ready = n.wait("READY", "1")
        self.assertIsNotNone(ready, "no READY=1 within %d s:\n%s"
                             % (NOTIFY_TIMEOUT, d.log()))
        self.assertEqual(ready[0], d.proc.pid, "READY=1 not from the master")
        return d, n

    def test_abstract_socket(self):
        """NOTIFY_SOCKET=@name: an abstract socket, as sd_notify(3) has
        it."""
        d, _ = self.start_notifying("@lmtpd-test-notify.%d" % os.getpid())
        self.assert_clean_stop(d)

    def test_ready_reload_stop(self):
        d, n = self.start_notifying()
        master = d.proc.pid
        # Ready means listening, with children to answer.
        c = self.client(("127.0.0.1", d.port))
        msg = self.deliver(c, ["alice@example.org"], b"ready")
        self.assert_copy(d, "alice@example.org", msg)
        status = n.wait("STATUS")
        self.assertIsNotNone(status, "no STATUS=")
        self.assertRegex(status[1]["STATUS"], r"\d+ children, \d+ idle")

        # A reload: RELOADING=1 (with the time), then READY=1 ...
        for extra, what in (("", "reload"),
                            ("no_such_option = 1\n", "failed reload")):
            d.write_conf(d.render(extra=extra))
            t0 = int(time.monotonic() * 1e6)
            os.kill(master, signal.SIGHUP)
            reloading = n.wait("RELOADING", "1")
            self.assertIsNotNone(reloading, "no RELOADING=1 on %s" % what)
            t1 = int(time.monotonic() * 1e6)
            self.assertEqual(reloading[0], master)
            usec = reloading[1].get("MONOTONIC_USEC", "")
            self.assertTrue(usec.isdigit() and t0 <= int(usec) <= t1,
                            "MONOTONIC_USEC=%r not in [%d, %d]"
                            % (usec, t0, t1))
            again = n.wait("READY", "1")
            self.assertIsNotNone(again, "no READY=1 after the %s" % what)
            self.assertEqual(again[0], master)
        # ... even when the reload failed and the old one is kept.
        self.assertRegex(d.log(), r"reload failed")
        self.assertIsNone(d.proc.poll())

        os.kill(master, signal.SIGTERM)
        stopping = n.wait("STOPPING", "1")
        self.assertIsNotNone(stopping, "no STOPPING=1 on SIGTERM")
        self.assertEqual(stopping[0], master)
        self.assertEqual(d.proc.wait(timeout=T.SHUTDOWN_TIMEOUT + 5), 0)
        while n.receive(0.2) is not None:
            pass
        senders = {m[0] for m in n.got}
        self.assertEqual(senders, {master}, "messages from %r, not only "
                         "from the master" % senders)
        order = [k for m in n.got for k in ("READY", "RELOADING",
                                            "STOPPING") if k in m[1]]
        self.assertEqual(order, ["READY", "RELOADING", "READY",
                                 "RELOADING", "READY", "STOPPING"],
                         [m[2] for m in n.got])


# ------------------------------------------------------------------- main


if __name__ == "__main__":
    sys.exit(T.run_tests())
