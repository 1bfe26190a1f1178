#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for STARTTLS (RFC 3207) against the real daemon: the
advertisement (TCP yes, Unix socket no), a delivery under TLS with
Python's ssl module ("with LMTPS" in Received, RFC 3848), openssl
s_client -starttls lmtp, the CVE-2011-0411 case (bytes pipelined after
STARTTLS are dropped), tls = required (530), 501 and 503, a client that
sends garbage instead of a ClientHello or nothing at all (the command
deadline), the certificate replaced by SIGHUP (and a bad one refused by
the reload and by -t), swaks --tls, and OpenSSL's loading: libssl and
libcrypto are mapped in the master and every child when TLS is on, in no
process when it is off, and a libssl that cannot be loaded or lacks a
function fails the start and -t, naming what is missing.

Usage: python3 tests/integration/test_tls.py ./lmtpd [unittest args]

Certificates are self-signed, made with openssl req in each daemon's
temporary directory.  Every socket operation and every subprocess is
bounded; every daemon is stopped by PID in the cleanup.  swaks and
openssl s_client are optional: without them their tests are skipped,
loudly.  Python 3 standard library only, plus the openssl command.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

TOOL_TIMEOUT = 60           # seconds for one openssl or swaks run
RELOAD_TIMEOUT = 10         # seconds for a SIGHUP to take effect
OPENSSL = shutil.which("openssl")
CC = shutil.which("cc") or shutil.which("gcc")
# The names lmtpd may dlopen: the soname of OpenSSL 3 or 1.1.1, then the
# development link.
LIBSSL_NAMES = ("libssl.so.3", "libssl.so.1.1", "libssl.so")


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def make_cert(directory, name, cn="localhost"):
    """A self-signed RSA certificate and its key: (cert path, key path)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=" + cn, "-days", "1",
                    "-keyout", key, "-out", cert],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT, check=True)
    # Read again by the daemon after it dropped root (SIGHUP).
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def fingerprint(cert_path):
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def openssl_mapped(pid):
    """Which of libssl and libcrypto are mapped into pid."""
    found = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            m = re.search(r"/(libssl|libcrypto)\.so", line)
            if m:
                found.add(m.group(1))
    return sorted(found)


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TLSTestCase(T.LMTPDTestCase):

    daemon_opts = None      # each test starts its own, with a certificate
    tls_mode = None         # the `tls` option; None leaves the default

    def setUp(self):
        super().setUp()
        if OPENSSL is None:
            loud_skip(self, "openssl is not installed (apt-get install "
                      "openssl)")
        self.d = self.start_tls_daemon()

    def start_tls_daemon(self, **opts):
        d = self.daemon(**opts)
        d.cert, d.key = make_cert(d.dir, "server")
        d.chown_tree(d.dir)
        d.opts["tls_cert"] = d.cert
        d.opts["tls_key"] = d.key
        if self.tls_mode is not None:
            d.opts["tls"] = self.tls_mode
        d.port = T.free_port()      # start() picks its own again
        d.write_conf()
        p = subprocess.run([T.LMTPD, "-t", "-c", d.conf_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TOOL_TIMEOUT)
        if b"built without TLS" in p.stdout:
            loud_skip(self, "lmtpd was built without TLS "
                      "(./configure --without-openssl)")
        return d.start()

    def lhlo(self, c):
        code, lines = c.cmd("LHLO client.test")
        self.assertEqual(code, 250, lines)
        return [ln[4:] for ln in lines]

    def starttls(self, c):
        """STARTTLS, 220, then the handshake over the same socket."""
        self.assertEqual(c.buf, b"")
        c.expect("STARTTLS", 220, "2.0.0")
        self.assertEqual(c.buf, b"", "bytes after the 220")
        c.sock = client_context().wrap_socket(c.sock)
        self.transcript.append("-- TLS %s %s" % (c.sock.version(),
                                                  c.sock.cipher()[0]))
        return c


class AdvertiseTests(TLSTestCase):

    def test_tcp_advertises_starttls(self):
        c = self.open(lhlo=False)
        self.assertIn("STARTTLS", self.lhlo(c))

    def test_unix_socket_does_not(self):
        c = self.unix()
        self.addCleanup(c.close)
        self.assertNotIn("STARTTLS", self.lhlo(c))
        c.expect("STARTTLS", 502, "5.5.1")
        # Nothing is required there either.
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)

    def test_parameter_is_501(self):
        c = self.open()
        c.expect("STARTTLS now", 501, "5.5.4")
        self.assert_in_sync(c)

    def test_config_test_checks_the_pair(self):
        """-t loads the certificate: a key that does not match fails."""
        cert2, key2 = make_cert(self.d.dir, "other")
        self.d.opts["tls_key"] = key2
        self.d.write_conf()
        p = subprocess.run([T.LMTPD, "-t", "-c", self.d.conf_path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TOOL_TIMEOUT)
        out = p.stdout.decode("latin-1")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("tls_key", out)


class DeliveryTests(TLSTestCase):

    def test_delivery_after_starttls(self):
        c = self.open()
        self.starttls(c)
        # RFC 3207 §4.2: no new greeting; LHLO again; no STARTTLS offered.
        self.assertNotIn("STARTTLS", self.lhlo(c))
        msg = T.sample_message(b"tls")
        rr, final = self.transaction(c, ["alice@example.org"], msg)
        self.assertEqual([code for code, _ in rr], [250])
        self.assertEqual([code for code, _ in final], [250], final)
        c.expect("QUIT", 221)
        copies = self.assert_copy(self.d, "alice@example.org", msg)
        self.assertEqual(len(copies), 1)
        md = self.d.maildir("alice@example.org")
        name = T.maildir_files(md, "new")[0]
        with open(os.path.join(md, "new", name), "rb") as f:
            head = f.read(2048)
        self.assertIn(b" (lmtpd) with LMTPS id ", head)
        self.assertIn(b"Received: from client.test ", head)
        self.assertRegex(self.d.log(), r"STARTTLS from \[127\.0\.0\.1\]: "
                         r"TLSv1\.[23] \S+")

    def test_second_starttls_is_503(self):
        c = self.open()
        self.starttls(c)
        self.assertNotIn("STARTTLS", self.lhlo(c))
        c.expect("STARTTLS", 503, "5.5.1")
        c.expect("NOOP", 250)

    def test_pipelined_after_starttls_dropped(self):
        """CVE-2011-0411: RSET sent in the same packet as STARTTLS is never
        answered, neither before the handshake nor after it."""
        c = self.open()
        c.send(b"STARTTLS\r\nRSET\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 220, lines)
        self.assertEqual(c.buf, b"")
        c.sock.settimeout(0.5)
        try:
            extra = c.sock.recv(4096)
        except socket.timeout:
            extra = b""
        c.sock.settimeout(T.IO_TIMEOUT)
        self.assertEqual(extra, b"", "a reply before the handshake")
        c.sock = client_context().wrap_socket(c.sock)
        # The first reply under TLS is LHLO's, not a 250 for RSET.
        code, lines = c.cmd("LHLO client.test")
        self.assertEqual(code, 250, lines)
        self.assertEqual(lines[0], "250-" + lines[0][4:])
        self.assertGreater(len(lines), 1, lines)
        c.expect("NOOP", 250, "2.0.0")
        self.assert_in_sync(c)

    def test_openssl_s_client(self):
        if OPENSSL is None:
            loud_skip(self, "openssl is not installed")
        argv = [OPENSSL, "s_client", "-starttls", "lmtp", "-connect",
                "127.0.0.1:%d" % self.d.port, "-crlf", "-ign_eof"]
        p = subprocess.run(argv, input=b"LHLO s-client.test\nQUIT\n",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TOOL_TIMEOUT)
        out = p.stdout.decode("latin-1")
        if "-starttls" in out and "lmtp" in out and "unknown" in out.lower():
            loud_skip(self, "this openssl has no -starttls lmtp")
        self.assertIn("BEGIN CERTIFICATE", out)
        self.assertRegex(out, r"(?m)^250[- ]")
        self.assertRegex(out, r"(?m)^221 ")
        self.assertRegex(self.d.log(), r"STARTTLS from \[127\.0\.0\.1\]")

    def test_swaks_tls(self):
        swaks = shutil.which("swaks")
        if swaks is None:
            loud_skip(self, "swaks is not installed (apt-get install swaks)")
        argv = [swaks, "--server", "127.0.0.1", "--port", str(self.d.port),
                "--protocol", "LMTP", "--tls", "--from", T.SENDER,
                "--to", "alice@example.org",
                "--header", "Subject: swaks tls test",
                "--body", "hello over tls\n", "--timeout", "10"]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TOOL_TIMEOUT)
        out = p.stdout.decode("latin-1")
        if "requires Net::SSLeay" in out:
            loud_skip(self, "swaks has no TLS without Net::SSLeay "
                      "(apt-get install libnet-ssleay-perl)")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("TLS started", out)
        copies = self.assert_copy(self.d, "alice@example.org", None)
        self.assertIn(b"Subject: swaks tls test\n", copies[0])


class RequiredTests(TLSTestCase):

    tls_mode = "required"

    def test_mail_before_starttls_is_530(self):
        c = self.open()
        lines = c.expect("MAIL FROM:<%s>" % T.SENDER, 530, "5.7.0")
        self.assertIn("must issue a STARTTLS command first", lines[-1])
        c.expect("RCPT TO:<alice@example.org>", 530, "5.7.0")
        self.starttls(c)
        self.lhlo(c)
        msg = T.sample_message(b"required")
        rr, final = self.transaction(c, ["alice@example.org"], msg)
        self.assertEqual([code for code, _ in final], [250], final)
        self.assert_copy(self.d, "alice@example.org", msg)

    def test_unix_socket_not_required(self):
        c = self.unix()
        self.addCleanup(c.close)
        self.assertNotIn("STARTTLS", self.lhlo(c))
        msg = T.sample_message(b"unix")
        rr, final = self.transaction(c, ["alice@example.org"], msg)
        self.assertEqual([code for code, _ in final], [250], final)


class HandshakeFailureTests(TLSTestCase):

    def start_tls_daemon(self, **opts):
        # One child: the one that saw the garbage must serve the next.
        return super().start_tls_daemon(min_spare=1, max_spare=1,
                                        max_children=1, **opts)

    def test_garbage_instead_of_client_hello(self):
        c = self.open()
        c.expect("STARTTLS", 220, "2.0.0")
        c.send(b"this is not a TLS ClientHello\r\n" * 4)
        self.assertTrue(c.at_eof(), "the connection stayed open")
        c.close()
        deadline = time.monotonic() + 5
        while "handshake failed" not in self.d.log() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("handshake failed", self.d.log())
        c2 = self.open()
        self.starttls(c2)
        self.lhlo(c2)
        c2.expect("QUIT", 221)


class HandshakeDeadlineTests(TLSTestCase):

    def start_tls_daemon(self, **opts):
        return super().start_tls_daemon(command_timeout=1, **opts)

    def test_silent_client_times_out(self):
        """A client that never sends its ClientHello is closed at the
        STARTTLS command's deadline (command_timeout)."""
        c = self.open()
        c.expect("STARTTLS", 220, "2.0.0")
        start = time.monotonic()
        self.assertTrue(c.at_eof(timeout=8), "still open")
        self.assertLess(time.monotonic() - start, 6)
        deadline = time.monotonic() + 5
        while "handshake timed out" not in self.d.log() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("handshake timed out", self.d.log())


