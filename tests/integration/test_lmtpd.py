#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests: the real lmtpd binary, a generated config and a mail
root under a temporary directory, driven over loopback TCP and a Unix
socket by a small raw LMTP client (one reply per accepted RCPT after the
dot, which smtplib cannot read) and by smtplib.LMTP for a whole flow.

Usage: python3 tests/integration/test_lmtpd.py ./lmtpd [unittest args]

Every socket operation has a timeout, every daemon is started in its own
process group and stopped by PID (SIGTERM, then SIGKILL) in the cleanup.
Python 3 standard library only.  When run as root the daemon drops to
nobody/nogroup, and the temporary tree is chowned to that account.
"""

import email.utils
import os
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LMTPD = None            # path of the binary, from argv[1]
IO_TIMEOUT = 10.0       # seconds, every socket operation
START_TIMEOUT = 5.0     # seconds until the daemon answers 220
SHUTDOWN_TIMEOUT = 5    # shutdown_timeout in the generated configs
SENDER = "sender@remote.test"
IS_ROOT = os.geteuid() == 0
KEEP = os.environ.get("LMTPD_TEST_KEEP") == "1"


# ---------------------------------------------------------------- helpers

def free_port():
    """A loopback TCP port that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wire(body):
    """A message with LF line ends (bytes) as sent after DATA: CRLF line
    ends and dot-stuffing (RFC 5321 §4.5.2), without the final dot."""
    assert body.endswith(b"\n")
    out = []
    for line in body[:-1].split(b"\n"):
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out)


def proc_stat(pid):
    """(comm, state, ppid, pgrp) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    lp, rp = data.find("("), data.rfind(")")
    fields = data[rp + 2:].split()
    return data[lp + 1:rp], fields[0], int(fields[1]), int(fields[2])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


STATUS_COMM = "lmtpd-status"   # the status process names itself so


def children_of(pid, with_status=False):
    """Live (non-zombie) children of pid: the pool's workers, and the
    status process too when with_status."""
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st is not None and st[2] == pid and st[1] != "Z" and \
                (with_status or st[0] != STATUS_COMM):
            out.append(p)
    return out


def group_members(pgrp):
    out = []
    for p in all_pids():
        st = proc_stat(p)
        if st is not None and st[3] == pgrp and st[1] != "Z":
            out.append(p)
    return out


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_uid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return int(line.split()[2])     # effective
    except OSError:
        pass
    return None


def server_socket_inode(server_port, client_port):
    """The inode of the daemon's side of one loopback TCP connection."""
    try:
        with open("/proc/net/tcp") as f:
            lines = f.readlines()[1:]
    except OSError:
        return None
    for line in lines:
        fld = line.split()
        lport = int(fld[1].split(":")[1], 16)
        rport = int(fld[2].split(":")[1], 16)
        if lport == server_port and rport == client_port:
            return fld[9]
    return None


def pid_holding_inode(pids, inode):
    target = "socket:[%s]" % inode
    for p in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % p):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (p, fd)) == target:
                        return p
                except OSError:
                    pass
        except OSError:
            pass
    return None


def maildir_files(maildir, sub="new"):
    """Sorted names in maildir/sub; [] when the directory does not exist."""
    try:
        return sorted(os.listdir(os.path.join(maildir, sub)))
    except FileNotFoundError:
        return []


def split_copy(data):
    """Splits a stored copy into (return_path, delivered_to, received
    lines, message).  Lines keep their LF."""
    lines = []
    pos = 0
    for _ in range(2):
        nl = data.index(b"\n", pos)
        lines.append(data[pos:nl + 1])
        pos = nl + 1
    received = []
    nl = data.index(b"\n", pos)
    received.append(data[pos:nl + 1])
    pos = nl + 1
    while pos < len(data) and data[pos:pos + 1] in (b" ", b"\t"):
        nl = data.index(b"\n", pos)
        received.append(data[pos:nl + 1])
        pos = nl + 1
    return lines[0], lines[1], received, data[pos:]


