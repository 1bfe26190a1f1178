#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for lmtpd as a service: an IPv6 listener, detaching
without -f, the Postfix-style log lines of a transaction, SIGINT, the
command-line options, and `make install`.

Usage: python3 tests/integration/test_service.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py (Daemon, Client, the /proc readers).
Every socket operation and every wait is bounded; every daemon is stopped
by PID in the cleanup.  The detached daemon is not our child: it is found
by its pid file or by its exact command line (which names a unique
temporary config) and stopped by PID, SIGTERM then SIGKILL.  `make
install` runs in a private copy of the source tree, so the shared build
(./lmtpd, etc/lmtpd.service, .build-flags) is never rebuilt with another
PREFIX.  Python 3 standard library only.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EX_USAGE = 64
DETACH_TIMEOUT = 5.0        # seconds for the launcher to exit


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


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def gone(pid):
    """True when pid has exited (no such process, or a zombie: the
    detached master is not our child, and whoever reaps it may be slow)."""
    st = T.proc_stat(pid)
    return st is None or st[1] == "Z"


def pids_with_cmdline(argv):
    """Live processes whose command line is exactly argv."""
    want = ("\0".join(argv) + "\0").encode()
    out = []
    for p in T.all_pids():
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                if f.read() == want and not gone(p):
                    out.append(p)
        except OSError:
            pass
    return out


def read_pid_file(path):
    """The pid in path once the file is complete, else None."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    if not text.endswith("\n") or not text.strip().isdigit():
        return None
    return int(text)


def greets(port):
    """True when 127.0.0.1:port answers 220 ... LMTP."""
    try:
        c = T.Client(("127.0.0.1", port), [], timeout=2)
    except OSError:
        return False
    try:
        code, lines = c.greeting
        ok = code == 220 and "LMTP" in lines[0]
        if ok:
            c.cmd("QUIT")
        return ok
    except (OSError, EOFError, T.LMTPError):
        return False
    finally:
        c.close()


def free_port6():
    """A free TCP port on ::1; OSError when ::1 cannot be bound."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.bind(("::1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def log_lines(text):
    """[(pid, message)] of the "lmtpd[pid]: message" lines of a log."""
    out = []
    for ln in text.splitlines():
        m = re.match(r"lmtpd\[(\d+)\]: (.*)$", ln)
        if m:
            out.append((int(m.group(1)), m.group(2)))
    return out


class Client6(T.Client):
    """A T.Client over IPv6."""

    def __init__(self, address, transcript, timeout=T.IO_TIMEOUT):
        self.t = transcript
        self.buf = b""
        self.greeting = None
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.greeting = self.reply()


class Daemon6(T.Daemon):
    """A T.Daemon that also listens on inet:[::1]:port6."""

    port6 = None

    def render(self, extra=""):
        first, rest = super().render(extra).split("\n", 1)
        assert first.startswith("listen = {") and first.endswith("}"), first
        return first[:-1] + ', "inet:[::1]:%d"}\n' % self.port6 + rest

    def pick_ports(self):
        super().pick_ports()
        self.port6 = free_port6()


