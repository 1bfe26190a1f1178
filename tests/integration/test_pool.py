#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for the prefork master: dropping privileges, keeping
the pool between min_spare and max_spare within max_children, retiring
children after max_requests, backing off when children crash, and a
graceful SIGTERM with a transaction in progress.

Usage: python3 tests/integration/test_pool.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py (Daemon, Client, the /proc readers).
Every socket operation and every wait is bounded; every daemon is stopped
by PID in the cleanup (SIGTERM, then SIGKILL of its process group).  The
privilege tests need root and skip, loudly, without it.  Python 3
standard library only.
"""

import collections
import errno
import grp
import os
import pwd
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers

def wait_for(pred, timeout, interval=0.05):
    """Calls pred() until it returns something true or timeout seconds
    pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def proc_ids(pid):
    """{"Uid": [4 ints], "Gid": [4 ints], "Groups": [ints]} from
    /proc/pid/status, or None when pid is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("Uid", "Gid", "Groups"):
                    out[key] = [int(x) for x in val.split()]
    except OSError:
        return None
    return out


def cpu_seconds(pid):
    """utime + stime of pid, in seconds (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = data[data.rfind(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


class PendingClient(T.Client):
    """A T.Client whose connect is non-blocking and whose greeting is read
    later, so that many connections can be opened at once."""

    def __init__(self, address, transcript):
        self.t = transcript
        self.buf = b""
        self.greeting = None
        self.closed_early = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        err = self.sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(err, os.strerror(err))

    def finish_connect(self, timeout):
        _, w, _ = select.select([], [self.sock], [], timeout)
        if not w:
            raise AssertionError("connect did not complete in %ss"
                                 % timeout)
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        self.sock.settimeout(T.IO_TIMEOUT)

    def readable(self):
        return bool(self.buf) or \
            bool(select.select([self.sock], [], [], 0)[0])


class GroupedDaemon(T.Daemon):
    """A T.Daemon started with supplementary groups (root only), so that
    clearing them is seen even when the test runner has none."""

    extra_groups = (0, 1)

    def spawn(self, args=("-f",)):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [T.LMTPD] + list(args) + ["-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True, extra_groups=list(self.extra_groups))
        return self.proc


# ------------------------------------------------------------------ tests

class PoolTestCase(T.LMTPDTestCase):
    daemon_opts = None      # each test starts its own daemon

    def start(self, **opts):
        return self.daemon(**opts).start()

    def count(self, d):
        return len(d.children())


class TestPrivileges(PoolTestCase):

    def setUp(self):
        super().setUp()
        if not T.IS_ROOT:
            loud_skip(self, "not running as root: privilege dropping "
                      "cannot be tested (CI runs as root)")
        try:
            self.uid = pwd.getpwnam("nobody").pw_uid
            self.gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            loud_skip(self, "no nobody user or nogroup group here")

    def give_to_nobody(self, d):
        for root, dirs, files in os.walk(d.dir):
            os.chown(root, self.uid, self.gid)
            for n in dirs + files:
                os.lchown(os.path.join(root, n), self.uid, self.gid)

    def test_master_and_children_drop_everything(self):
        d = GroupedDaemon(self, user="nobody", group="nogroup")
        self.daemons.append(d)
        self.give_to_nobody(d)
        d.start()
        master = d.proc.pid
        kids = wait_for(lambda: d.children()
                        if len(d.children()) >= 2 else None, 5)
        self.assertTrue(kids, "fewer than min_spare=2 children in 5 s")
        checked = 0
        for pid in [master] + kids:
            ids = proc_ids(pid)
            if ids is None and pid != master:
                continue        # a child that just left
            self.assertIsNotNone(ids, "master %d gone" % pid)
            who = "master" if pid == master else "child"
            self.assertEqual(ids["Uid"], [self.uid] * 4,
                             "%s %d Uid (real, eff, saved, fs)" % (who, pid))
            self.assertEqual(ids["Gid"], [self.gid] * 4,
                             "%s %d Gid (real, eff, saved, fs)" % (who, pid))
            self.assertEqual(ids.get("Groups"), [],
                             "%s %d keeps supplementary groups" % (who, pid))
            checked += 1
        self.assertGreaterEqual(checked, 3)

        rcpt = "alice@example.org"
        msg = T.sample_message(b"privs")
        c = self.open(d)
        _, final = self.transaction(c, [rcpt], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        c.expect("QUIT", 221)
        self.assert_copy(d, rcpt, msg)      # modes 0700 and 0600
        md = d.maildir(rcpt)
        # The Maildir, tmp/ new/ cur/, and the parents lmtpd created.
        for p in (os.path.join(d.mail, "example.org"),
                  os.path.dirname(md), md,
                  os.path.join(md, "tmp"), os.path.join(md, "new"),
                  os.path.join(md, "cur")):
            st = os.stat(p)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, p)
            self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid),
                             p)
        names = T.maildir_files(md)
        self.assertEqual(len(names), 1, names)
        st = os.stat(os.path.join(md, "new", names[0]))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual((st.st_uid, st.st_gid), (self.uid, self.gid))

    def test_refuses_to_run_as_root(self):
        d = self.daemon(user="root", group="nogroup")
        d.port = T.free_port()
        d.write_conf()
        p = subprocess.Popen([T.LMTPD, "-f", "-c", d.conf_path],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=T.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            for q in T.group_members(p.pid):
                os.kill(q, signal.SIGKILL)
            p.stdout.close()
            p.stderr.close()
            self.fail("lmtpd started with user = \"root\"")
        err = err.decode("utf-8", "replace")
        self.transcript.append("stderr: " + err)
        self.assertNotEqual(p.returncode, 0, err)
        self.assertRegex(err, re.compile(r"\broot\b", re.I))
        self.assertEqual(T.group_members(p.pid), [], "processes left")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), 1).close()


class TestSpares(PoolTestCase):

    def test_spares_follow_the_load(self):
        d = self.start(min_spare=2, max_spare=3, max_children=6)
        n = wait_for(lambda: self.count(d) if 2 <= self.count(d) <= 3
                     else None, 5)
        self.assertTrue(n, "not 2..3 idle children 5 s after start: %d"
                        % self.count(d))

        conns = []
        for i in range(3):
            c = self.tcp(d)
            self.addCleanup(c.close)
            self.assertEqual(c.greeting[0], 220, c.greeting)
            conns.append(c)
        seen = []

        def enough():
            seen.append(self.count(d))
            return seen[-1] >= 5
        self.assertTrue(wait_for(enough, 5),
                        "with 3 busy children and min_spare=2 the pool "
                        "stayed at %d" % seen[-1])
        self.assertLessEqual(max(seen), 6, seen)

        for c in conns:
            c.expect("QUIT", 221)
            c.close()
        seen = []

        def trimmed():
            seen.append(self.count(d))
            return seen[-1] <= 3
        self.assertTrue(wait_for(trimmed, 15, 0.1),
                        "idle pool not trimmed to max_spare=3 in 15 s: %d"
                        % seen[-1])
        self.assertLessEqual(max(seen), 6, seen)
        self.assertGreaterEqual(min(seen), 2, seen)
        time.sleep(1.5)             # and it stays within the spares
        self.assertTrue(2 <= self.count(d) <= 3, self.count(d))


class TestMaxChildren(PoolTestCase):

    def test_connections_wait_in_backlog(self):
        d = self.start(min_spare=1, max_spare=2, max_children=3)
        counts = []

        def sample():
            counts.append(self.count(d))

        conns = [PendingClient(("127.0.0.1", d.port), self.transcript)
                 for _ in range(5)]
        for c in conns:
            self.addCleanup(c.close)
        for c in conns:
            c.finish_connect(T.IO_TIMEOUT)
        served = []

        def greet_some(pending, timeout, want=None):
            """Reads greetings that arrive within timeout seconds."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                sample()
                if want is not None and len(served) >= want:
                    return
                pend = [c for c in pending if c.greeting is None]
                if not pend:
                    return
                r, _, _ = select.select([c.sock for c in pend], [], [],
                                        0.05)
                for c in pend:
                    if c.sock in r:
                        try:
                            c.greeting = c.reply()
                        except (EOFError, OSError, T.LMTPError) as e:
                            c.greeting = (0, [repr(e)])
                        served.append(c)

        greet_some(conns, 3, want=3)
        greet_some(conns, 1)        # nobody else, even given time
        self.assertEqual(len(served), 3,
                         [c.greeting for c in served])
        for c in served:
            self.assertEqual(c.greeting[0], 220, c.greeting)
        self.assertLessEqual(max(counts), 3, counts)
        waiting = [c for c in conns if c.greeting is None]
        self.assertEqual(len(waiting), 2)
        for c in waiting:
            self.assertFalse(c.readable(), "waiting connection was closed")
        self.assertRegex(d.log(), r"busy.*max_children")

        # Each QUIT frees a child, which takes one waiting connection.
        order = list(served)
        done = []
        while order:
            c = order.pop(0)
            c.expect("LHLO client.test", 250)
            c.expect("QUIT", 221)
            self.assertTrue(c.at_eof(5), "not closed after QUIT")
            done.append(c)
            before = len(served)
            if len(served) < len(conns):
                greet_some(conns, 5, want=before + 1)
                self.assertEqual(len(served), before + 1,
                                 "no waiting connection served within 5 s "
                                 "of a QUIT")
                new = served[-1]
                self.assertEqual(new.greeting[0], 220, new.greeting)
                order.append(new)
        self.assertEqual(len(done), 5)
        for c in conns:
            self.assertEqual(c.greeting[0], 220, c.greeting)
        self.assertLessEqual(max(counts), 3, counts)


class TestMaxRequests(PoolTestCase):

    def test_children_retire(self):
        d = self.start(min_spare=1, max_spare=1, max_children=2,
                       max_requests=2)
        for i in range(8):
            c = self.tcp(d)
            self.addCleanup(c.close)
            self.assertEqual(c.greeting[0], 220, c.greeting)
            c.expect("LHLO client%d.test" % i, 250)
            c.expect("QUIT", 221)
            self.assertTrue(c.at_eof(5), "not closed after QUIT")
            c.close()
        served = collections.Counter(
            int(m) for m in re.findall(r"lmtpd\[(\d+)\]: connect from",
                                       d.log()))
        # 8 connections and start()'s readiness probe.
        self.assertGreaterEqual(sum(served.values()), 9, served)
        self.assertNotIn(d.proc.pid, served)
        self.assertLessEqual(max(served.values()), 2, served)
        self.assertGreaterEqual(len(served), 4, served)


class TestCrashBackoff(PoolTestCase):

    ROUNDS = 4

    def test_backoff_doubles(self):
        d = self.start(min_spare=1, max_spare=1, max_children=2)
        master = d.proc.pid
        # start()'s probe made a second spare; wait for the cull.
        self.assertTrue(wait_for(lambda: self.count(d) == 1, 5),
                        "pool not at one child: %r" % d.children())
        killed = []
        waits = []
        budget = time.monotonic() + 40
        for rnd in range(self.ROUNDS):
            kids = wait_for(lambda: [p for p in d.children()
                                     if p not in killed],
                            max(0, budget - time.monotonic()), 0.01)
            self.assertTrue(kids, "round %d: no new child (waits %r)"
                            % (rnd, waits))
            # All of them: a spare left alive would look like a respawn.
            for victim in kids:
                os.kill(victim, signal.SIGKILL)
            t0 = time.monotonic()
            killed.extend(kids)
            new = wait_for(lambda: [p for p in d.children()
                                    if p not in killed],
                           max(0, budget - time.monotonic()), 0.01)
            waits.append(time.monotonic() - t0)
            self.assertTrue(new, "round %d: no child after the kill "
                            "(waits %r)" % (rnd, waits))
        self.transcript.append("waits after each kill: %s"
                               % ", ".join("%.2f" % w for w in waits))
        # Lower bounds only: 1, 2, 4, 8 s, less a little for the clocks.
        for i, w in enumerate(waits):
            self.assertGreaterEqual(w, 0.9 * 2 ** i, waits)
        self.assertGreaterEqual(waits[-1], 1.5, waits)
        log = d.log()
        for p in killed:
            self.assertRegex(log, r"child %d killed by signal 9\b" % p)
        self.assertRegex(log, r"delaying new children")
        cpu = cpu_seconds(master)
        self.assertIsNotNone(cpu, "master gone")
        self.assertLess(cpu, 1.0, "master used %.2f s of CPU" % cpu)
        self.assertIsNone(d.proc.poll(), "master exited")
        c = self.open(d)
        c.expect("QUIT", 221)


    def test_no_backoff_for_children_killed_in_a_session(self):
        """A child that a client's session killed (young, but it served)
        is replaced at once: clients cannot empty the pool."""
        d = self.start(min_spare=1, max_spare=1, max_children=2)
        self.assertTrue(wait_for(lambda: self.count(d) == 1, 5),
                        "pool not at one child: %r" % d.children())
        for rnd in range(4):
            c = self.open(d)
            c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
            inode = T.server_socket_inode(d.port, c.local_port())
            busy = T.pid_holding_inode(d.children(), inode)
            self.assertIsNotNone(busy, "round %d: no child serves" % rnd)
            os.kill(busy, signal.SIGKILL)
            self.assertTrue(c.at_eof(5), "round %d: still open" % rnd)
            c.close()
            # The next client is greeted within a second.
            t0 = time.monotonic()
            c2 = T.Client(("127.0.0.1", d.port), self.transcript,
                          timeout=1.0)
            self.assertEqual(c2.greeting[0], 220)
            self.assertLess(time.monotonic() - t0, 1.0)
            c2.close()
        self.assertNotIn("delaying new children", d.log())


class TestGracefulStop(PoolTestCase):

    def test_sigterm_mid_transaction(self):
        d = self.start(min_spare=2, max_spare=3, max_children=6)
        rcpt = "carol@example.net"
        msg = T.sample_message(b"sigterm") + \
            b"".join(b"body line %04d\n" % i for i in range(200))
        lines = msg.splitlines(keepends=True)
        half = len(lines) // 2
        first, rest = b"".join(lines[:half]), b"".join(lines[half:])

        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        c.send(T.wire(first))
        time.sleep(0.3)             # let the child read the first half
        t0 = time.monotonic()
        os.kill(d.proc.pid, signal.SIGTERM)
        # The idle children leave at once; ours stays for its transaction.
        self.assertTrue(wait_for(lambda: self.count(d) == 1, 3),
                        "children after SIGTERM: %r" % d.children())
        self.assertIsNone(d.proc.poll(), "master left before its child")
        # Stopped means stopped: a new client is refused at once, not
        # queued on the busy child's copy of the listening socket.
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(3)
        try:
            probe.connect(("127.0.0.1", d.port))
            got = probe.recv(100)
            self.fail("connected during the stop, got %r" % got)
        except (ConnectionRefusedError, ConnectionResetError):
            pass
        except socket.timeout:
            self.fail("connection queued during the stop")
        finally:
            probe.close()
        c.send(T.wire(rest) + b".\r\n")
        code, lines_ = c.reply()
        self.assertEqual(code, 250, lines_)
        code, lines_ = c.reply()
        self.assertEqual(code, 421, lines_)
        self.assertEqual(T.esc_of(lines_), "4.3.2", lines_)
        self.assertTrue(c.at_eof(5), "not closed after 421")
        rc = d.proc.wait(timeout=T.SHUTDOWN_TIMEOUT + 5)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, T.SHUTDOWN_TIMEOUT,
                        "the master waited out shutdown_timeout")
        self.assertNotRegex(d.log(), re.compile(r"killing", re.I))
        self.assert_copy(d, rcpt, msg)


# ------------------------------------------------------------------- main


if __name__ == "__main__":
    sys.exit(T.run_tests())
