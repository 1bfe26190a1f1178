#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests against hostile clients:
  - a flood of 1,000 connections against a pool of max_children = 4: the
    pool stays within it, SIGHUP is honoured meanwhile, every connection
    the kernel accepted gets a 220 (then 221) or a 421, and SIGTERM with
    ~100 of them still open and idle exits 0 at once;
  - slowloris clients trickling a command line, the data after 354 or a
    BDAT chunk a byte at a time: command_timeout and data_timeout are
    deadlines, so they are cut off with 421 4.4.2 and nothing is kept;
  - garbage commands: 421 4.7.0 after max_bad_commands (default 20);
  - a client that sends nothing (421 4.4.2), and one that resets the
    connection mid-DATA (nothing in new/, tmp/ or the spool).
The flood's numbers (accepted, greeted, refused by the kernel, children
seen) are printed with the test's result.

Usage: python3 tests/integration/test_hostile.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py (Daemon, Client, LMTPDTestCase, the
/proc readers).  Every socket operation, loop and wait is bounded in
count and in time; every daemon is stopped by PID in the cleanup and every
socket closed.  Timing is asserted as lower bounds and generous upper
bounds only (the CI machine is small and shared).  Python 3 standard
library only; loopback only.
"""

import errno
import os
import re
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

MARGIN = 5.0            # seconds of slack on top of a configured timeout
FLOOD_N = 1000          # connections in the flood
FLOOD_KEEP = 100        # left open and idle for the SIGTERM
FLOOD_SERVE_TIME = 45   # seconds to serve the flood, at most
FLOOD_SETTLE_TIME = 15  # seconds for the kept ones to be established
FLOOD_BATCH = 100


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


def errname(err):
    return errno.errorcode.get(err, str(err))


def raise_nofile(want):
    """Raises RLIMIT_NOFILE towards want (up to the hard limit); returns
    the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            pass
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return want if soft == resource.RLIM_INFINITY else soft


def server_side_states(port):
    """{client port: TCP state} of the daemon's side of every loopback
    IPv4 connection to port, from /proc/net/tcp ("01" ESTABLISHED, "03"
    SYN_RECV: not yet accepted by the kernel, ...)."""
    out = {}
    try:
        with open("/proc/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return out
    for line in lines:
        fld = line.split()
        if int(fld[1].split(":")[1], 16) == port:
            out[int(fld[2].split(":")[1], 16)] = fld[3]
    return out


def flood_census(port):
    """(established on the daemon's side, SYN_SENT on the clients' side)
    among the loopback IPv4 connections to port."""
    est = syn_sent = 0
    try:
        with open("/proc/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return est, syn_sent
    for line in lines:
        fld = line.split()
        if int(fld[1].split(":")[1], 16) == port and fld[3] == "01":
            est += 1
        elif int(fld[2].split(":")[1], 16) == port and fld[3] == "02":
            syn_sent += 1
    return est, syn_sent


def message_fds(pids, d):
    """(pid, target) of every open file under d's spool or mail root held
    by pids: the message being received, in the spool (unnamed:
    "spool/#123 (deleted)") or in a Maildir's tmp/."""
    out = []
    for p in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % p)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (p, fd))
            except OSError:
                continue
            if target.startswith((d.spool + "/", d.mail + "/")):
                out.append((p, target))
    return out


class ChildSampler(threading.Thread):
    """Counts the pool's children every interval seconds, in a thread,
    until stop(); max_seen is the largest count.  The status process is
    left out (children_of() skips it by name, and any pid seen with its
    name is left out of every sample)."""

    def __init__(self, master, interval=0.05):
        super().__init__(daemon=True)
        self.master = master
        self.interval = interval
        self.halt = threading.Event()
        self.samples = []
        self.status_pids = set()

    def run(self):
        deadline = time.monotonic() + 300       # bounded even if forgotten
        while not self.halt.is_set() and time.monotonic() < deadline:
            kids = set(T.children_of(self.master, with_status=True))
            for p in kids:
                st = T.proc_stat(p)
                if st is not None and st[0] == T.STATUS_COMM:
                    self.status_pids.add(p)
            self.samples.append(kids)
            self.halt.wait(self.interval)

    def stop(self):
        self.halt.set()
        if self.is_alive():
            self.join(10)

    def counts(self):
        return [len(s - self.status_pids) for s in self.samples]

    def max_seen(self):
        return max(self.counts(), default=0)