class ServiceTestCase(T.LMTPDTestCase):
    daemon_opts = None      # each test starts its own daemon

    def deliver(self, c, rcpt, tag):
        msg = T.sample_message(tag)
        _, final = self.transaction(c, [rcpt], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        c.expect("QUIT", 221)
        return msg


# ------------------------------------------------------------------ tests

class TestIPv6(ServiceTestCase):

    def test_delivery_over_ipv6(self):
        try:
            free_port6()
        except OSError as e:
            loud_skip(self, "Python cannot bind [::1] on this host (%s): "
                      "no IPv6 loopback to test on" % e)
        d = Daemon6(self)
        self.daemons.append(d)
        d.start()                       # answered on 127.0.0.1 too
        c = Client6(("::1", d.port6, 0, 0), self.transcript)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        self.assertIn("LMTP", c.greeting[1][0])
        c.expect("LHLO client6.test", 250)
        msg = self.deliver(c, "alice@example.org", b"ipv6")
        self.assert_copy(d, "alice@example.org", msg)
        self.assertTrue(wait_for(lambda: "connect from [::1]" in d.log(),
                                 5), "no \"connect from [::1]\" logged")
        # And the IPv4 listener of the same daemon still delivers.
        c4 = self.open(d)
        msg4 = self.deliver(c4, "bob@example.org", b"ipv4")
        self.assert_copy(d, "bob@example.org", msg4)


class TestDetach(ServiceTestCase):

    def stop_detached(self, argv, launchers):
        """Cleanup: stops by PID whatever runs with exactly argv (the
        master and its children share it: they do not exec)."""
        pids = pids_with_cmdline(argv)
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_for(lambda: all(gone(p) for p in pids),
                 T.SHUTDOWN_TIMEOUT + 2)
        for p in pids_with_cmdline(argv):
            for q in [p] + T.group_members(p):
                try:
                    os.kill(q, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        wait_for(lambda: not pids_with_cmdline(argv), 5)
        for p in launchers:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)

    def test_detaches_and_stops(self):
        d = self.daemon(log_target="syslog")
        argv = [T.LMTPD, "-c", d.conf_path]
        launchers = []
        self.addCleanup(self.stop_detached, argv, launchers)
        out_path = os.path.join(d.dir, "launcher.out")
        for attempt in range(3):
            d.port = T.free_port()
            d.write_conf()
            with open(out_path, "ab") as out:
                # Our own session, on purpose: only setsid() can leave it.
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=out)
            launchers.append(p)
            try:
                rc = p.wait(timeout=DETACH_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail("lmtpd without -f still in the foreground after "
                          "%ss" % DETACH_TIMEOUT)
            if rc != 69:            # EX_UNAVAILABLE: the port was taken
                break
        with open(out_path, "rb") as f:
            out_text = f.read().decode("utf-8", "replace")
        self.transcript.append("launcher output: %r" % out_text)
        self.assertEqual(rc, 0, out_text)

        master = wait_for(lambda: read_pid_file(d.pid_path), 5)
        self.assertIsNotNone(master, "no pid in %s within 5 s"
                             % d.pid_path)
        self.assertNotEqual(master, p.pid, "the pid file names the "
                            "launcher, which has exited")
        self.assertFalse(gone(master), "pid %d from the pid file is not "
                         "running" % master)
        self.assertTrue(wait_for(lambda: greets(d.port), T.START_TIMEOUT),
                        "no 220 on 127.0.0.1:%d" % d.port)
        self.assertTrue(wait_for(lambda: T.children_of(master), 5),
                        "pid %d has no children: not the master" % master)
        self.assertNotEqual(os.getsid(master), os.getsid(0),
                            "still in the launcher's session: no setsid()")
        self.assertEqual(os.readlink("/proc/%d/cwd" % master), "/")
        for fd in (0, 1, 2):
            self.assertEqual(os.readlink("/proc/%d/fd/%d" % (master, fd)),
                             "/dev/null", "fd %d" % fd)

        c = self.open(d)
        msg = self.deliver(c, "alice@example.org", b"detached")
        self.assert_copy(d, "alice@example.org", msg)
        c.close()

        self.assertTrue(os.path.exists(d.sock_path))
        t0 = time.monotonic()
        os.kill(master, signal.SIGTERM)
        stopped = wait_for(lambda: gone(master) and
                           not T.group_members(master),
                           T.SHUTDOWN_TIMEOUT)
        self.assertTrue(stopped, "master %d or its children still there "
                        "%.1f s after SIGTERM" % (master,
                                                  time.monotonic() - t0))
        self.assertFalse(os.path.lexists(d.sock_path),
                         "unix socket left behind")


class TestLogLines(ServiceTestCase):

    def test_transaction_log(self):
        d = self.daemon()
        good, bad, unknown = ("alice@example.org", "bob@example.org",
                              "x@nowhere.test")
        md = d.maildir(bad)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), mode=0o700)
        d.chown_tree(os.path.join(d.mail, "example.org"))
        tmp = os.path.join(md, "tmp")
        if T.IS_ROOT:
            os.chown(tmp, 0, 0)
        os.chmod(tmp, 0o500)
        d.start()
        uids = {T.proc_uid(p) for p in d.children()}
        if 0 in uids:
            loud_skip(self, "children run as root: permissions do not "
                      "bind, no delivery can be made to fail")
        c = self.open(d)
        msg = T.sample_message(b"logged")
        rr, final = self.transaction(c, [good, unknown, bad], msg)
        self.assertEqual([r[0] for r in rr], [250, 550, 250], rr)
        self.assertEqual([f[0] for f in final], [250, 451], final)
        self.assertEqual(T.esc_of(final[1][1]), "4.3.0", final)
        c.expect("QUIT", 221)
        self.assertTrue(c.at_eof(5), "not closed after QUIT")
        self.assert_copy(d, good, msg)
        names = T.maildir_files(d.maildir(good))
        delivered = os.path.join(d.maildir(good), "new", names[0])

        # The transaction's lines, by the child that served it.
        pat_from = re.compile(r"(\w+): from=<%s>, size=(\d+), nrcpt=(\d+)$"
                              % re.escape(T.SENDER))
        self.assertTrue(wait_for(
            lambda: any(pat_from.match(m) for _, m in log_lines(d.log())),
            5), "no \"from=<%s>, size=..., nrcpt=...\" line" % T.SENDER)
        lines = log_lines(d.log())
        (idx, (child, m_from)), = [(i, x) for i, x in enumerate(lines)
                                   if pat_from.match(x[1])]

        def last_disconnect():
            return [i for i, (pid, m) in enumerate(log_lines(d.log()))
                    if pid == child and
                    m == "disconnect from [127.0.0.1]" and i > idx]
        self.assertTrue(wait_for(last_disconnect, 5),
                        "no \"disconnect from [127.0.0.1]\" after the "
                        "transaction")
        lines = log_lines(d.log())
        mine = [(i, m) for i, (pid, m) in enumerate(lines) if pid == child]
        connects = [i for i, m in mine
                    if m == "connect from [127.0.0.1]" and i < idx]
        self.assertTrue(connects, "no \"connect from [127.0.0.1]\" before "
                        "the transaction")
        connect = connects[-1]
        disconnect = [i for i, m in mine
                      if m == "disconnect from [127.0.0.1]" and i > idx][0]

        qid, size, nrcpt = pat_from.match(m_from).groups()
        self.assertRegex(qid, r"^[0-9A-Za-z]+$")
        self.assertEqual(int(nrcpt), 2, m_from)
        self.assertEqual(int(size), len(msg),
                         "from= size is not the message size: " + m_from)

        def one(pattern, what):
            hits = [(i, re.match(pattern, m)) for i, m in mine
                    if re.match(pattern, m)]
            self.assertEqual(len(hits), 1, "%s: %d lines matching %r"
                             % (what, len(hits), pattern))
            i, match = hits[0]
            self.assertTrue(connect < i < disconnect,
                            "%s logged outside its connection" % what)
            return match

        ok = one(r"(\w+): to=<alice@example\.org>, relay=local, "
                 r"delay=\d+\.\d\d, size=(\d+), dsn=2\.0\.0, "
                 r"status=sent \((new/[^)]+)\)$", "delivered")
        self.assertEqual(int(ok.group(2)), os.stat(delivered).st_size,
                         "logged size is not the delivered file's size")
        self.assertEqual(ok.group(3), "new/" + names[0])
        deferred = one(r"(\w+): to=<bob@example\.org>, relay=local, "
                       r"delay=\d+\.\d\d, size=\d+, dsn=4\.3\.0, "
                       r"status=deferred \((.+)\)$", "deferred")
        self.assertTrue(deferred.group(2).strip(), "no reason given")
        reject = one(r"(\w+): reject: RCPT from \[127\.0\.0\.1\]: "
                     r"550 5\.1\.2 .*to=<x@nowhere\.test>", "reject")
        self.assertEqual({ok.group(1), deferred.group(1), reject.group(1)},
                         {qid}, "the transaction's lines differ in QID")
        # Nothing else of this transaction under another id.
        for i, m in mine:
            if connect < i < disconnect and re.match(r"\w+: ", m) and \
                    ("to=<" in m or "from=<" in m):
                self.assertTrue(m.startswith(qid + ": "), m)