def is_asan(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class LMTPError(Exception):
    pass


class Client:
    """A tiny raw LMTP client with a transcript ("> " sent, "< " read)."""

    def __init__(self, address, transcript, timeout=IO_TIMEOUT, greet=True):
        self.t = transcript
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.greeting = None
        if greet:
            try:
                self.greeting = self.reply()
            except BaseException:
                self.sock.close()
                raise

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        shown = data if len(data) <= 300 else \
            data[:300] + b"...(%d bytes)" % len(data)
        for ln in shown.decode("latin-1").split("\n"):
            if ln:
                self.t.append("> " + ln.rstrip("\r"))
        self.sock.sendall(data)

    def line(self):
        """One reply line without its CRLF; raises EOFError at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.t.append("< (EOF)")
                raise EOFError("connection closed by lmtpd")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        text = raw.decode("latin-1")
        self.t.append("< " + text.rstrip("\r"))
        if not raw.endswith(b"\r"):
            raise LMTPError("reply line not ended by CRLF: %r" % raw)
        return text[:-1]

    def reply(self):
        """(code, [lines]) of one reply, multi-line replies joined."""
        lines = []
        while True:
            ln = self.line()
            if len(ln) < 3 or not ln[:3].isdigit() or \
                    (len(ln) > 3 and ln[3] not in " -"):
                raise LMTPError("malformed reply line %r" % ln)
            if lines and ln[:3] != lines[0][:3]:
                raise LMTPError("codes differ in a multi-line reply")
            lines.append(ln)
            if len(ln) == 3 or ln[3] == " ":
                return int(ln[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def expect(self, text, code, esc=None):
        c, lines = self.cmd(text)
        if c != code or (esc is not None and
                         not lines[-1][4:].startswith(esc + " ") and
                         lines[-1][4:] != esc):
            raise AssertionError("%r: expected %s %s, got %r" %
                                 (text, code, esc or "", lines))
        return lines

    def at_eof(self, timeout=IO_TIMEOUT):
        """True when the daemon closed the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def esc_of(lines):
    parts = lines[-1].split(" ", 2)
    return parts[1] if len(parts) > 1 else ""


# ----------------------------------------------------------------- daemon

class Daemon:
    """One lmtpd under a temporary tree:
         DIR/lmtpd.conf DIR/mail/ DIR/spool/ DIR/lmtpd.pid DIR/lmtp.sock
         DIR/lmtpd.log (stdout and stderr) and, optionally, DIR/users."""

    def __init__(self, test, **opts):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="lmtpd-test.")
        self.mail = os.path.join(self.dir, "mail")
        self.spool = os.path.join(self.dir, "spool")
        self.sock_path = os.path.join(self.dir, "lmtp.sock")
        self.conf_path = os.path.join(self.dir, "lmtpd.conf")
        self.log_path = os.path.join(self.dir, "lmtpd.log")
        self.pid_path = os.path.join(self.dir, "lmtpd.pid")
        os.mkdir(self.mail)
        os.mkdir(self.spool)
        self.port = None
        self.proc = None
        self.logf = None
        self.opts = {
            "domains": ["example.org", "example.net"],
            "maildir": os.path.join(self.mail, "%d/%n/Maildir"),
            "spool_dir": self.spool,
            "pid_file": self.pid_path,
            "status_socket": os.path.join(self.dir, "status.sock"),
            "log_target": "stderr",
            "min_spare": 2,
            "max_spare": 4,
            "max_children": 8,
            "max_requests": 100,
            "max_message_size": 52428800,
            "max_recipients": 1000,
            "postmaster": "admin@example.org",
            "command_timeout": 300,
            "data_timeout": 600,
            "shutdown_timeout": SHUTDOWN_TIMEOUT,
        }
        if IS_ROOT:
            self.opts["user"] = "nobody"
            self.opts["group"] = "nogroup"
        users = opts.pop("users", None)
        if users is not None:
            path = os.path.join(self.dir, "users")
            with open(path, "w") as f:
                f.write("".join(u + "\n" for u in users))
            os.chmod(path, 0o644)
            self.opts["users_file"] = path
        self.opts.update(opts)
        self.chown_tree(self.dir)
        os.chmod(self.dir, 0o755)

    # -- files

    def chown_tree(self, top):
        """Gives top and everything under it to the daemon's account."""
        if not IS_ROOT:
            return
        for root, dirs, files in os.walk(top):
            os.chown(root, 65534, 65534)
            for n in dirs + files:
                os.lchown(os.path.join(root, n), 65534, 65534)

    def maildir(self, address):
        local, domain = address.rsplit("@", 1)
        return os.path.join(self.mail, domain, local, "Maildir")

    def render(self, extra=""):
        lines = ['listen = {"inet:127.0.0.1:%d", "unix:%s"}'
                 % (self.port or 0, self.sock_path)]
        for k, v in self.opts.items():
            if v is None:
                continue
            if isinstance(v, list):
                lines.append("%s = {%s}" % (k, ", ".join('"%s"' % x
                                                         for x in v)))
            elif isinstance(v, int):
                lines.append("%s = %d" % (k, v))
            else:
                lines.append('%s = "%s"' % (k, v))
        return "\n".join(lines) + "\n" + extra

    def write_conf(self, text=None):
        tmp = self.conf_path + ".new"
        with open(tmp, "w") as f:
            f.write(self.render() if text is None else text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.conf_path)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- process

    def spawn(self, args=("-f",)):
        """Starts lmtpd without waiting for it."""
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [LMTPD] + list(args) + ["-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True)
        return self.proc

    def start(self):
        """Starts lmtpd and waits until it answers 220 ... LMTP on TCP.
        Retries with another port when the bind lost a race."""
        for attempt in range(3):
            self.pick_ports()
            self.write_conf()
            self.spawn()
            ok, why = self.wait_ready()
            if ok:
                return self
            in_use = "in use" in self.log().lower()
            self.stop()
            if not in_use:
                break
        raise AssertionError("lmtpd did not start: %s\n--- log ---\n%s"
                             % (why, self.log()))

    def pick_ports(self):
        """Chooses free ports for this start (subclasses add theirs)."""
        self.port = free_port()

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        why = "no answer on 127.0.0.1:%d within %ss" % (self.port,
                                                        START_TIMEOUT)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, "exited with status %d" % self.proc.returncode
            try:
                c = Client(("127.0.0.1", self.port), [], timeout=2)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                code, lines = c.greeting
                if code == 220 and "LMTP" in lines[0]:
                    try:
                        c.cmd("QUIT")
                    except (OSError, EOFError, LMTPError):
                        pass
                    return True, ""
                why = "greeting %r" % lines
            except (OSError, EOFError, LMTPError) as e:
                why = "greeting: %s" % e
            finally:
                c.close()
            time.sleep(0.05)
        return False, why

    def children(self):
        return children_of(self.proc.pid)

    def kill_hard(self):
        """SIGKILL the master and its process group, as a crash would."""
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        for p in group_members(pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.logf.close()
        self.logf = None

    def stop(self):
        """SIGTERM, wait, SIGKILL; then SIGKILL whatever is left of the
        process group.  Returns the exit status (None if never started)."""
        if self.proc is None:
            return None
        pid = self.proc.pid
        if self.proc.poll() is None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT + 5)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for p in group_members(pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.logf is not None:
            self.logf.close()
            self.logf = None
        return self.proc.returncode

    def remove(self):
        def onerror(func, path, _exc):
            try:
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
            except OSError:
                pass
            try:
                func(path)
            except OSError:
                pass
        if not KEEP:
            shutil.rmtree(self.dir, onerror=onerror)


# ------------------------------------------------------------------ tests

class LMTPDTestCase(unittest.TestCase):
    """Base: per-test daemons and transcripts, dumped when a test fails."""

    daemon_opts = {}

    def setUp(self):
        self.daemons = []
        self.transcript = []
        self.addCleanup(self.finish)
        self.d = None
        if self.daemon_opts is not None:
            self.d = self.daemon(**self.daemon_opts).start()

    def daemon(self, **opts):
        d = Daemon(self, **opts)
        self.daemons.append(d)
        return d

    def finish(self):
        for d in self.daemons:
            d.stop()
        if self.failed():
            out = ["", "====== %s" % self.id()]
            if self.transcript:
                out.append("------ transcript (last 80 lines)")
                out.extend(self.transcript[-80:])
            for d in self.daemons:
                out.append("------ %s (%s)" % (d.log_path,
                                               "kept" if KEEP else "removed"))
                log = d.log().splitlines()
                out.extend(log[-60:])
            sys.stderr.write("\n".join(out) + "\n")
        for d in self.daemons:
            d.remove()

    def failed(self):
        """True when this test has already failed or errored (cleanups run
        after the test body; unittest keeps that in private places)."""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        errors = getattr(outcome, "errors", None)       # Python < 3.11
        if errors is not None:
            return any(exc is not None for _, exc in errors)
        result = getattr(outcome, "result", None)
        reported = getattr(result, "failures", []) + \
            getattr(result, "errors", [])
        return any(t is self for t, _ in reported)

    # -- client helpers

    def tcp(self, d=None, **kw):
        d = d or self.d
        return Client(("127.0.0.1", d.port), self.transcript, **kw)

    def unix(self, d=None, **kw):
        d = d or self.d
        return Client(d.sock_path, self.transcript, **kw)

    def open(self, d=None, lhlo=True, **kw):
        c = self.tcp(d, **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220, c.greeting)
        if lhlo:
            code, lines = c.cmd("LHLO client.test")
            self.assertEqual(code, 250, lines)
        return c

    def transaction(self, c, rcpts, message, sender=SENDER):
        """MAIL, RCPT each, DATA, message, dot.  Returns (rcpt replies,
        final replies: one per accepted RCPT, or the DATA reply when it was
        refused)."""
        c.expect("MAIL FROM:<%s>" % sender, 250)
        rr = []
        for r in rcpts:
            rr.append(c.cmd("RCPT TO:<%s>" % r))
        accepted = sum(1 for code, _ in rr if code == 250)
        code, lines = c.cmd("DATA")
        if code != 354:
            return rr, [(code, lines)]
        c.send(wire(message) + b".\r\n")
        return rr, [c.reply() for _ in range(accepted)]

    def assert_in_sync(self, c):
        """An unknown command's 5xx is the next reply: there is no stray
        reply (e.g. an extra 250) still in the stream."""
        code, lines = c.cmd("XYZZY")
        self.assertTrue(500 <= code <= 502, lines)

    def assert_copy(self, d, rcpt, message, sender=SENDER, n=1,
                    in_tmp=0):
        """Each of the n files in rcpt's new/ is a byte-exact copy: trace
        headers, then message; name ends ,S=size; mode 0600; tmp/ holds
        in_tmp files (those of deliveries killed midway)."""
        md = d.maildir(rcpt)
        for sub in ("", "tmp", "new", "cur"):
            p = os.path.join(md, sub)
            self.assertTrue(os.path.isdir(p), p)
            self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o700, p)
        self.assertEqual(len(maildir_files(md, "tmp")), in_tmp,
                         "tmp/: %r" % maildir_files(md, "tmp"))
        names = maildir_files(md, "new")
        self.assertEqual(len(names), n, names)
        copies = []
        for name in names:
            path = os.path.join(md, "new", name)
            st = os.stat(path)
            self.assertTrue(stat.S_ISREG(st.st_mode), path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, path)
            m = re.search(r",S=(\d+)$", name)
            self.assertIsNotNone(m, "no ,S= at the end of %r" % name)
            self.assertEqual(int(m.group(1)), st.st_size, name)
            with open(path, "rb") as f:
                data = f.read()
            rp, dt, received, rest = split_copy(data)
            self.assertEqual(rp, b"Return-Path: <%s>\n" % sender.encode())
            self.assertEqual(dt, b"Delivered-To: <%s>\n" % rcpt.encode())
            self.assertTrue(received[0].startswith(b"Received: from "),
                            received)
            self.assertEqual(len(received), 3, received)
            last = received[-1]
            prefix = b"\tfor <%s>; " % rcpt.encode()
            self.assertTrue(last.startswith(prefix), received)
            date = last[len(prefix):].strip().decode()
            self.assertIsNotNone(email.utils.parsedate_to_datetime(date),
                                 date)
            if message is not None:
                self.assertEqual(rest, message, "message bytes differ")
            copies.append(rest)
        return copies


def sample_message(tag):
    return (b"From: Sender <" + SENDER.encode() + b">\n"
            b"To: several\n"
            b"Subject: test " + tag + b"\n"
            b"Message-ID: <" + tag + b"@client.test>\n"
            b"\n"
            b"first line\n"
            b".leading dot, stuffed on the wire\n"
            b"..two dots\n"
            b". \n"
            b"8bit: \xc3\xa9t\xc3\xa9\n"
            b"\n"
            b"last line\n")


class TestProtocol(LMTPDTestCase):

    def test_lhlo_advertises_extensions(self):
        c = self.open(lhlo=False)
        self.assertIn("LMTP", c.greeting[1][0])
        code, lines = c.cmd("LHLO client.test")
        self.assertEqual(code, 250, lines)
        keywords = {ln[4:].split()[0].upper() for ln in lines[1:]
                    if len(ln) > 4}
        for kw in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE"):
            self.assertIn(kw, keywords, lines)

    def multi_rcpt(self, c):
        rcpts = ["alice@example.org", "bob@example.org", "carol@example.net"]
        msg = sample_message(b"multi")
        rr, final = self.transaction(c, rcpts, msg)
        for code, lines in rr:
            self.assertEqual(code, 250, lines)
        self.assertEqual(len(final), 3)
        for code, lines in final:
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].startswith("250 2.0.0 "), lines)
        self.assert_in_sync(c)
        c.expect("QUIT", 221)
        for r in rcpts:
            self.assert_copy(self.d, r, msg)

    def test_multi_rcpt_tcp(self):
        self.multi_rcpt(self.open())

    def test_multi_rcpt_unix(self):
        c = self.unix()
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220)
        c.expect("LHLO client.test", 250)
        self.multi_rcpt(c)

    def test_smtplib_unix_flow(self):
        s = smtplib.LMTP(self.d.sock_path, timeout=IO_TIMEOUT)
        self.addCleanup(s.close)
        code, _ = s.ehlo("client.test")
        self.assertEqual(code, 250)
        self.assertTrue(s.has_extn("pipelining"))
        msg = sample_message(b"smtplib")
        refused = s.sendmail(SENDER, ["dave@example.org"],
                             msg.replace(b"\n", b"\r\n"))
        self.assertEqual(refused, {})
        s.quit()
        self.assert_copy(self.d, "dave@example.org", msg)

    def test_postmaster_without_domain(self):
        c = self.open()
        msg = sample_message(b"pm")
        rr, final = self.transaction(c, ["Postmaster"], msg)
        self.assertEqual(rr[0][0], 250, rr)
        self.assertEqual([f[0] for f in final], [250], final)
        md = self.d.maildir("admin@example.org")
        names = maildir_files(md)
        self.assertEqual(len(names), 1, names)
        with open(os.path.join(md, "new", names[0]), "rb") as f:
            self.assertTrue(f.read().endswith(msg))

    def test_data_without_recipient(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<x@unknown.test>", 550)
        code, lines = c.cmd("DATA")
        self.assertEqual(code, 503, lines)
        c.expect("RSET", 250)
        c.expect("NOOP", 250)

    def test_pipelined_transaction(self):
        c = self.tcp()
        self.addCleanup(c.close)
        msg = sample_message(b"pipe")
        c.send(b"LHLO client.test\r\n"
               b"MAIL FROM:<" + SENDER.encode() + b">\r\n"
               b"RCPT TO:<alice@example.org>\r\n"
               b"RCPT TO:<x@unknown.test>\r\n"
               b"RCPT TO:<bob@example.org>\r\n"
               b"DATA\r\n" + wire(msg) + b".\r\n"
               b"NOOP\r\n"
               b"QUIT\r\n")
        codes = [c.reply()[0] for _ in range(8)]
        self.assertEqual(codes, [250, 250, 250, 550, 250, 354, 250, 250])
        self.assertEqual(c.reply()[0], 250)     # NOOP
        self.assertEqual(c.reply()[0], 221)     # QUIT
        self.assertTrue(c.at_eof(), "not closed after QUIT")
        self.assert_copy(self.d, "alice@example.org", msg)
        self.assert_copy(self.d, "bob@example.org", msg)

    def test_overlong_command_line(self):
        c = self.open()
        code, lines = c.cmd("NOOP " + "x" * 600)
        self.assertEqual(code, 500, lines)
        self.assertEqual(esc_of(lines), "5.5.2", lines)
        c.expect("NOOP", 250)
        msg = sample_message(b"afterlong")
        rr, final = self.transaction(c, ["alice@example.org"], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        self.assert_copy(self.d, "alice@example.org", msg)

    def test_bare_lf_dot_does_not_end_data(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: bare lf\r\n\r\nline\n.\nQUIT\n")
        c.send(b"\r\n.\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        c.expect("NOOP", 250)           # still open, QUIT was body
        self.assert_in_sync(c)
        copies = self.assert_copy(self.d, "alice@example.org", None)
        self.assertEqual(copies[0],
                         b"Subject: bare lf\n\nline\n.\nQUIT\n\n")

    def test_disconnect_mid_data_delivers_nothing(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<carol@example.net>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: partial\r\n\r\nhalf of a body\r\n" * 100)
        c.close()
        time.sleep(1)
        md = self.d.maildir("carol@example.net")
        self.assertEqual(maildir_files(md, "new"), [])
        self.assertEqual(maildir_files(md, "tmp"), [])
        deadline = time.monotonic() + 3
        while os.listdir(self.d.spool) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(os.listdir(self.d.spool), [], "spool file left")
        c2 = self.open()
        msg = sample_message(b"after")
        rr, final = self.transaction(c2, ["carol@example.net"], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        self.assert_copy(self.d, "carol@example.net", msg)


class TestRecipients(LMTPDTestCase):

    def test_hostile_local_parts(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        cases = [
            ("alice@example.org", 250, "2.1.5"),
            ("../x@example.org", 501, "5.1.3"),
            ('"../x"@example.org', 550, "5.1.3"),
            ('"../../x"@example.org', 550, "5.1.3"),
            ("a/b@example.org", 550, "5.1.3"),
            (".x@example.org", 501, "5.1.3"),
            ("a" * 65 + "@example.org", 550, "5.1.3"),
            ("bob@example.org", 250, "2.1.5"),
        ]
        for rcpt, code, esc in cases:
            got, lines = c.cmd("RCPT TO:<%s>" % rcpt)
            self.assertEqual(got, code, (rcpt, lines))
            if code != 250:
                self.assertEqual(esc_of(lines), esc, (rcpt, lines))
        c.expect("DATA", 354)
        msg = sample_message(b"hostile")
        c.send(wire(msg) + b".\r\n")
        final = [c.reply() for _ in range(2)]
        self.assertEqual([f[0] for f in final], [250, 250], final)
        self.assert_in_sync(c)
        self.assert_copy(self.d, "alice@example.org", msg)
        self.assert_copy(self.d, "bob@example.org", msg)
        # Nothing anywhere else: not in the mail root, not beside it.
        self.assertEqual(sorted(os.listdir(self.d.mail)), ["example.org"])
        self.assertEqual(sorted(os.listdir(os.path.join(self.d.mail,
                                                        "example.org"))),
                         ["alice", "bob"])
        top = set(os.listdir(self.d.dir))
        self.assertTrue(top <= {"mail", "spool", "lmtpd.conf", "lmtpd.log",
                                "lmtpd.pid", "lmtp.sock", "status.sock"}, top)


class TestUsersFile(LMTPDTestCase):
    daemon_opts = {"users": ["alice@example.org", "carol@example.net",
                             "admin@example.org"]}

    def test_unknown_domain_and_user(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("RCPT TO:<x@unknown.test>", 550, "5.1.2")
        c.expect("RCPT TO:<nosuch@example.org>", 550, "5.1.1")
        c.expect("RCPT TO:<Carol@Example.NET>", 250)
        c.expect("DATA", 354)
        msg = sample_message(b"users")
        c.send(wire(msg) + b".\r\n")
        final = [c.reply() for _ in range(2)]
        self.assertEqual([f[0] for f in final], [250, 250], final)
        self.assert_in_sync(c)
        self.assert_copy(self.d, "alice@example.org", msg)
        self.assertEqual(sorted(os.listdir(self.d.mail)),
                         ["example.net", "example.org"])
        self.assertFalse(os.path.exists(self.d.maildir("nosuch@example.org")))
        # The copy goes to the lower-cased path; the domain dir exists.
        net = os.listdir(os.path.join(self.d.mail, "example.net"))
        self.assertEqual(len(net), 1, net)


class TestLimits(LMTPDTestCase):
    daemon_opts = {"max_message_size": 100000}

    def test_size_parameter_over_limit(self):
        c = self.open()
        c.expect("MAIL FROM:<%s> SIZE=100001" % SENDER, 552, "5.3.4")
        c.expect("MAIL FROM:<%s> SIZE=1000" % SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)

    def test_body_over_limit(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("RCPT TO:<bob@example.org>", 250)
        c.expect("DATA", 354)
        body = b"Subject: big\n\n" + \
            b"".join(b"line %06d RSET QUIT MAIL FROM:<x@y>\n" % i
                     for i in range(6000))
        body += b"QUIT\n"
        self.assertGreater(len(body), 200000)
        c.send(wire(body) + b".\r\n")
        final = [c.reply() for _ in range(2)]
        for code, lines in final:
            self.assertEqual(code, 552, lines)
            self.assertIn(esc_of(lines), ("5.3.4", "5.2.3"), lines)
        self.assert_in_sync(c)
        for r in ("alice@example.org", "bob@example.org"):
            self.assertEqual(maildir_files(self.d.maildir(r)), [])
        msg = sample_message(b"small")
        rr, final = self.transaction(c, ["alice@example.org"], msg)
        self.assertEqual([f[0] for f in final], [250], final)
        self.assert_copy(self.d, "alice@example.org", msg)


class TestLoad(LMTPDTestCase):

    def test_concurrent_connections(self):
        n_conn, n_msg = 20, 5
        rcpts = ["alice@example.org", "carol@example.net"]
        errors = []
        codes = []
        lock = threading.Lock()

        def worker(i):
            log = []
            try:
                c = Client(("127.0.0.1", self.d.port), log, timeout=30)
                try:
                    c.expect("LHLO t%d" % i, 250)
                    for j in range(n_msg):
                        tag = b"t%02dm%d" % (i, j)
                        rr, final = self.transaction(c, rcpts,
                                                     sample_message(tag))
                        with lock:
                            codes.extend(x[0] for x in rr + final)
                    c.expect("QUIT", 221)
                finally:
                    c.close()
            except Exception as e:      # reported below
                with lock:
                    errors.append("conn %d: %r\n%s" % (i, e,
                                                       "\n".join(log[-10:])))

        threads = [threading.Thread(target=worker, args=(i,))
                   for i in range(n_conn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertFalse(any(t.is_alive() for t in threads), "hung")
        self.assertEqual(errors, [], "\n".join(errors))
        self.assertEqual(len(codes), n_conn * n_msg * 4)
        self.assertEqual(set(codes), {250})
        for r in rcpts:
            md = self.d.maildir(r)
            self.assertEqual(maildir_files(md, "tmp"), [])
            seen = {}
            for name in maildir_files(md):
                with open(os.path.join(md, "new", name), "rb") as f:
                    m = re.search(rb"Message-ID: <(t\d+m\d)@", f.read())
                self.assertIsNotNone(m, name)
                seen[m.group(1)] = seen.get(m.group(1), 0) + 1
            expected = {b"t%02dm%d" % (i, j): 1 for i in range(n_conn)
                        for j in range(n_msg)}
            self.assertEqual(seen, expected, r)

    def test_large_message(self):
        lines = []
        filler = b"abcdefghijklmnopqrstuvwxyz0123456789" * 3
        n = (20 * 1024 * 1024) // 77 + 1
        for i in range(n):
            head = b"." if i % 11 == 5 else b"L"
            lines.append((head + b"%08d " % i + filler)[:76] + b"\n")
        msg = b"Subject: large\n\n" + b"".join(lines)
        self.assertGreaterEqual(len(msg), 20 * 1024 * 1024)
        c = self.open(timeout=60)
        c.expect("MAIL FROM:<%s> SIZE=%d" % (SENDER, len(msg)), 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("DATA", 354)

        peak = [0]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                for p in group_members(self.d.proc.pid):
                    peak[0] = max(peak[0], vm_rss_kib(p))
                stop.wait(0.05)

        t = threading.Thread(target=sampler)
        t.start()
        try:
            data = wire(msg) + b".\r\n"
            c.send(data)
            code, lines_ = c.reply()
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(code, 250, lines_)
        self.assert_copy(self.d, "alice@example.org", msg)
        sys.stderr.write("\n  peak RSS of lmtpd processes during a %d MiB "
                         "message: %d KiB\n" % (len(msg) >> 20, peak[0]))
        if not is_asan(LMTPD):
            self.assertLess(peak[0], 32 * 1024,
                            "lmtpd RSS peaked at %d KiB" % peak[0])


class TestChildMemory(LMTPDTestCase):
    """A busy child stays under 2 MiB of RSS, as the benchmark measures it
    (bench/README.md: dedup_window 0, one kept connection).  Most of it is
    shared library pages, counted in full in every child: ld.so's lazy
    binding in the children (no -z now) or libsystemd's libraries alone
    would take it over."""

    daemon_opts = {"dedup_window": 0}
    RSS_MAX_KIB = 2048

    def open_served(self):
        """A connection, and the pid of the child serving it."""
        c = self.open(timeout=60)
        child = pid_holding_inode(self.d.children(), server_socket_inode(
            self.d.port, c.local_port()))
        self.assertIsNotNone(child, "no child holds the connection")
        return c, child

    def test_busy_child_rss(self):
        if is_asan(LMTPD):
            self.skipTest("ASan's shadow memory is in every RSS")
        c, child = self.open_served()
        filler = b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\n"
        peak = 0
        for size in (4 << 10, 1 << 20):
            msg = b"Subject: rss\n\n" + filler * (size // len(filler))
            _, final = self.transaction(c, ["alice@example.org"], msg)
            self.assertEqual([f[0] for f in final], [250], final)
            rss = vm_rss_kib(child)
            self.assertGreater(rss, 0, "child %d is gone" % child)
            peak = max(peak, rss)
        c.expect("QUIT", 221)
        sys.stderr.write("\n  busy child VmRSS after 4 KiB and 1 MiB: %d "
                         "KiB\n" % peak)
        self.assertLess(peak, self.RSS_MAX_KIB,
                        "busy child RSS %d KiB" % peak)


    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_sessions_reuse_memory(self):
        """A child's later sessions reuse the memory of its first: no brk,
        mmap or munmap per connection (and no pages faulted afresh)."""
        if is_asan(LMTPD):
            self.skipTest("ASan has an allocator of its own")
        c, child = self.open_served()
        _, final = self.transaction(c, ["alice@example.org"],
                                    sample_message(b"warm"))
        self.assertEqual([f[0] for f in final], [250], final)
        c.expect("QUIT", 221)
        c.close()
        trace = os.path.join(self.d.dir, "strace.mem")
        st = subprocess.Popen(["strace", "-qq", "-e",
                               "trace=brk,mmap,munmap,accept4", "-o", trace,
                               "-p", str(child)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            served = 0
            deadline = time.monotonic() + 20
            # The pool may hand a connection to another child: count ours.
            while served < 3 and time.monotonic() < deadline:
                c = self.open(timeout=60)
                mine = pid_holding_inode([child], server_socket_inode(
                    self.d.port, c.local_port())) == child
                _, final = self.transaction(c, ["alice@example.org"],
                                            sample_message(b"again"))
                self.assertEqual([f[0] for f in final], [250], final)
                c.expect("QUIT", 221)
                c.close()
                served += mine
        finally:
            st.terminate()
            st.wait(timeout=10)
        with open(trace) as f:
            out = f.read()
        if out == "":
            self.skipTest("strace could not attach (no ptrace here)")
        self.assertGreater(served, 0, "the child served none of them")
        self.assertRegex(out, r"accept4\(")
        self.assertNotRegex(out, r"\b(brk|mmap|munmap)\(", out)


class TestSignals(LMTPDTestCase):

    def rcpt_code(self, rcpt):
        c = self.tcp()
        try:
            c.expect("LHLO client.test", 250)
            c.expect("MAIL FROM:<%s>" % SENDER, 250)
            reply = c.cmd("RCPT TO:<%s>" % rcpt)
            c.cmd("QUIT")
            return reply
        finally:
            c.close()

    def test_sighup_adds_domain(self):
        self.assertEqual(self.rcpt_code("x@example.com")[0], 550)
        self.d.opts["domains"] = ["example.org", "example.net",
                                  "example.com"]
        self.d.write_conf()
        os.kill(self.d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        code = None
        while time.monotonic() < deadline:
            code, lines = self.rcpt_code("x@example.com")
            if code == 250:
                break
            time.sleep(0.2)
        self.assertEqual(code, 250, "example.com not picked up in 5 s")
        self.assertIsNone(self.d.proc.poll())

    def test_sighup_bad_config_keeps_old(self):
        self.d.write_conf(self.d.render(extra="no_such_option = 1\n"))
        os.kill(self.d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        pat = re.compile(r"reload.*(fail|error|invalid|keep)|"
                         r"(fail|error|invalid).*reload", re.I)
        while not pat.search(self.d.log()) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertRegex(self.d.log(), pat)
        time.sleep(0.5)
        self.assertIsNone(self.d.proc.poll(), "daemon exited")
        for _ in range(3):      # new connections, maybe new children
            self.assertEqual(self.rcpt_code("alice@example.org")[0], 250)
        self.assertEqual(self.rcpt_code("x@example.com")[0], 550)

    def test_sigterm_clean_exit(self):
        c = self.open()
        self.assertTrue(os.path.exists(self.d.sock_path))
        t0 = time.monotonic()
        os.kill(self.d.proc.pid, signal.SIGTERM)
        code, lines = c.reply()
        self.assertEqual(code, 421, lines)
        self.assertEqual(esc_of(lines), "4.3.2", lines)
        self.assertTrue(c.at_eof(), "not closed after 421")
        rc = self.d.proc.wait(timeout=SHUTDOWN_TIMEOUT + 5)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, SHUTDOWN_TIMEOUT + 1)
        self.assertFalse(os.path.lexists(self.d.sock_path),
                         "unix socket left behind")
        self.assertNotRegex(self.d.log(), re.compile(
            r"panic|abort|assert|sanitizer|segmentation|core dumped|"
            r"signal (6|11)\b", re.I))

    def test_child_killed_mid_data(self):
        rcpt = "alice@example.org"
        marker = b"END-OF-MESSAGE\n"
        first = sample_message(b"before") + marker
        c = self.open()
        _, final = self.transaction(c, [rcpt], first)
        self.assertEqual([f[0] for f in final], [250], final)
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        c.expect("DATA", 354)
        c.send(b"Subject: doomed\r\n\r\n" + b"partial line\r\n" * 1000)
        time.sleep(0.3)
        kids = self.d.children()
        inode = server_socket_inode(self.d.port, c.local_port())
        victim = pid_holding_inode(kids, inode) if inode else None
        victims = [victim] if victim else kids
        self.assertTrue(victims, "no children found")
        for p in victims:
            os.kill(p, signal.SIGKILL)
        self.assertTrue(c.at_eof(5), "connection still open after SIGKILL")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            alive = [p for p in self.d.children() if p not in victims]
            if len(alive) >= self.d.opts["min_spare"]:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(len(alive), self.d.opts["min_spare"],
                                alive)
        self.assertIsNone(self.d.proc.poll())
        c2 = self.open()
        second = sample_message(b"after") + marker
        _, final = self.transaction(c2, [rcpt], second)
        self.assertEqual([f[0] for f in final], [250], final)
        # The killed delivery's partial copy stays in tmp/ (the janitor
        # removes it after 36 hours), never in new/.
        copies = self.assert_copy(self.d, rcpt, None, n=2, in_tmp=1)
        self.assertEqual(sorted(copies), sorted([first, second]))
        md = self.d.maildir(rcpt)
        with open(os.path.join(md, "tmp", maildir_files(md, "tmp")[0]),
                  "rb") as f:
            self.assertIn(b"Subject: doomed\n", f.read())


class TestTimeouts(LMTPDTestCase):
    daemon_opts = {"command_timeout": 1, "data_timeout": 2}

    def test_idle_client_gets_421(self):
        c = self.open()
        t0 = time.monotonic()
        code, lines = c.reply()         # nothing sent: the timeout answers
        self.assertEqual(code, 421, lines)
        self.assertEqual(esc_of(lines), "4.4.2", lines)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertTrue(c.at_eof(5))

    def test_stalled_data_delivers_nothing(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: stalled\r\n\r\nhalf a body\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 421, lines)
        self.assertEqual(esc_of(lines), "4.4.2", lines)
        self.assertTrue(c.at_eof(5))
        self.assertEqual(maildir_files(self.d.maildir("alice@example.org")),
                         [])
        self.assertEqual(os.listdir(self.d.spool), [])
        c2 = self.open()                # and the child serves again
        c2.expect("NOOP", 250)


class TestStartup(LMTPDTestCase):
    daemon_opts = None      # each test starts its own

    def test_config_check(self):
        d = self.daemon()
        d.port = free_port()
        d.write_conf()
        r = subprocess.run([LMTPD, "-t", "-c", d.conf_path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)

        lines = d.render().splitlines()
        bad = os.path.join(d.dir, "bad1.conf")
        with open(bad, "w") as f:
            f.write("\n".join(lines[:5] + ["frobnicate = 1"] + lines[5:]) +
                    "\n")
        self.check_bad(bad, 6)

        bad = os.path.join(d.dir, "bad2.conf")
        rel = [ln for ln in lines if not ln.startswith("maildir ")]
        rel.insert(3, 'maildir = "mail/%d/%n/Maildir"')
        with open(bad, "w") as f:
            f.write("\n".join(rel) + "\n")
        self.check_bad(bad, 4)

    def check_bad(self, path, line):
        r = subprocess.run([LMTPD, "-t", "-c", path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, re.escape(path) + r"\D{0,20}?\b%d\b" % line)

    def test_stale_socket_replaced(self):
        d = self.daemon()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(d.sock_path)
        s.close()                       # a socket file nobody listens on
        self.assertTrue(stat.S_ISSOCK(os.lstat(d.sock_path).st_mode))
        d.start()
        c = self.unix(d)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220)
        c.expect("LHLO client.test", 250)
        c.expect("QUIT", 221)
        # Now the real thing: a daemon killed with SIGKILL leaves its
        # socket behind, and the next start replaces it.
        d.kill_hard()
        self.assertTrue(stat.S_ISSOCK(os.lstat(d.sock_path).st_mode))
        d.start()
        c = self.unix(d)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220)
        c.expect("LHLO client.test", 250)

    def test_regular_file_at_socket_path(self):
        d = self.daemon()
        with open(d.sock_path, "w") as f:
            f.write("precious\n")
        d.port = free_port()
        d.write_conf()
        p = d.spawn()
        try:
            rc = p.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        self.assertIsNotNone(rc, "lmtpd started over a regular file")
        self.assertNotEqual(rc, 0)
        with open(d.sock_path) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_temp_failure_one_recipient(self):
        d = self.daemon()
        ok, bad = "alice@example.org", "bob@example.org"
        md = d.maildir(bad)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), mode=0o700)
        d.chown_tree(os.path.join(d.mail, "example.org"))
        tmp = os.path.join(md, "tmp")
        if IS_ROOT:
            os.chown(tmp, 0, 0)
        os.chmod(tmp, 0o500)
        d.start()
        uids = {proc_uid(p) for p in d.children()}
        if 0 in uids:
            self.skipTest("children run as root: permissions do not bind")
        c = self.open(d)
        msg = sample_message(b"tempfail")
        rr, final = self.transaction(c, [bad, ok], msg)
        self.assertEqual([r[0] for r in rr], [250, 250], rr)
        self.assertEqual(len(final), 2, final)
        code, lines = final[0]
        self.assertEqual(code // 100, 4, lines)
        self.assertTrue(esc_of(lines).startswith("4."), lines)
        self.assertEqual(final[1][0], 250, final)
        self.assert_in_sync(c)
        self.assertEqual(maildir_files(md, "new"), [])
        self.assert_copy(d, ok, msg)


# ------------------------------------------------------------------- main

def run_tests(before=None, after=None):
    """The entry point of every integration file: sys.argv[1] names the
    binary; the tests of __main__ run; one "N passed, M failed" line ends
    the output.  before and after run around the tests."""
    global LMTPD
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.stderr.write("usage: %s path/to/lmtpd [unittest args]\n"
                         % sys.argv[0])
        return 2
    LMTPD = os.path.abspath(sys.argv.pop(1))
    if not os.access(LMTPD, os.X_OK):
        sys.stderr.write("%s: not an executable\n" % LMTPD)
        print("0 passed, 1 failed")
        return 1
    if before is not None:
        before()
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    if after is not None:
        after()
    r = prog.result
    failed = len(r.failures) + len(r.errors) + \
        len(getattr(r, "unexpectedSuccesses", []))
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stdout.flush()
    sys.stderr.flush()
    print(line)
    return 0 if r.wasSuccessful() and r.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(run_tests())