# The states of one flood connection.
CONNECTING = "connecting"   # connect() in progress
OPEN = "open"               # established, nothing read yet
GREETED = "greeted"         # 220 read; kept idle (no QUIT sent)
QUIT_SENT = "quit sent"     # 220 read, QUIT sent
DONE = "done"               # 220, then 221 (or a 421: timeout, stop)
REFUSED = "421"             # 421 in place of the greeting
KERNEL = "kernel"           # connect failed, or reset before any byte
SILENT = "silent"           # closed (FIN) with no reply at all: a bug
BAD = "bad"                 # anything else: a bug

LIVE = (CONNECTING, OPEN, GREETED, QUIT_SENT)


class FloodConn:
    """One non-blocking connection of the flood, driven by poll()."""

    __slots__ = ("sock", "fd", "port", "state", "buf", "replies", "why",
                 "kept")

    def __init__(self, address):
        self.kept = False       # left open for the SIGTERM
        self.buf = b""
        self.replies = []
        self.why = ""
        self.port = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.fd = self.sock.fileno()
        self.sock.setblocking(False)
        err = self.sock.connect_ex(address)
        if err == 0:
            self.state = OPEN
        elif err == errno.EINPROGRESS:
            self.state = CONNECTING
        else:
            self.state = KERNEL
            self.why = "connect: " + errname(err)
        try:
            self.port = self.sock.getsockname()[1]
        except OSError:
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def finish(self, state, why=""):
        self.state = state
        if why:
            self.why = why
        self.close()

    def connected(self):
        """After POLLOUT while CONNECTING: the connect's outcome."""
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.finish(KERNEL, "connect: " + errname(err))
        else:
            self.state = OPEN

    def readable(self, serving):
        """Reads what there is and acts on each complete reply line."""
        try:
            data = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            if not self.replies and not self.buf:
                self.finish(KERNEL, "reset before any byte")
            else:
                self.finish(BAD, "reset after %r" % self.replies)
            return
        except OSError as e:
            self.finish(BAD, "recv: %s after %r" % (e, self.replies))
            return
        if not data:
            if not self.replies and not self.buf:
                self.finish(SILENT, "closed without any reply")
            else:
                self.finish(BAD, "closed after %r (+%r) without 221 or "
                            "421" % (self.replies, self.buf))
            return
        self.buf += data
        while b"\n" in self.buf and self.state in LIVE:
            raw, self.buf = self.buf.split(b"\n", 1)
            line = raw.decode("latin-1").rstrip("\r")
            if len(line) > 3 and line[3] == "-":
                continue        # a continuation: wait for the last line
            self.replies.append(line)
            self.on_reply(line, serving)

    def on_reply(self, line, serving):
        code = line[:3]
        if self.state == OPEN:
            if code == "220":
                self.state = GREETED
                if serving:
                    self.send_quit()
            elif code == "421":
                self.finish(REFUSED)
            else:
                self.finish(BAD, "greeting %r" % line)
        elif self.state in (GREETED, QUIT_SENT):
            if code == "221" and self.state == QUIT_SENT:
                self.finish(DONE)
            elif code == "421":
                self.finish(DONE)
            else:
                self.finish(BAD, "after the greeting: %r" % line)

    def send_quit(self):
        self.state = QUIT_SENT
        try:
            self.sock.send(b"QUIT\r\n")
        except OSError:
            pass        # the reply (a 421) or the EOF will tell


def esc_of_line(line):
    parts = line.split(" ", 2)
    return parts[1] if len(parts) > 1 else ""


# ------------------------------------------------------------------ tests