class TestSigint(ServiceTestCase):

    def test_sigint_clean_exit(self):
        d = self.daemon().start()
        c = self.open(d)
        self.assertTrue(os.path.exists(d.sock_path))
        t0 = time.monotonic()
        os.kill(d.proc.pid, signal.SIGINT)
        code, lines = c.reply()
        self.assertEqual(code, 421, lines)
        self.assertEqual(T.esc_of(lines), "4.3.2", lines)
        self.assertTrue(c.at_eof(), "not closed after 421")
        try:
            rc = d.proc.wait(timeout=T.SHUTDOWN_TIMEOUT + 1)
        except subprocess.TimeoutExpired:
            self.fail("still running %d s after SIGINT"
                      % (T.SHUTDOWN_TIMEOUT + 1))
        self.assertEqual(rc, 0, "exit status after SIGINT")
        self.assertLess(time.monotonic() - t0, T.SHUTDOWN_TIMEOUT + 1)
        self.assertFalse(os.path.lexists(d.sock_path),
                         "unix socket left behind")
        self.assertEqual(T.group_members(d.proc.pid), [], "children left")
        # A stop is routine: no child complains about its listener.
        self.assertNotIn("accept:", d.log())


class TestOptions(ServiceTestCase):

    def run_lmtpd(self, *args):
        r = subprocess.run([T.LMTPD] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        self.transcript.append("$ lmtpd %s -> %d\nstdout: %r\nstderr: %r"
                               % (" ".join(args), r.returncode, out, err))
        return r.returncode, out, err

    def test_config_check_confirms(self):
        d = self.daemon()
        d.port = T.free_port()
        d.write_conf()
        rc, out, err = self.run_lmtpd("-t", "-c", d.conf_path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out + err, re.compile(r"\bOK\b", re.I),
                         "-t printed no confirmation")
        # It only checked: nothing listens, no pid file.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), 1).close()
        self.assertFalse(os.path.lexists(d.sock_path))
        self.assertFalse(os.path.exists(d.pid_path))

    def test_version(self):
        rc, out, err = self.run_lmtpd("-V")
        self.assertEqual(rc, 0, err)
        m = re.match(r"lmtpd (\d+\.\d+(\.\d+)?\S*)\n$", out)
        self.assertIsNotNone(m, "-V printed %r" % out)
        try:
            with open(os.path.join(TOP, "configure.ac")) as f:
                ac = re.search(r"AC_INIT\(\[lmtpd\],\s*\[([^]]+)\]",
                               f.read())
        except OSError:
            ac = None
        if ac is not None:
            self.assertEqual(m.group(1), ac.group(1),
                             "-V differs from configure.ac's AC_INIT")

    def test_unknown_option(self):
        rc, out, err = self.run_lmtpd("-Z")
        self.assertEqual(rc, EX_USAGE, "exit status for -Z")
        self.assertRegex(err, re.compile(r"^usage: lmtpd ", re.M),
                         "no usage on stderr")
        self.assertEqual(out, "", "usage belongs on stderr")


class UnixReadyDaemon(T.Daemon):
    """A T.Daemon that counts as up once its Unix socket greets (its TCP
    listener may refuse us on purpose)."""

    def wait_ready(self):
        deadline = time.monotonic() + T.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with status %d" % self.proc.returncode
            try:
                c = T.Client(self.sock_path, [], timeout=2)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                if c.greeting[0] == 220:
                    return True, ""
            finally:
                c.close()
        return False, "no greeting on %s" % self.sock_path


class VerboseDaemon(T.Daemon):
    def spawn(self, args=("-f",)):
        return super().spawn(tuple(args) + ("-v",))


class TestProtocolTrace(ServiceTestCase):

    def test_v_traces_commands_and_replies_not_data(self):
        d = VerboseDaemon(self)
        self.daemons.append(d)
        d.start()
        c = self.open(d)
        msg = self.deliver(c, "alice@example.org", b"traced")
        self.assert_copy(d, "alice@example.org", msg)
        self.assertTrue(wait_for(lambda: "> 221 " in d.log(), 5), d.log())
        log = d.log()
        for want in ("[127.0.0.1] < LHLO client.test",
                     "[127.0.0.1] < MAIL FROM:<%s>" % T.SENDER,
                     "[127.0.0.1] > 250 2.1.0 sender ok",
                     "[127.0.0.1] < RCPT TO:<alice@example.org>",
                     "[127.0.0.1] < DATA",
                     "[127.0.0.1] > 354 ",
                     "[127.0.0.1] > 250-PIPELINING",
                     "[127.0.0.1] < QUIT"):
            self.assertIn(want, log)
        self.assertNotIn("traced", log.split("< DATA", 1)[1].split(
            "> 250 2.0.0", 1)[0], "message data in the trace")

    def test_no_trace_without_v(self):
        d = self.daemon().start()
        c = self.open(d)
        self.deliver(c, "alice@example.org", b"quiet")
        self.assertTrue(wait_for(lambda: "disconnect from" in d.log(), 5))
        self.assertNotIn("< MAIL FROM", d.log())


class TestJsonLog(ServiceTestCase):

    def test_every_line_is_a_json_object(self):
        import json
        d = self.daemon(log_format="json").start()
        c = self.open(d)
        msg = self.deliver(c, "alice@example.org", b"json")
        self.assert_copy(d, "alice@example.org", msg)
        self.assertTrue(wait_for(lambda: "disconnect from" in d.log(), 5))
        events = [json.loads(line) for line in d.log().splitlines()
                  if line.strip()]
        for e in events:
            self.assertEqual(e["ident"], "lmtpd", e)
            self.assertIsInstance(e["pid"], int, e)
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")
        sent = [e for e in events if e.get("status") == "sent"]
        self.assertEqual(len(sent), 1, events)
        e = sent[0]
        self.assertEqual(e["to"], "alice@example.org")
        self.assertEqual(e["dsn"], "2.0.0")
        self.assertEqual(e["relay"], "local")
        self.assertIsInstance(e["size"], int)
        self.assertIsInstance(e["delay"], float)
        new = os.path.join(d.maildir("alice@example.org"), "new")
        name = os.listdir(new)[0]
        self.assertEqual(e["detail"], "new/" + name)
        self.assertEqual(e["size"], os.path.getsize(os.path.join(new, name)))
        frm = [x for x in events if "nrcpt" in x]
        self.assertEqual(len(frm), 1, events)
        self.assertEqual(frm[0]["queue_id"], e["queue_id"])
        self.assertEqual(frm[0]["from"], T.SENDER)
        self.assertTrue(any(x.get("msg", "").startswith("connect from")
                            for x in events))


class TestPidFile(ServiceTestCase):

    def test_foreground_survives_unwritable_pid_file(self):
        d = self.daemon(pid_file="/nonexistent-lmtpd-dir/lmtpd.pid").start()
        c = self.open(d)
        msg = self.deliver(c, "alice@example.org", b"nopid")
        self.assert_copy(d, "alice@example.org", msg)
        self.assertIn("pid file /nonexistent-lmtpd-dir/lmtpd.pid", d.log())

    def test_detached_needs_its_pid_file(self):
        d = self.daemon(pid_file="/nonexistent-lmtpd-dir/lmtpd.pid",
                        log_target="stderr")
        d.port = T.free_port()
        d.write_conf()
        r = subprocess.run([T.LMTPD, "-c", d.conf_path],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0)   # the launcher detached
        # The detached daemon could not write its pid file and gave up.
        self.assertTrue(wait_for(lambda: not pids_with_cmdline(
            [T.LMTPD, "-c", d.conf_path]), 5), "detached daemon running")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", d.port), 1).close()


class TestSocketPermissions(ServiceTestCase):

    def test_default_mode_0660(self):
        d = self.daemon().start()
        st = os.stat(d.sock_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)

    def test_mode_owner_and_group_from_the_config(self):
        if not T.IS_ROOT:
            loud_skip(self, "chown of the socket needs root")
        import grp
        import pwd
        d = self.daemon(socket_mode="0640", socket_owner="nobody",
                        socket_group="nogroup").start()
        st = os.stat(d.sock_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, pwd.getpwnam("nobody").pw_uid)
        self.assertEqual(st.st_gid, grp.getgrnam("nogroup").gr_gid)
        c = self.unix(d)                # root may still connect
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220)


