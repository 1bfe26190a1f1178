#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for the protocol extensions and the hostile-input
limits, against the real daemon: CHUNKING (RFC 3030) over raw sockets,
SMTPUTF8 (RFC 6531) with smtplib.LMTP and raw sockets, the bad command
limit (max_bad_commands), and a swaks LMTP pipelining smoke test.

Usage: python3 tests/integration/test_extensions.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py (Daemon, Client, assert_copy).  Every
socket operation and every subprocess is bounded; every daemon is stopped
by PID in the cleanup.  swaks is optional: without it its test is skipped,
loudly.  swaks (20201014) has no BDAT, so BDAT is driven by hand.  Python
3 standard library only.
"""

import os
import shutil
import smtplib
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

SWAKS_TIMEOUT = 60          # seconds for one swaks run


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def bdat(chunk, last=False):
    """One BDAT command with its chunk (bytes)."""
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


class ExtTestCase(T.LMTPDTestCase):

    def replies(self, c, n):
        return [c.reply() for _ in range(n)]

    def codes(self, replies):
        return [code for code, _ in replies]

    def esc(self, reply):
        return T.esc_of(reply[1])


# ------------------------------------------------------------------- BDAT

class BdatTests(ExtTestCase):

    def test_lhlo_advertises(self):
        c = self.open(lhlo=False)
        code, lines = c.cmd("LHLO client.test")
        self.assertEqual(code, 250, lines)
        kws = [ln[4:].split(" ")[0] for ln in lines[1:]]
        for kw in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME",
                   "CHUNKING", "SMTPUTF8", "SIZE"):
            self.assertIn(kw, kws)
        self.assertNotIn("BINARYMIME", kws)

    def test_pipelined_chunks(self):
        """A whole transaction in one write: chunks are stored as sent,
        with CRLF as LF (also when a CRLF is split between chunks), no
        dot-unstuffing; one reply per chunk, then one per accepted
        recipient after BDAT LAST, in RCPT order."""
        c = self.open()
        parts = [b"Subject: chunks\r\n\r\n.a dot line\r\n..two\r",
                 b"\n.\r\nQUIT\r\n", b"last line\r\n"]
        c.send(b"MAIL FROM:<%s>\r\n" % T.SENDER.encode()
               + b"RCPT TO:<a@example.org>\r\n"
               + b"RCPT TO:<x@elsewhere.test>\r\n"
               + b"RCPT TO:<b@example.org>\r\n"
               + bdat(parts[0]) + bdat(parts[1]) + bdat(parts[2])
               + bdat(b"", last=True) + b"NOOP\r\n")
        r = self.replies(c, 10)
        self.assertEqual(self.codes(r),
                         [250, 250, 550, 250, 250, 250, 250, 250, 250, 250],
                         r)
        self.assertEqual(self.esc(r[2]), "5.1.2")
        self.assertIn("%d octets received" % len(parts[0]), r[4][1][0])
        self.assertIn("<a@example.org> delivered", r[7][1][0])
        self.assertIn("<b@example.org> delivered", r[8][1][0])
        want = b"".join(parts).replace(b"\r\n", b"\n")
        self.assertTrue(want.startswith(b"Subject: chunks\n\n.a dot"))
        self.assertIn(b"\n.\nQUIT\n", want)
        self.assert_copy(self.d, "a@example.org", want)
        self.assert_copy(self.d, "b@example.org", want)
        self.assert_in_sync(c)

    def test_bdat_0_last(self):
        """BDAT 0 LAST alone is an empty message; after a chunk it ends
        the message."""
        c = self.open()
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<e@example.org>\r\n"
               % T.SENDER.encode() + bdat(b"", last=True))
        self.assertEqual(self.codes(self.replies(c, 3)), [250, 250, 250])
        self.assert_copy(self.d, "e@example.org", b"")
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<f@example.org>\r\n"
               % T.SENDER.encode() + bdat(b"one\r\n")
               + bdat(b"", last=True))
        self.assertEqual(self.codes(self.replies(c, 4)),
                         [250, 250, 250, 250])
        self.assert_copy(self.d, "f@example.org", b"one\n")

    def test_refused_chunks_consumed(self):
        """A refused chunk is read whole: the commands inside it never
        run, and the next command works (go-smtp #309)."""
        c = self.open()
        evil = b"QUIT\r\nRSET\r\nMAIL FROM:<x@example.org>\r\n"
        # no MAIL: 503, consumed
        c.send(bdat(evil) + b"NOOP\r\n")
        code, lines = c.reply()
        self.assertEqual((code, T.esc_of(lines)), (503, "5.5.1"), lines)
        self.assertEqual(c.reply()[0], 250)
        # no accepted recipient: 503 for a chunk, nothing for BDAT LAST
        # (RFC 2033 section 4.3), and the transaction is over
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<x@elsewhere.test>\r\n"
               % T.SENDER.encode() + bdat(evil) + bdat(evil, last=True)
               + b"NOOP\r\nRCPT TO:<a@example.org>\r\n")
        r = self.replies(c, 5)
        self.assertEqual(self.codes(r), [250, 550, 503, 250, 503], r)
        # after BDAT LAST: 503, consumed
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<g@example.org>\r\n"
               % T.SENDER.encode() + bdat(b"hi\r\n", last=True)
               + bdat(evil) + b"NOOP\r\n")
        r = self.replies(c, 5)
        self.assertEqual(self.codes(r), [250, 250, 250, 503, 250], r)
        self.assert_copy(self.d, "g@example.org", b"hi\n")
        # a malformed BDAT whose size was read: 501, consumed, and the
        # transaction can no longer deliver
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<h@example.org>\r\n"
               % T.SENDER.encode()
               + b"BDAT %d FIRST\r\n" % len(evil) + evil
               + bdat(b"tail\r\n", last=True) + b"RSET\r\n")
        r = self.replies(c, 5)
        self.assertEqual(self.codes(r), [250, 250, 501, 501, 250], r)
        self.assertEqual(T.maildir_files(self.d.maildir("h@example.org")),
                         [])
        # a BDAT without a readable size: 501, what follows is commands
        c.send(b"BDAT many\r\nNOOP\r\n")
        self.assertEqual(self.codes(self.replies(c, 2)), [501, 250])
        self.assert_in_sync(c)

    def test_over_size_consumed(self):
        """max_message_size counts every chunk: the chunk that crosses it
        gets 552, is read to its end, and so is every later one."""
        d = self.daemon(max_message_size=1000).start()
        c = self.open(d)
        line = b"QUIT " + b"x" * 93 + b"\r\n"       # 100 octets
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\n"
               b"RCPT TO:<b@example.org>\r\n" % T.SENDER.encode()
               + bdat(line * 9) + bdat(line * 2) + bdat(line, last=True)
               + b"NOOP\r\n")
        r = self.replies(c, 8)
        self.assertEqual(self.codes(r),
                         [250, 250, 250, 250, 552, 552, 552, 250], r)
        self.assertEqual(self.esc(r[4]), "5.3.4")
        self.assertEqual(T.maildir_files(d.maildir("a@example.org")), [])
        # exactly the limit is fine
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\n"
               % T.SENDER.encode() + bdat(line * 9)
               + bdat(line, last=True))
        self.assertEqual(self.codes(self.replies(c, 4)),
                         [250, 250, 250, 250])
        self.assert_copy(d, "a@example.org", (line * 10).replace(
            b"\r\n", b"\n"))
        self.assert_in_sync(c)

    def test_data_after_bdat(self):
        c = self.open()
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\n"
               % T.SENDER.encode() + bdat(b"abc") + b"DATA\r\n"
               + b"RCPT TO:<b@example.org>\r\nRSET\r\n")
        r = self.replies(c, 6)
        self.assertEqual(self.codes(r), [250, 250, 250, 503, 503, 250], r)
        rr, final = self.transaction(c, ["a@example.org"],
                                     b"Subject: data\n\nafter\n")
        self.assertEqual([x[0] for x in final], [250])
        self.assert_copy(self.d, "a@example.org", b"Subject: data\n\nafter\n")

    def test_big_chunks(self):
        """Large chunks, the data split in many writes."""
        c = self.open()
        body = b"".join(b"line %06d %s\r\n" % (i, b"y" * 60)
                        for i in range(20000))
        c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<big@example.org>\r\n"
               % T.SENDER.encode())
        self.assertEqual(self.codes(self.replies(c, 2)), [250, 250])
        half = len(body) // 2
        c.send(bdat(body[:half]))
        self.assertEqual(c.reply()[0], 250)
        c.send(b"BDAT %d LAST\r\n" % (len(body) - half))
        rest = body[half:]
        for i in range(0, len(rest), 7777):
            c.send(rest[i:i + 7777])
        self.assertEqual(c.reply()[0], 250)
        self.assert_copy(self.d, "big@example.org",
                         body.replace(b"\r\n", b"\n"))