class HostileTestCase(T.LMTPDTestCase):
    daemon_opts = None      # each test starts its own daemon

    def start(self, **opts):
        return self.daemon(**opts).start()

    def note(self, text):
        """A line for the test output, and for the transcript."""
        self.transcript.append("# " + text)
        sys.stderr.write("\n    %s: %s" % (self.id().split(".")[-1], text))
        sys.stderr.flush()

    def trickle(self, c, data, interval, until):
        """Sends data one byte every interval seconds, never all of it
        (data is repeated as needed), until a reply line arrives, the
        connection closes or the monotonic clock reaches until.  Returns
        (what, when, bytes sent): what is the reply (code, lines), "EOF",
        or None when nothing came."""
        sent = 0
        next_send = time.monotonic()
        failed = None
        try:
            while True:
                now = time.monotonic()
                if now >= until:
                    return None, now, sent
                if now >= next_send and failed is None:
                    try:
                        c.sock.send(data[sent % len(data):
                                         sent % len(data) + 1])
                        sent += 1
                    except OSError as e:
                        failed = e
                        self.transcript.append("> (send: %s)" % e)
                    next_send += interval
                wake = min(until, next_send) if failed is None else until
                r, _, _ = select.select([c.sock], [], [],
                                        max(0.0, wake - time.monotonic()))
                if r:
                    when = time.monotonic()
                    try:
                        return c.reply(), when, sent
                    except (EOFError, ConnectionResetError):
                        return "EOF", when, sent
        finally:
            self.transcript.append("> (%d bytes trickled, one every %ss: "
                                   "%r...)" % (sent, interval, data[:24]))

    def assert_cut_off(self, what, when, t0, timeout, phase, t_first=None,
                       why=None):
        """what (from trickle) is 421 4.4.2, given at least 0.9 * timeout
        after t_first (default t0) and at most timeout + MARGIN seconds
        after t0."""
        held = when - t0
        name = "data_timeout" if phase == "data" else "command_timeout"
        self.assertIsNotNone(
            what, "a client trickling a byte at a time in the %s phase "
            "still held its child %.1f s after it began (%s is %d s): %s"
            % (phase, held, name, timeout, why or
               "%s must be a deadline for the whole %s, not idle time per "
               "read" % (name, "message data" if phase == "data" else
                         "command")))
        self.assertNotEqual(what, "EOF",
                            "closed without a reply after %.1f s" % held)
        code, lines = what
        self.assertEqual(code, 421, lines)
        self.assertEqual(T.esc_of(lines), "4.4.2", lines)
        early = when - (t0 if t_first is None else t_first)
        self.assertGreaterEqual(early, 0.9 * timeout,
                                "cut off after %.2f s, before %s = %d s"
                                % (early, name, timeout))
        self.assertLessEqual(held, timeout + MARGIN)

    def assert_nothing_delivered(self, d, rcpt):
        md = d.maildir(rcpt)
        self.assertEqual(T.maildir_files(md, "new"), [], "new/ not empty")
        self.assertEqual(T.maildir_files(md, "tmp"), [], "tmp/ not empty")
        self.assertEqual(os.listdir(d.spool), [], "spool not empty")
        held = wait_for(lambda: not message_fds(
            T.group_members(d.proc.pid), d), 5)
        self.assertTrue(held, "message file still open: %r" % message_fds(
            T.group_members(d.proc.pid), d))

    def assert_serves_again(self, d, rcpt, tag):
        """A new connection is served (by the one child, when
        max_children = 1) and its message is the only copy."""
        c = self.open(d)
        msg = T.sample_message(tag)
        _, final = self.transaction(c, [rcpt], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        c.expect("QUIT", 221)
        self.assert_copy(d, rcpt, msg)


ONE_CHILD = {"min_spare": 1, "max_spare": 1, "max_children": 1}


class TestFlood(HostileTestCase):

    def flood_size(self):
        soft = raise_nofile(FLOOD_N + 200)
        n = FLOOD_N if soft >= FLOOD_N + 100 else max(50, soft - 150)
        if n < FLOOD_N:
            self.note("RLIMIT_NOFILE is %d: the flood is scaled down to "
                      "%d connections" % (soft, n))
        return n

    def rcpt_after_reload(self, d, out):
        """In a thread: a connection made after the SIGHUP (over the Unix
        socket, so that it does not queue behind the flood) gives
        RCPT TO:<x@example.com> its reply."""
        log = []
        try:
            c = T.Client(d.sock_path, log, timeout=30)
            try:
                out["greeting"] = c.greeting
                c.cmd("LHLO client.test")
                c.cmd("MAIL FROM:<%s>" % T.SENDER)
                out["rcpt"] = c.cmd("RCPT TO:<x@example.com>")
                c.cmd("QUIT")
            finally:
                c.close()
        except Exception as e:      # reported by the test
            out["error"] = repr(e)
        out["log"] = log

    def rcpt_code(self, d, rcpt):
        c = self.unix(d)
        try:
            c.expect("LHLO client.test", 250)
            c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
            code, lines = c.cmd("RCPT TO:<%s>" % rcpt)
            c.cmd("QUIT")
            return code
        finally:
            c.close()

    def pump(self, poller, by_fd, serving, wait):
        """One poll() round over the live connections."""
        for fd, ev in poller.poll(int(wait * 1000)):
            c = by_fd.get(fd)
            if c is None:
                continue
            if c.state == CONNECTING:
                c.connected()
                if c.state == OPEN:
                    poller.modify(fd, select.POLLIN)
            elif c.state in LIVE:
                c.readable(serving)
            if c.state not in LIVE:
                poller.unregister(fd)
                del by_fd[fd]

    def test_flood(self):
        n = self.flood_size()
        keep = min(FLOOD_KEEP, n // 10)
        d = self.start(min_spare=1, max_spare=2, max_children=4,
                       command_timeout=5)
        master = d.proc.pid
        self.assertEqual(self.rcpt_code(d, "x@example.com"), 550)

        sampler = ChildSampler(master)
        sampler.start()
        self.addCleanup(sampler.stop)
        conns = []

        def close_all():
            for c in conns:
                c.close()
        self.addCleanup(close_all)

        # The flood, as fast as it goes.
        t_open = time.monotonic()
        for base in range(0, n, FLOOD_BATCH):
            for _ in range(min(FLOOD_BATCH, n - base)):
                conns.append(FloodConn(("127.0.0.1", d.port)))
        opened = time.monotonic() - t_open

        # While it is pending: SIGHUP adds example.com.
        d.opts["domains"] = ["example.org", "example.net", "example.com"]
        d.write_conf()
        os.kill(master, signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "configuration reloaded" in
                                 d.log(), 10),
                        "no \"configuration reloaded\" 10 s after SIGHUP")
        self.assertIsNone(d.proc.poll(), "master exited")
        time.sleep(1)           # pending a while longer: SYNs retry at 1 s
        pending = "%d established, %d SYN_SENT" % flood_census(d.port)
        after = {}
        checker = threading.Thread(target=self.rcpt_after_reload,
                                   args=(d, after), daemon=True)
        checker.start()
        self.addCleanup(checker.join, 35)
        self.assertLessEqual(sampler.max_seen(), 4, sampler.counts())

        # Serve it until FLOOD_KEEP are left, then let those settle.
        poller = select.poll()
        by_fd = {}
        for c in conns:
            if c.state == CONNECTING:
                poller.register(c.fd, select.POLLOUT)
                by_fd[c.fd] = c
            elif c.state == OPEN:
                poller.register(c.fd, select.POLLIN)
                by_fd[c.fd] = c
        serving = True
        t_serve = time.monotonic()
        deadline = t_serve + FLOOD_SERVE_TIME
        settled = False
        next_check = 0.0
        while time.monotonic() < deadline:
            if serving and len(by_fd) <= keep and not checker.is_alive():
                serving = False
                deadline = min(deadline,
                               time.monotonic() + FLOOD_SETTLE_TIME)
            if not serving and time.monotonic() >= next_check:
                # Settled: each one left is greeted or established on
                # the daemon's side (queued), none is still connecting
                # or waiting for its 221.
                states = server_side_states(d.port)
                settled = all(c.state == GREETED or
                              (c.state == OPEN and
                               states.get(c.port) == "01")
                              for c in by_fd.values())
                if settled:
                    break
                next_check = time.monotonic() + 0.2
            self.pump(poller, by_fd, serving, 0.1)
        serve_time = time.monotonic() - t_serve
        self.assertFalse(checker.is_alive(), "the connection after the "
                         "reload was not served in %d s" % FLOOD_SERVE_TIME)
        self.assertNotIn("error", after, after)
        self.assertEqual(after["rcpt"][0], 250,
                         "RCPT in the domain added by SIGHUP: %r\n%s"
                         % (after["rcpt"], "\n".join(after["log"])))
        self.assertFalse(serving, "%d connections still open after %d s: "
                         "%r" % (len(by_fd), FLOOD_SERVE_TIME,
                                 [c.state for c in by_fd.values()][:20]))

        # Any left not established at the kernel's level are the kernel's.
        if not settled:
            states = server_side_states(d.port)
            for c in list(by_fd.values()):
                if c.state == CONNECTING or (c.state == OPEN and
                                             states.get(c.port) != "01"):
                    c.finish(KERNEL, "not accepted by the kernel in %d s "
                             "(%s)" % (FLOOD_SETTLE_TIME,
                                       states.get(c.port, "no socket")))
                    poller.unregister(c.fd)
                    del by_fd[c.fd]
        kept = list(by_fd.values())
        for c in kept:
            c.kept = True
        kept_greeted = sum(1 for c in kept if c.state == GREETED)

        # SIGTERM with those still open and idle.
        t_term = time.monotonic()
        os.kill(master, signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=T.SHUTDOWN_TIMEOUT + MARGIN)
        except Exception:
            rc = None
        exited = time.monotonic() - t_term
        end = time.monotonic() + 2 * MARGIN
        while by_fd and time.monotonic() < end:
            self.pump(poller, by_fd, False, 0.1)
        resolved = time.monotonic() - t_term
        sampler.stop()

        # The numbers.
        tally = {}
        for c in conns:
            tally[c.state] = tally.get(c.state, 0) + 1
        kernel = [c for c in conns if c.state == KERNEL and not c.kept]
        why = {}
        for c in kernel:
            why[c.why] = why.get(c.why, 0) + 1
        greeted = sum(1 for c in conns if c.replies and
                      c.replies[0].startswith("220"))
        accepted = n - len(kernel)
        kept_stop = {}
        for c in kept:
            if c.state == KERNEL:
                k = "reset"
            elif c.replies and not c.replies[-1].startswith("220"):
                k = c.replies[-1][:9]
            else:
                k = c.why or c.state
            kept_stop[k] = kept_stop.get(k, 0) + 1
        self.note("flood of %d opened in %.2f s, pending 1 s later: %s, "
                  "served in %.1f s: "
                  "%d accepted, %d greeted with 220, %d refused with 421, "
                  "%d refused by the kernel %r; max %d children seen in "
                  "%d samples; %d left open at SIGTERM (%d greeted): %r; "
                  "master exited %s in %.2f s, all resolved in %.2f s"
                  % (n, opened, pending, serve_time, accepted, greeted,
                     tally.get(REFUSED, 0), len(kernel), why,
                     sampler.max_seen(), len(sampler.samples), len(kept),
                     kept_greeted, kept_stop, rc, exited, resolved))

        self.assertLessEqual(sampler.max_seen(), 4,
                             "more than max_children = 4 children")
        self.assertRegex(d.log(), r"busy.*max_children",
                         "the flood did not fill the pool")
        self.assertEqual(rc, 0, "master: exit status %r %.1f s after "
                         "SIGTERM" % (rc, exited))
        self.assertLess(exited, T.SHUTDOWN_TIMEOUT + 3)
        self.assertNotRegex(d.log(), re.compile(r"killing", re.I))
        self.assertEqual(by_fd, {}, "%d connections neither answered nor "
                         "reset %.0f s after SIGTERM: %r"
                         % (len(by_fd), resolved,
                            [(c.state, c.replies) for c in
                             by_fd.values()][:10]))
        bad = [(c.state, c.why, c.replies) for c in conns
               if c.state in (SILENT, BAD)]
        self.assertEqual(bad, [], "%d connections broken, e.g. %r"
                         % (len(bad), bad[:10]))
        for c in conns:
            if c.state == DONE:
                self.assertTrue(c.replies[0].startswith("220"), c.replies)
                last = c.replies[-1]
                self.assertTrue(last.startswith("221") or
                                last.startswith("421"), c.replies)
        for c in kept:
            if c.state == DONE and c.replies[-1].startswith("421"):
                self.assertIn(esc_of_line(c.replies[-1]),
                              ("4.3.2", "4.4.2"), c.replies)
        self.assertGreater(greeted, 0)
        self.assertNotRegex(d.log(), re.compile(
            r"panic|abort|assert|sanitizer|segmentation|core dumped|"
            r"signal (6|11)\b", re.I))


class TestSlowloris(HostileTestCase):

    def test_command_trickle(self):
        """A command line that never completes, one byte a second, is cut
        off command_timeout after the greeting (its first byte came at
        once): a command must be complete within command_timeout."""
        timeout = 2
        d = self.start(command_timeout=timeout, **ONE_CHILD)
        c = self.tcp(d)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        t0 = time.monotonic()
        what, when, sent = self.trickle(c, b"NOOP" + b"x" * 500, 1.0,
                                        t0 + timeout + MARGIN)
        self.note("%s after %.2f s and %d bytes" % (
            what if what is None or what == "EOF" else what[1][-1],
            when - t0, sent))
        self.assert_cut_off(what, when, t0, timeout, "command")
        self.assertTrue(c.at_eof(MARGIN), "not closed after the 421")
        c.close()
        c2 = self.open(d)
        c2.expect("NOOP", 250)
        c2.expect("QUIT", 221)

    def test_data_trickle(self):
        """After 354, a byte every 0.5 s: cut off data_timeout after the
        354, nothing delivered, and the one child serves again."""
        timeout = 3
        rcpt = "alice@example.org"
        d = self.start(data_timeout=timeout, **ONE_CHILD)
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        t0 = time.monotonic()
        what, when, sent = self.trickle(
            c, b"Subject: slow\r\n\r\n" + b"a slow body line\r\n" * 40,
            0.5, t0 + timeout + MARGIN)
        self.note("%s after %.2f s and %d bytes" % (
            what if what is None or what == "EOF" else what[1][-1],
            when - t0, sent))
        self.assert_cut_off(what, when, t0, timeout, "data")
        self.assertTrue(c.at_eof(MARGIN), "not closed after the 421")
        c.close()
        self.assert_nothing_delivered(d, rcpt)
        self.assert_serves_again(d, rcpt, b"after-slowloris")

    def test_data_flood_meets_the_deadline(self):
        """After 354, data as fast as the socket takes it, never a pause:
        still cut off at data_timeout, not held for as long as it sends."""
        import select
        timeout = 2
        rcpt = "alice@example.org"
        d = self.start(data_timeout=timeout, max_message_size=0,
                       **ONE_CHILD)
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        t0 = time.monotonic()
        chunk = b"x" * 900 + b"\r\n"
        block = chunk * 64
        got = b""
        c.sock.setblocking(False)
        deadline = t0 + timeout + MARGIN
        while time.monotonic() < deadline and b"\r\n" not in got:
            r, w, _ = select.select([c.sock], [c.sock], [], 0.5)
            if r:
                try:
                    data = c.sock.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    break
                if not data:
                    break
                got += data
            elif w:
                try:
                    c.sock.send(block)
                except (BlockingIOError, BrokenPipeError,
                        ConnectionResetError):
                    pass
        when = time.monotonic()
        self.note("after %.2f s: %r" % (when - t0, got[:60]))
        self.assertTrue(got.startswith(b"421 4.4.2 "),
                        "still taking data %.1f s after the 354 "
                        "(data_timeout %d s): %r" % (when - t0, timeout, got))
        self.assertGreaterEqual(when - t0, 0.9 * timeout)
        c.close()
        self.assert_nothing_delivered(d, rcpt)
        self.assert_serves_again(d, rcpt, b"after-data-flood")

    def test_bdat_trickle(self):
        """A BDAT chunk trickled a byte every 0.5 s, its BDAT line read
        with the end of the previous chunk: cut off data_timeout after
        the BDAT (the chunk's deadline is data_timeout, whatever arrived
        in the same read)."""
        timeout = 3
        rcpt = "carol@example.net"
        d = self.start(data_timeout=timeout, **ONE_CHILD)
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        t_first = time.monotonic()
        c.send(b"BDAT 10\r\n01234")
        time.sleep(0.3)         # two reads: the chunk ends in the second
        c.send(b"56789BDAT 1000 LAST\r\nSub")
        t0 = time.monotonic()
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)      # the first chunk
        what, when, sent = self.trickle(
            c, b"ject: slow\r\n\r\n" + b"a slow body line\r\n" * 60,
            0.5, t0 + timeout + MARGIN)
        self.note("%s after %.2f s and %d bytes" % (
            what if what is None or what == "EOF" else what[1][-1],
            when - t0, sent))
        self.assert_cut_off(
            what, when, t0, timeout, "data", t_first,
            why="the chunk's BDAT line came in the read that ended the "
            "previous chunk, and its octets got command_timeout (300 s) "
            "in place of data_timeout")
        self.assertTrue(c.at_eof(MARGIN), "not closed after the 421")
        c.close()
        self.assert_nothing_delivered(d, rcpt)
        self.assert_serves_again(d, rcpt, b"after-bdat-slowloris")