class TestAccess(ServiceTestCase):

    def start_allowing(self, nets):
        d = UnixReadyDaemon(self, allow=nets)
        self.daemons.append(d)
        return d.start()

    def test_tcp_client_outside_allow_gets_421(self):
        d = self.start_allowing(["10.0.0.0/8", "2001:db8::/32"])
        c = T.Client(("127.0.0.1", d.port), self.transcript, greet=False)
        self.addCleanup(c.close)
        code, lines = c.reply()
        self.assertEqual(code, 421, lines)
        self.assertEqual(T.esc_of(lines), "4.7.0", lines)
        self.assertTrue(c.at_eof(5), "still open after 421")
        self.assertTrue(wait_for(lambda: re.search(
            r"reject: connect from \[127\.0\.0\.1\]: not in allow",
            d.log()) is not None, 5), "refusal not logged")
        # The Unix socket is not subject to allow: it still delivers.
        u = self.unix(d)
        self.addCleanup(u.close)
        u.expect("LHLO client.test", 250)
        msg = self.deliver(u, "alice@example.org", b"unix-allowed")
        self.assert_copy(d, "alice@example.org", msg)

    def test_tcp_client_inside_allow_served(self):
        d = self.start_allowing(["127.0.0.1"])
        c = self.open(d)
        msg = self.deliver(c, "bob@example.org", b"allowed")
        self.assert_copy(d, "bob@example.org", msg)

    def test_bad_network_refused_at_start(self):
        d = self.daemon(allow=["127.0.0.1/8"])
        d.port = T.free_port()
        d.write_conf()
        r = subprocess.run([T.LMTPD, "-t", "-c", d.conf_path],
                           capture_output=True, timeout=10)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, r"lmtpd\.conf:\d+: option 'allow'")


