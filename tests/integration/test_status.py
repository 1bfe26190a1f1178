#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for what lmtpd tells about itself: `lmtpd -s` over
the status socket, and the Prometheus text on metrics_listen, both served
by the status process, which the master brings back when it dies.

Usage: python3 tests/integration/test_status.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py.  Loopback only, every wait bounded,
every daemon stopped by PID.  Python 3 standard library only.
"""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402


def wait_for(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


def listening_inode(port):
    """The inode of the socket listening on 127.0.0.1:port, or None."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fld = line.split()
            if int(fld[1].split(":")[1], 16) == port and fld[3] == "0A":
                return fld[9]
    return None


def holders(pids, inode):
    out = []
    for p in pids:
        try:
            for fd in os.listdir("/proc/%d/fd" % p):
                if os.readlink("/proc/%d/fd/%s" % (p, fd)) == \
                        "socket:[%s]" % inode:
                    out.append(p)
                    break
        except OSError:
            pass
    return out


class StatusTestCase(T.LMTPDTestCase):
    daemon_opts = None

    def start(self, **opts):
        self.metrics_port = T.free_port()
        d = self.daemon(users=["alice@example.org", "bob@example.org",
                               "admin@example.org"],
                        metrics_listen="inet:127.0.0.1:%d"
                        % self.metrics_port, **opts)
        d.opts.setdefault("status_socket",
                          os.path.join(d.dir, "status.sock"))
        return d.start()

    def status(self, d):
        r = subprocess.run([T.LMTPD, "-s", "-c", d.conf_path],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        self.transcript.append("$ lmtpd -s -> %d\n%s%s"
                               % (r.returncode, out, err))
        return r.returncode, out, err

    def metrics(self, path="/metrics"):
        c = http.client.HTTPConnection("127.0.0.1", self.metrics_port,
                                       timeout=5)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), \
                r.read().decode()
        finally:
            c.close()

    def status_process(self, d):
        """The child of the master that holds the metrics listener."""
        inode = listening_inode(self.metrics_port)
        self.assertIsNotNone(inode, "nothing listens on metrics_listen")
        found = holders(T.children_of(d.proc.pid, with_status=True), inode)
        if len(found) != 1:
            return None
        self.assertEqual(T.proc_stat(found[0])[0], T.STATUS_COMM)
        return found[0]

    def deliver_some(self, d):
        """Two copies sent, one recipient refused at RCPT."""
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.expect("RCPT TO:<alice@example.org>", 250)
        c.expect("RCPT TO:<nobody@example.org>", 550, "5.1.1")
        c.expect("RCPT TO:<bob@example.org>", 250)
        c.expect("DATA", 354)
        c.send(T.wire(T.sample_message(b"status")) + b".\r\n")
        self.assertEqual([c.reply()[0], c.reply()[0]], [250, 250])
        c.expect("QUIT", 221)
        sizes = 0
        for rcpt in ("alice@example.org", "bob@example.org"):
            new = os.path.join(d.maildir(rcpt), "new")
            for name in os.listdir(new):
                sizes += os.path.getsize(os.path.join(new, name))
        return sizes


class TestStatusView(StatusTestCase):

    def test_s_prints_pool_and_counters(self):
        d = self.start()
        written = self.deliver_some(d)
        rc, out, err = self.status(d)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^lmtpd \S+, master pid %d, up " % d.proc.pid)
        m = re.search(r"children: (\d+) busy, (\d+) idle, (\d+) starting "
                      r"\(max 8\)", out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(2)) + int(m.group(3)), 2, out)
        self.assertIn("messages: 1\n", out)
        self.assertIn("recipients: 2 sent, 0 deferred, 0 bounced, "
                      "1 rejected at RCPT\n", out)
        self.assertIn("bytes written: %d\n" % written, out)
        m = re.search(r"connections: (\d+) served, 0 refused", out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(int(m.group(1)), 2, out)

    def test_s_without_a_daemon(self):
        d = self.daemon(status_socket="/nonexistent-lmtpd/status.sock")
        d.port = T.free_port()
        d.write_conf()
        rc, out, err = self.status(d)
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent-lmtpd/status.sock", err)
        self.assertIn("is lmtpd running?", err)

    def test_s_with_no_status_socket(self):
        d = self.daemon(status_socket="")
        d.port = T.free_port()
        d.write_conf()
        rc, out, err = self.status(d)
        self.assertEqual(rc, 1)
        self.assertIn("no status_socket", err)


class TestMetrics(StatusTestCase):

    def test_prometheus_text(self):
        d = self.start()
        written = self.deliver_some(d)
        code, ctype, body = self.metrics()
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        self.assertIn('lmtpd_recipients_total{status="sent"} 2\n', body)
        self.assertIn('lmtpd_recipients_total{status="rejected"} 1\n', body)
        self.assertIn("lmtpd_messages_total 1\n", body)
        self.assertIn("lmtpd_written_bytes_total %d\n" % written, body)
        self.assertIn("lmtpd_children_max 8\n", body)
        for line in body.splitlines():
            self.assertRegex(line, r"^(# (HELP|TYPE) \w+ .+|lmtpd_\w+"
                             r"(\{\w+=\"\w+\"\})? \d+)$")
        self.assertEqual(self.metrics("/nothing")[0], 404)

    def test_status_process_comes_back(self):
        d = self.start()
        self.assertTrue(wait_for(lambda: self.status_process(d), 5))
        victim = self.status_process(d)
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(wait_for(
            lambda: self.status_process(d) not in (None, victim), 5),
            "no new status process")
        self.assertEqual(self.metrics()[0], 200)
        self.assertEqual(self.status(d)[0], 0)
        # The pool never noticed: mail still flows.
        self.deliver_some(d)

    def test_metrics_address_in_use_is_fatal(self):
        import socket
        busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        d = self.daemon(metrics_listen="inet:127.0.0.1:%d"
                        % busy.getsockname()[1])
        d.port = T.free_port()
        d.write_conf()
        r = subprocess.run([T.LMTPD, "-f", "-c", d.conf_path],
                           capture_output=True, timeout=10,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn(b"metrics_listen", r.stderr)


if __name__ == "__main__":
    sys.exit(T.run_tests())