class TestBadCommands(HostileTestCase):

    def test_garbage_is_cut_off(self):
        """25 garbage lines: each of the first 20 gets a 5xx, then 421
        4.7.0 and a close by the 21st or 22nd, and the log says why."""
        d = self.start(**ONE_CHILD)
        c = self.tcp(d)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        garbage = [b"XYZZY%d", b"\x7fELF\x02\x01\x01 %d",
                   b"GET /%d HTTP/1.0", b"%d ~!@#$%%^&*()_+",
                   b"\xff\xfe\xfd\xfc junk %d"]
        codes = []
        closed_at = None
        sent = 0
        try:
            while sent < 25 and (not codes or codes[-1][0] != 421):
                c.send(garbage[sent % len(garbage)] % sent + b"\r\n")
                sent += 1
                code, lines = c.reply()
                codes.append((code, T.esc_of(lines)))
                # From the 20th on, a 421 may follow the 5xx: take it
                # before sending into a closing connection.
                if sent >= 20 and code != 421 and (
                        b"\n" in c.buf or
                        select.select([c.sock], [], [], 0.5)[0]):
                    code, lines = c.reply()
                    codes.append((code, T.esc_of(lines)))
        except (EOFError, OSError) as e:
            closed_at = sent
            self.transcript.append("# after line %d: %r" % (sent, e))
        self.note("%d lines sent, replies: %s" % (sent, " ".join(
            "%d" % code if code == 500 else "%d %s" % (code, esc)
            for code, esc in codes)))
        self.assertGreaterEqual(len(codes), 20, codes)
        for i, (code, esc) in enumerate(codes[:20]):
            self.assertTrue(500 <= code <= 504, "line %d: %r" % (i + 1,
                                                                 codes))
        self.assertIsNone(closed_at, "closed without a 421 at line %s: %r"
                          % (closed_at, codes))
        self.assertEqual(codes[-1], (421, "4.7.0"),
                         "no 421 4.7.0 by line 25: %r" % codes)
        self.assertIn(len(codes), (21, 22), codes)
        self.assertLessEqual(sent, 22, "lines sent before the 421")
        for code, _ in codes[:-1]:
            self.assertTrue(500 <= code <= 504, codes)
        self.assertTrue(c.at_eof(MARGIN), "not closed after 421 4.7.0")
        pat = re.compile(r"^(?!.*[<>] \d{3}[ -]).*(too many (bad |invalid "
                         r"|unknown )?(commands|errors)|max_bad_commands|"
                         r"(bad|invalid|unknown) commands)", re.I | re.M)
        self.assertTrue(wait_for(lambda: pat.search(d.log()), 5),
                        "no log line says why the client was cut off "
                        "(\"too many errors\" / max_bad_commands)")
        c2 = self.open(d)
        c2.expect("NOOP", 250)