class TestPermissions(ServiceTestCase):

    def check(self, d):
        d.port = T.free_port()
        d.write_conf()
        r = subprocess.run([T.LMTPD, "-f", "-c", d.conf_path],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stderr.decode("utf-8", "replace")

    def test_world_writable_config_refused(self):
        d = self.daemon()
        d.port = T.free_port()
        d.write_conf()
        os.chmod(d.conf_path, 0o666)
        r = subprocess.run([T.LMTPD, "-f", "-c", d.conf_path],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 78, err)     # EX_CONFIG
        self.assertIn("writable by every user", err)
        self.assertIn(d.conf_path, err)
        self.assertFalse(os.path.lexists(d.sock_path), "it bound anyway")

    def test_world_writable_mail_root_refused_unless_told(self):
        d = self.daemon()
        os.chmod(d.mail, 0o1777)
        rc, err = self.check(d)
        self.assertEqual(rc, 78, err)
        self.assertIn("mail root %s is writable by every user" % d.mail,
                      err)
        d.opts["strict_permissions"] = "false"
        d.start()                       # and now it runs
        c = self.open(d)
        msg = self.deliver(c, "alice@example.org", b"lax")
        self.assert_copy(d, "alice@example.org", msg)


class TestInstall(ServiceTestCase):

    def copy_source(self, dst):
        """The source tree as it is (uncommitted edits and build products
        included, mtimes kept), without .git, run/ and sockets."""
        def ignore(d, names):
            out = []
            for n in names:
                if n in (".git", "__pycache__") or \
                        (d == TOP and n == "run"):
                    out.append(n)
                    continue
                mode = os.lstat(os.path.join(d, n)).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or
                        stat.S_ISLNK(mode)):
                    out.append(n)
            return out
        shutil.copytree(TOP, dst, symlinks=True, ignore=ignore)

    def make_install(self, src, dest, target="install"):
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                            "MAKEOVERRIDES", "DESTDIR", "PREFIX")}
        r = subprocess.run(["make", "-C", src, target, "PREFIX=/usr",
                            "DESTDIR=" + dest], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env=env, timeout=45)
        out = r.stdout.decode("utf-8", "replace")
        self.transcript.append("$ make %s PREFIX=/usr DESTDIR=%s -> "
                               "%d\n%s" % (target, dest, r.returncode, out))
        self.assertEqual(r.returncode, 0, "make %s failed:\n%s"
                         % (target, out))
        return out

    @staticmethod
    def tree(top):
        """The files under top, as paths relative to it, sorted."""
        out = []
        for root, _dirs, files in os.walk(top):
            out.extend(os.path.relpath(os.path.join(root, f), top)
                       for f in files)
        return sorted(out)

    def test_install(self):
        if shutil.which("make") is None:
            loud_skip(self, "no make on this host")
        if not os.path.exists(os.path.join(TOP, "Makefile")):
            loud_skip(self, "no Makefile in %s" % TOP)
        tmp = tempfile.mkdtemp(prefix="lmtpd-install.")
        self.addCleanup(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "src")
        dest = os.path.join(tmp, "dest")
        self.copy_source(src)
        self.make_install(src, dest)

        sbin = os.path.join(dest, "usr/sbin/lmtpd")
        conf = os.path.join(dest, "usr/etc/lmtpd/lmtpd.conf")
        unit = os.path.join(dest, "usr/lib/systemd/system/lmtpd.service")
        for rel in ("usr/sbin/lmtpd", "usr/etc/lmtpd/lmtpd.conf",
                    "usr/share/man/man8/lmtpd.8",
                    "usr/share/man/man5/lmtpd.conf.5",
                    "usr/lib/systemd/system/lmtpd.service"):
            p = os.path.join(dest, rel)
            self.assertTrue(os.path.isfile(p), "not installed: /" + rel)
        self.assertTrue(os.access(sbin, os.X_OK) and
                        os.stat(sbin).st_mode & 0o111, "not executable")

        with open(unit) as f:
            text = f.read()
        self.assertNotRegex(text, r"@\w+@", "placeholders left in the unit")
        execs = [ln for ln in text.splitlines()
                 if ln.startswith("ExecStart=")]
        self.assertEqual(len(execs), 1, text)
        args = execs[0][len("ExecStart="):].split()
        self.assertEqual(args[0], "/usr/sbin/lmtpd", execs[0])
        self.assertIn("/usr/etc/lmtpd/lmtpd.conf", args, execs[0])
        self.assertIn("-f", args, "Type=simple needs the foreground")

        r = subprocess.run([sbin, "-t", "-c", conf], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Built for this PREFIX: its default -c is the installed config
        # (the usage message shows it).
        r = subprocess.run([sbin, "-Z"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        self.assertIn(b"/usr/etc/lmtpd/lmtpd.conf", r.stderr,
                      "installed binary's default configuration: %r"
                      % r.stderr)

        # A second install keeps the edited configuration.
        with open(conf, "a") as f:
            f.write("# edited after install %d\n" % os.getpid())
        with open(conf, "rb") as f:
            edited = f.read()
        self.make_install(src, dest)
        with open(conf, "rb") as f:
            self.assertEqual(f.read(), edited,
                             "a reinstall replaced the edited lmtpd.conf")
        r = subprocess.run([sbin, "-t", "-c", conf], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # Exactly these files, and uninstall takes them back (all but the
        # edited configuration, which is the administrator's).
        installed = self.tree(dest)
        sys.stderr.write("\ninstalled under DESTDIR:\n  %s\n"
                         % "\n  ".join(installed))
        self.assertEqual(installed, [
            "usr/etc/lmtpd/lmtpd.conf",
            "usr/lib/systemd/system/lmtpd.service",
            "usr/lib/systemd/system/lmtpd.socket",
            "usr/sbin/lmtpd",
            "usr/share/man/man5/lmtpd.conf.5",
            "usr/share/man/man8/lmtpd.8"])
        out = self.make_install(src, dest, "uninstall")
        self.assertIn("keeping", out)
        self.assertEqual(self.tree(dest), ["usr/etc/lmtpd/lmtpd.conf"])
        # An unchanged configuration goes too.
        self.make_install(src, dest)
        shutil.copy(os.path.join(src, "etc/lmtpd.conf"), conf)
        self.make_install(src, dest, "uninstall")
        self.assertEqual(self.tree(dest), [])


# ------------------------------------------------------------------- main


if __name__ == "__main__":
    sys.exit(T.run_tests())