# --------------------------------------------------------------- SMTPUTF8

UTF8_LOCAL = "用户"
UTF8_SENDER = "jörg@bücher.example"


class Utf8Tests(ExtTestCase):

    def message(self):
        return ("From: Jörg <%s>\r\nTo: <%s@example.org>\r\n"
                "Subject: grüße ☃\r\n\r\nbody é\r\n.dot\r\n"
                % (UTF8_SENDER, UTF8_LOCAL)).encode("utf-8")

    def test_smtplib_smtputf8(self):
        s = smtplib.LMTP("127.0.0.1", self.d.port, timeout=T.IO_TIMEOUT)
        self.addCleanup(s.close)
        rcpt = UTF8_LOCAL + "@example.org"
        refused = s.sendmail(UTF8_SENDER, [rcpt], self.message(),
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertEqual(refused, {})
        s.quit()
        md = self.d.maildir(rcpt)
        # the Maildir path holds the UTF-8 octets of the local part
        self.assertIn(UTF8_LOCAL.encode("utf-8"),
                      os.listdir(os.path.join(self.d.mail,
                                              "example.org").encode()))
        self.assertTrue(os.path.isdir(os.path.join(md, "new")))
        self.assert_copy(self.d, rcpt, self.message().replace(
            b"\r\n", b"\n"), sender=UTF8_SENDER)

    def test_smtplib_sees_extensions(self):
        """smtplib.LMTP reads SMTPUTF8 and 8BITMIME from LHLO (it sends
        SMTPUTF8 only then; test_8bit_without_smtputf8 checks the server
        side of a client that does not)."""
        s = smtplib.LMTP("127.0.0.1", self.d.port, timeout=T.IO_TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo_or_helo_if_needed()
        self.assertTrue(s.has_extn("smtputf8"))
        self.assertTrue(s.has_extn("8bitmime"))
        s.quit()

    def test_raw_smtputf8(self):
        c = self.open()
        c.send("MAIL FROM:<%s> SMTPUTF8\r\n" % UTF8_SENDER)
        self.assertEqual(c.reply()[0], 250)
        for rcpt in ("josé@example.org", "JOSÉ@Example.ORG",
                     "Josè@example.org"):
            c.send("RCPT TO:<%s>\r\n" % rcpt)
            code, lines = c.reply()
            self.assertEqual(code, 250, lines)
        c.send(b"DATA\r\n")
        self.assertEqual(c.reply()[0], 354)
        msg = "Subject: é\r\n\r\nx\r\n".encode()
        c.send(msg + b".\r\n")
        r = self.replies(c, 3)
        self.assertEqual(self.codes(r), [250, 250, 250], r)
        # replies stay ASCII: the UTF-8 address shows as '?'
        for _, lines in r:
            self.assertTrue(all(ord(ch) < 128 for ch in lines[0]), lines)
        # only ASCII letters are folded: JOSÉ is "josÉ", Josè is "josè"
        names = sorted(os.listdir(os.path.join(self.d.mail,
                                               "example.org").encode()))
        self.assertEqual(names, sorted(["josé".encode(), "josÉ".encode(),
                                        "josè".encode()]))
        for rcpt in ("josé@example.org", "josÉ@example.org",
                     "josè@example.org"):
            self.assert_copy(self.d, rcpt, b"Subject: \xc3\xa9\n\nx\n",
                             sender=UTF8_SENDER)

    def test_8bit_without_smtputf8(self):
        """RFC 6531 section 3.5: 550 5.6.7 at MAIL, 553 5.6.7 at RCPT."""
        c = self.open()
        c.send("MAIL FROM:<%s>\r\n" % UTF8_SENDER)
        code, lines = c.reply()
        self.assertEqual((code, T.esc_of(lines)), (550, "5.6.7"), lines)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.send("RCPT TO:<josé@example.org>\r\n")
        code, lines = c.reply()
        self.assertEqual((code, T.esc_of(lines)), (553, "5.6.7"), lines)
        c.send(b"DATA\r\n")
        self.assertEqual(c.reply()[0], 503)
        c.expect("RSET", 250)
        self.assert_in_sync(c)

    def test_bad_utf8_and_controls(self):
        c = self.open()
        c.expect("MAIL FROM:<%s> SMTPUTF8" % T.SENDER, 250)
        tests = [
            (b"RCPT TO:<a\xc0\xaf@example.org>\r\n", 501, "5.1.3"),
            (b"RCPT TO:<a\xff@example.org>\r\n", 501, "5.1.3"),
            (b"RCPT TO:<a\xed\xa0\x80@example.org>\r\n", 501, "5.1.3"),
            # C1 control U+0085: valid UTF-8, unsafe as a file name
            (b"RCPT TO:<a\xc2\x85@example.org>\r\n", 550, "5.1.3"),
            (b"RCPT TO:<\"a/\xc3\xa9\"@example.org>\r\n", 550, "5.1.3"),
        ]
        for cmd, code, esc in tests:
            c.send(cmd)
            got, lines = c.reply()
            self.assertEqual((got, T.esc_of(lines)), (code, esc),
                             (cmd, lines))
        c.send(b"MAIL FROM:<x@example.org> SMTPUTF8=yes\r\n")
        self.assertEqual(c.reply()[0], 503)     # nested: still open
        c.expect("RSET", 250)
        c.send(b"MAIL FROM:<x@example.org> SMTPUTF8=yes\r\n")
        code, lines = c.reply()
        self.assertEqual((code, T.esc_of(lines)), (501, "5.5.4"), lines)
        self.assert_in_sync(c)
        self.assertEqual(os.listdir(self.d.mail), [])


# ------------------------------------------------------------ bad commands

class BadCommandTests(ExtTestCase):

    def test_default_limit(self):
        """21 bad commands in a row: 21 replies, then 421 and close."""
        c = self.open()
        c.send(b"GARBAGE\r\n" * 21 + b"NOOP\r\n")
        r = self.replies(c, 22)
        self.assertEqual(self.codes(r[:21]), [500] * 21)
        code, lines = r[21]
        self.assertEqual((code, T.esc_of(lines)), (421, "4.7.0"), lines)
        self.assertIn("too many errors", lines[0])
        self.assertTrue(c.at_eof())

    def test_run_ends_with_success(self):
        c = self.open()
        for _ in range(3):
            c.send(b"GARBAGE\r\n" * 20 + b"NOOP\r\n")
            r = self.replies(c, 21)
            self.assertEqual(self.codes(r), [500] * 20 + [250])
        self.assertFalse(c.at_eof(timeout=0.5))
        c.sock.settimeout(T.IO_TIMEOUT)
        self.assert_in_sync(c)

    def test_unknown_users_do_not_count(self):
        """Postfix sends many recipients, some unknown: 550s are no
        error of the client's."""
        d = self.daemon(users=["known@example.org", "admin@example.org"])
        d.start()
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        c.send(b"".join(b"RCPT TO:<u%d@example.org>\r\n" % i
                        for i in range(40)))
        r = self.replies(c, 40)
        self.assertEqual(set(self.codes(r)), {550})
        self.assertEqual({self.esc(x) for x in r}, {"5.1.1"})
        c.expect("RCPT TO:<known@example.org>", 250)
        c.send(b"DATA\r\n")
        self.assertEqual(c.reply()[0], 354)
        c.send(b"hello\r\n.\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assert_copy(d, "known@example.org", b"hello\n")

    def test_configured(self):
        d = self.daemon(max_bad_commands=2).start()
        c = self.open(d)
        c.send(b"MAIL FROM:<a@>\r\nEXPN x\r\nDATA\r\n")
        r = self.replies(c, 4)
        self.assertEqual(self.codes(r), [501, 502, 503, 421], r)
        self.assertTrue(c.at_eof())

    def test_unlimited(self):
        d = self.daemon(max_bad_commands=0).start()
        c = self.open(d)
        c.send(b"GARBAGE\r\n" * 200)
        r = self.replies(c, 200)
        self.assertEqual(set(self.codes(r)), {500})
        self.assert_in_sync(c)


# ------------------------------------------------------------------ swaks

class SwaksTests(ExtTestCase):

    def test_swaks_lmtp_pipelining(self):
        """swaks speaks LMTP with PIPELINING (it has no BDAT): two
        recipients, one reply each after the dot."""
        swaks = shutil.which("swaks")
        if swaks is None:
            loud_skip(self, "swaks is not installed (apt-get install swaks)")
        argv = [swaks, "--server", "127.0.0.1", "--port", str(self.d.port),
                "--protocol", "LMTP", "--pipeline", "--from", T.SENDER,
                "--to", "s1@example.org,s2@example.org",
                "--header", "Subject: swaks smoke test",
                "--body", "hello from swaks\n.leading dot\n",
                "--timeout", "10", "--hide-all"]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=SWAKS_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout.decode("latin-1"))
        for rcpt in ("s1@example.org", "s2@example.org"):
            copies = self.assert_copy(self.d, rcpt, None)
            self.assertIn(b"Subject: swaks smoke test\n", copies[0])
            self.assertIn(b"\n.leading dot\n", copies[0])


if __name__ == "__main__":
    sys.exit(T.run_tests())