class ReloadTests(TLSTestCase):

    def peer_fingerprint(self):
        c = self.open()
        self.starttls(c)
        der = c.sock.getpeercert(binary_form=True)
        c.cmd("QUIT")
        c.close()
        return hashlib.sha256(der).hexdigest()

    def wait_log(self, text, count):
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while self.d.log().count(text) < count and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(self.d.log().count(text), count,
                                "no %r after SIGHUP" % text)

    def test_sighup_replaces_certificate(self):
        old = fingerprint(self.d.cert)
        self.assertEqual(self.peer_fingerprint(), old)
        new_cert, new_key = make_cert(self.d.dir, "new", cn="new.test")
        self.d.chown_tree(self.d.dir)
        new = fingerprint(new_cert)
        self.assertNotEqual(new, old)
        self.d.opts["tls_cert"] = new_cert
        self.d.opts["tls_key"] = new_key
        self.d.write_conf()
        os.kill(self.d.proc.pid, signal.SIGHUP)
        self.wait_log("configuration reloaded", 1)
        # Children forked before the reload retire; new ones use the new.
        deadline = time.monotonic() + RELOAD_TIMEOUT
        seen = self.peer_fingerprint()
        while seen != new and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = self.peer_fingerprint()
        self.assertEqual(seen, new)

        # A bad certificate is refused: the old configuration stays.
        with open(self.d.opts["tls_cert"], "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbroken\n"
                    "-----END CERTIFICATE-----\n")
        os.kill(self.d.proc.pid, signal.SIGHUP)
        self.wait_log("reload failed", 1)
        self.assertIn("tls_cert", self.d.log().split("reload failed")[-1])
        for _ in range(3):
            self.assertEqual(self.peer_fingerprint(), new)