class TestSilentAndVanishing(HostileTestCase):

    def test_silent_client_cut_off(self):
        timeout = 2
        d = self.start(command_timeout=timeout, **ONE_CHILD)
        c = self.tcp(d)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        t0 = time.monotonic()
        c.sock.settimeout(timeout + MARGIN)
        try:
            what = c.reply()
        except socket.timeout:
            what = None
        except (EOFError, ConnectionResetError):
            what = "EOF"
        when = time.monotonic()
        self.assertIsNotNone(what, "a silent client still held its child "
                             "%.1f s after the greeting" % (when - t0))
        self.assertNotEqual(what, "EOF", "closed without a reply")
        code, lines = what
        self.assertEqual(code, 421, lines)
        self.assertEqual(T.esc_of(lines), "4.4.2", lines)
        self.assertGreaterEqual(when - t0, 0.9 * timeout)
        self.assertLessEqual(when - t0, timeout + MARGIN)
        self.assertTrue(c.at_eof(MARGIN), "not closed after the 421")
        c.close()
        c2 = self.open(d)
        c2.expect("NOOP", 250)

    def test_reset_mid_data(self):
        """A client that resets the connection mid-DATA leaves nothing in
        new/, tmp/ or the spool, and the one child serves again."""
        rcpt = "bob@example.org"
        d = self.start(**ONE_CHILD)
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        c.send(b"Subject: vanishing\r\n\r\n" + b"partial line\r\n" * 2000)
        # The child has the message file open: this is mid-DATA indeed.
        self.assertTrue(wait_for(lambda: message_fds(d.children(), d), 5),
                        "no message file open after 28 KB")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        c.close()               # RST
        self.transcript.append("> (RST)")
        self.assertTrue(wait_for(lambda: re.search(
            r"lost connection|reset by peer", d.log()), 5),
            "the reset was not noticed in 5 s")
        self.assert_nothing_delivered(d, rcpt)
        self.assert_serves_again(d, rcpt, b"after-reset")


# ------------------------------------------------------------------- main


if __name__ == "__main__":
    sys.exit(T.run_tests())