class NotMapped:
    """Without TLS no process maps OpenSSL: its relocated data would be
    in every child's RSS (TestChildMemory)."""

    def assert_not_mapped(self):
        c = self.open()
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        busy = T.pid_holding_inode(self.d.children(), T.server_socket_inode(
            self.d.port, c.local_port()))
        self.assertIsNotNone(busy, "no child holds the connection")
        pids = [self.d.proc.pid] + T.children_of(self.d.proc.pid,
                                                 with_status=True)
        self.assertIn(busy, pids)
        for pid in pids:
            self.assertEqual(openssl_mapped(pid), [], "pid %d" % pid)
        c.expect("QUIT", 221)


class NotLoadedTests(NotMapped, T.LMTPDTestCase):

    def test_without_tls_cert(self):
        self.assert_not_mapped()


class OffNotLoadedTests(NotMapped, TLSTestCase):
    """A certificate with tls = off builds no context: nothing loaded."""

    tls_mode = "off"

    def test_tls_off(self):
        self.assert_not_mapped()


class LoadedTests(TLSTestCase):

    def test_master_and_children_map_openssl(self):
        """Loaded by the master at start, so the children inherit it and
        nothing is loaded per connection."""
        pids = [self.d.proc.pid] + T.children_of(self.d.proc.pid,
                                                 with_status=True)
        self.assertGreater(len(pids), 1, "no children")
        for pid in pids:
            self.assertEqual(openssl_mapped(pid), ["libcrypto", "libssl"],
                             "pid %d" % pid)
        c = self.open()
        self.starttls(c)
        c.expect("LHLO client.test", 250)
        c.expect("QUIT", 221)

    def fake_libssl(self, source):
        """A directory with lib*.so files made from source, or with source
        itself when it is bytes; for LD_LIBRARY_PATH."""
        lib = os.path.join(self.d.dir, "fakelib")
        os.mkdir(lib)
        for name in LIBSSL_NAMES:
            path = os.path.join(lib, name)
            if isinstance(source, bytes):
                with open(path, "wb") as f:
                    f.write(source)
                continue
            c_path = os.path.join(lib, "fake.c")
            with open(c_path, "w") as f:
                f.write(source)
            subprocess.run([CC, "-shared", "-fPIC", "-o", path, c_path],
                           stdin=subprocess.DEVNULL, timeout=TOOL_TIMEOUT,
                           check=True)
        os.chmod(lib, 0o755)
        return lib

    def assert_start_fails(self, lib, pattern):
        env = dict(os.environ, LD_LIBRARY_PATH=lib)
        for args, status in ((["-t"], 1), (["-f"], 78)):    # EX_CONFIG
            p = subprocess.run([T.LMTPD] + args + ["-c", self.d.conf_path],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env,
                               timeout=TOOL_TIMEOUT)
            out = p.stdout.decode("latin-1")
            self.assertEqual(p.returncode, status, out)
            self.assertRegex(out, "option 'tls_cert': " + pattern)

    def test_missing_function_fails_the_start(self):
        if CC is None:
            loud_skip(self, "no C compiler for the fake libssl")
        lib = self.fake_libssl("int lmtpd_fake_libssl;\n")
        self.assert_start_fails(lib, r"cannot load OpenSSL: "
                                r"libssl\.so[.0-9]* has no [A-Za-z_]+\n")

    def test_unloadable_library_fails_the_start(self):
        lib = self.fake_libssl(b"not a library\n")
        self.assert_start_fails(lib, r"cannot load OpenSSL: "
                                r"\S*fakelib/libssl\.so[.0-9]*: ")


if __name__ == "__main__":
    sys.exit(T.run_tests())
