#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests for delivery depth, against the real daemon: the
users_file (paths, owners, quotas, catch-alls, reload without SIGHUP, a
file that becomes unreadable), passwd users delivered under their own uid
(root only: test users are created and removed), +detail folders,
Maildir++ quota at RCPT and after the data, the free-space guard at MAIL,
the duplicate journal on a retried transaction, loop refusal, hard-linked
copies (delivered_to = none), the tmp/ janitor, `lmtpd -t address` and
`lmtpd deliver` (LDA mode).

Usage: python3 tests/integration/test_delivery.py ./lmtpd [unittest args]

Reuses the helpers of test_lmtpd.py.  Every socket operation and every
subprocess is bounded; every daemon is stopped by PID in the cleanup.
Python 3 standard library only.
"""

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

RUN_TIMEOUT = 30            # seconds for one lmtpd -t or lmtpd deliver


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def headers_of(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.split(b"\n\n", 1)[0], data


class Base(T.LMTPDTestCase):
    daemon_opts = None

    def start(self, **opts):
        self.d = self.daemon(**opts).start()
        return self.d

    def rcpt(self, c, addr, params=""):
        return c.cmd("RCPT TO:<%s>%s" % (addr, params))

    def files(self, md, sub="new"):
        return T.maildir_files(md, sub)


# ------------------------------------------------------------- users_file

class TestUsersFile(Base):

    def test_fields_and_catch_all(self):
        d = self.daemon(users=["admin@example.org"])
        # bob's own path; everybody at example.net through the catch-all
        bob_md = os.path.join(d.mail, "elsewhere", "bob")
        with open(d.opts["users_file"], "w") as f:
            f.write("admin@example.org\nalice@example.org\n"
                    "bob@example.org %s\n@example.net\n" % bob_md)
        d.start()
        c = self.open(d)
        msg = T.sample_message(b"fields")
        rr, final = self.transaction(
            c, ["alice@example.org", "bob@example.org", "carol@example.org",
                "anyone@example.net"], msg)
        self.assertEqual([r[0] for r in rr], [250, 250, 550, 250], rr)
        self.assertEqual(T.esc_of(rr[2][1]), "5.1.1")
        self.assertEqual([f[0] for f in final], [250, 250, 250], final)
        self.assert_copy(d, "alice@example.org", msg)
        self.assert_copy(d, "anyone@example.net", msg)
        self.assertEqual(len(self.files(bob_md)), 1)

    def test_reloaded_when_changed(self):
        d = self.start(users=["admin@example.org", "alice@example.org"])
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        self.assertEqual(self.rcpt(c, "dave@example.org")[0], 550)
        path = d.opts["users_file"]
        with open(path + ".new", "w") as f:
            f.write("admin@example.org\nalice@example.org\n"
                    "dave@example.org\n")
        os.chmod(path + ".new", 0o644)
        os.rename(path + ".new", path)
        # No SIGHUP: the child notices the new file within a second.
        self.assertTrue(wait_for(
            lambda: self.rcpt(c, "dave@example.org")[0] == 250, 5, 0.3))
        self.assertNotIn("SIGHUP", d.log())

    def test_unreadable_is_a_temporary_failure(self):
        # As root the daemon runs as nobody, so mode 0 locks it out too.
        d = self.start(users=["admin@example.org", "alice@example.org"])
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        self.assertEqual(self.rcpt(c, "alice@example.org")[0], 250)
        os.chmod(d.opts["users_file"], 0)
        # Touch it so the next lookup re-reads it.
        os.utime(d.opts["users_file"], (time.time() + 5,) * 2)
        deadline = time.monotonic() + 5
        code, lines = self.rcpt(c, "alice@example.org")
        while code == 250 and time.monotonic() < deadline:
            time.sleep(0.3)
            code, lines = self.rcpt(c, "alice@example.org")
        self.assertEqual(code, 451, lines)
        self.assertEqual(T.esc_of(lines), "4.4.3")
        code, lines = self.rcpt(c, "nobody-such@example.org")
        self.assertEqual(code, 451, "an unknown user must not get 550 now")
        os.chmod(d.opts["users_file"], 0o644)
        os.utime(d.opts["users_file"], (time.time() + 10,) * 2)
        self.assertTrue(wait_for(
            lambda: self.rcpt(c, "alice@example.org")[0] == 250, 5, 0.3))


# ----------------------------------------------------------------- passwd

@unittest.skipUnless(T.IS_ROOT, "creates system users: needs root")
class TestPasswd(Base):
    USERS = ("lmtpdt1", "lmtpdt2")

    def setUp(self):
        super().setUp()
        tempfile_dir = tempfile.mkdtemp(prefix="lmtpd-home.")
        os.chmod(tempfile_dir, 0o755)
        self.addCleanup(shutil.rmtree, tempfile_dir, True)
        for u in self.USERS:
            subprocess.run(["userdel", "-r", u], capture_output=True,
                           timeout=RUN_TIMEOUT)
            home = os.path.join(tempfile_dir, u)
            subprocess.run(["useradd", "-m", "-d", home, "-s",
                            "/usr/sbin/nologin", "-K", "UID_MIN=20000",
                            "-U", u], check=True, capture_output=True,
                           timeout=RUN_TIMEOUT)
            self.addCleanup(subprocess.run, ["userdel", "-r", u],
                            capture_output=True, timeout=RUN_TIMEOUT)

    def test_delivered_as_the_user(self):
        d = self.start(lookup=["passwd"], min_uid=1000,
                       recipient_delimiter="+")
        c = self.open(d)
        msg = T.sample_message(b"passwd")
        rr, final = self.transaction(
            c, ["lmtpdt1@example.org", "lmtpdt2+x@example.net",
                "root@example.org", "no-such-user-here@example.org"], msg)
        self.assertEqual([r[0] for r in rr], [250, 250, 550, 550], rr)
        self.assertEqual([f[0] for f in final], [250, 250], final)
        for u in self.USERS:
            pw = pwd.getpwnam(u)
            md = os.path.join(pw.pw_dir, "Maildir")
            names = self.files(md)
            self.assertEqual(len(names), 1, md)
            for p in (md, os.path.join(md, "new"), os.path.join(md, "tmp"),
                      os.path.join(md, "new", names[0]),
                      os.path.join(md, "lmtpd-dedup")):
                st = os.stat(p)
                self.assertEqual((st.st_uid, st.st_gid),
                                 (pw.pw_uid, pw.pw_gid), p)
        # The children still run as the configured user, not as root.
        for p in d.children():
            self.assertEqual(T.proc_uid(p), 65534)

    def test_min_uid(self):
        uid = pwd.getpwnam("lmtpdt1").pw_uid
        d = self.start(lookup=["passwd"], min_uid=uid + 1)
        c = self.open(d)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        code, lines = self.rcpt(c, "lmtpdt1@example.org")
        self.assertEqual((code, T.esc_of(lines)), (550, "5.1.1"), lines)
        self.assertIn("below min_uid", d.log())


# --------------------------------------------------------- +detail folders

class TestDetail(Base):

    def folder_msgs(self, md, folder):
        return self.files(os.path.join(md, folder) if folder else md)

    def test_existing_folder(self):
        d = self.start(recipient_delimiter="+-")
        md = d.maildir("alice@example.org")
        os.makedirs(os.path.join(md, ".lists", "new"))
        d.chown_tree(d.mail)
        c = self.open(d)
        msg = T.sample_message(b"detail")
        rr, final = self.transaction(
            c, ["alice+lists@example.org", "alice-other@example.org"], msg)
        self.assertEqual([f[0] for f in final], [250, 250], final)
        self.assertEqual(len(self.folder_msgs(md, ".lists")), 1)
        self.assertEqual(len(self.folder_msgs(md, "")), 1)
        self.assertFalse(os.path.exists(os.path.join(md, ".other")))
        name = self.folder_msgs(md, ".lists")[0]
        hdr, _ = headers_of(os.path.join(md, ".lists", "new", name))
        # Delivered-To keeps the whole address.
        self.assertIn(b"Delivered-To: <alice+lists@example.org>", hdr)

    def test_create_with_pattern_and_cap(self):
        d = self.start(recipient_delimiter="+", detail_folders="create",
                       detail_folder_pattern="l*", max_detail_folders=2)
        md = d.maildir("alice@example.org")
        c = self.open(d)
        for detail in ("lists", "logs", "misc", "later"):
            rr, final = self.transaction(
                c, ["alice+%s@example.org" % detail],
                T.sample_message(detail.encode()))
            self.assertEqual(final[0][0], 250, final)
        # lists and logs are created; misc does not match; later is over
        # the cap of two folders.
        self.assertTrue(os.path.isfile(os.path.join(md, ".lists",
                                                    "maildirfolder")))
        self.assertTrue(os.path.isdir(os.path.join(md, ".logs", "cur")))
        self.assertFalse(os.path.exists(os.path.join(md, ".misc")))
        self.assertFalse(os.path.exists(os.path.join(md, ".later")))
        self.assertEqual(len(self.folder_msgs(md, "")), 2)
        with open(os.path.join(md, "subscriptions")) as f:
            subs = f.read()
        self.assertIn("lists", subs.split())
        self.assertIn("logs", subs.split())
        if shutil.which("doveadm"):
            self.check_doveadm(md, d)

    def check_doveadm(self, md, d):
        """Dovecot lists the created folders as subscribed."""
        owner = os.stat(md).st_uid
        group = os.stat(md).st_gid
        conf = os.path.join(d.dir, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("base_dir = %s/dovecot-run\n"
                    "log_path = %s/dovecot.log\n"
                    "mail_location = maildir:%s\n"
                    "protocols =\n"
                    "ssl = no\n"
                    "mail_uid = %d\nmail_gid = %d\n"
                    "first_valid_uid = %d\nfirst_valid_gid = %d\n"
                    % (d.dir, d.dir, md, owner, group, owner, group))
        env = dict(os.environ, HOME=d.dir, USER="alice")
        p = subprocess.run(["doveadm", "-c", conf, "mailbox", "list", "-s"],
                           capture_output=True, timeout=RUN_TIMEOUT, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        listed = p.stdout.decode().split()
        self.assertIn("lists", listed, p.stdout)
        self.assertIn("logs", listed, p.stdout)
        self.assertNotIn("misc", listed, p.stdout)

    def test_inbox_policy(self):
        d = self.start(recipient_delimiter="+", detail_folders="inbox")
        md = d.maildir("alice@example.org")
        os.makedirs(os.path.join(md, ".lists", "new"))
        d.chown_tree(d.mail)
        c = self.open(d)
        rr, final = self.transaction(c, ["alice+lists@example.org"],
                                     T.sample_message(b"inbox"))
        self.assertEqual(final[0][0], 250)
        self.assertEqual(len(self.folder_msgs(md, "")), 1)
        self.assertEqual(self.folder_msgs(md, ".lists"), [])


# ---------------------------------------------------- quota and free space

class TestQuota(Base):

    def quota_daemon(self, **opts):
        return self.start(users=["admin@example.org",
                                 "alice@example.org 2k",
                                 "bob@example.org 2C"], **opts)

    def test_size_over_quota_at_rcpt(self):
        d = self.quota_daemon()
        c = self.open(d)
        c.expect("MAIL FROM:<%s> SIZE=5000" % T.SENDER, 250)
        code, lines = self.rcpt(c, "alice@example.org")
        self.assertEqual((code, T.esc_of(lines)), (452, "4.2.2"), lines)
        self.assertEqual(self.rcpt(c, "admin@example.org")[0], 250)
        c.cmd("RSET")
        c.expect("MAIL FROM:<%s> SIZE=500" % T.SENDER, 250)
        self.assertEqual(self.rcpt(c, "alice@example.org")[0], 250)

    def test_bounce_policy(self):
        d = self.quota_daemon(quota_full="bounce")
        c = self.open(d)
        c.expect("MAIL FROM:<%s> SIZE=5000" % T.SENDER, 250)
        code, lines = self.rcpt(c, "alice@example.org")
        self.assertEqual((code, T.esc_of(lines)), (552, "5.2.2"), lines)

    def test_checked_again_after_the_data(self):
        d = self.quota_daemon()
        md = d.maildir("alice@example.org")
        c = self.open(d)
        small = T.sample_message(b"small")
        big = small + (b"x" * 99 + b"\n") * 30
        rr, final = self.transaction(c, ["alice@example.org"], small)
        self.assertEqual(final[0][0], 250, final)
        with open(os.path.join(md, "maildirsize")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "2048S")
        # No SIZE=: the RCPT passes, the size is known after the dot.
        rr, final = self.transaction(c, ["alice@example.org"], big)
        self.assertEqual(rr[0][0], 250, rr)
        code, lines = final[0]
        self.assertEqual((code, T.esc_of(lines)), (452, "4.2.2"), lines)
        self.assertEqual(len(self.files(md)), 1)
        self.assertIn("status=deferred", d.log())

    def test_message_count(self):
        d = self.quota_daemon()
        md = d.maildir("bob@example.org")
        c = self.open(d)
        for i in range(2):
            rr, final = self.transaction(c, ["bob@example.org"],
                                         T.sample_message(b"n%d" % i))
            self.assertEqual(final[0][0], 250, final)
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        code, lines = self.rcpt(c, "bob@example.org")
        self.assertEqual((code, T.esc_of(lines)), (452, "4.2.2"), lines)
        self.assertEqual(len(self.files(md)), 2)
        with open(os.path.join(md, "maildirsize")) as f:
            self.assertEqual(f.readline().strip(), "2C")

    def test_free_space_guard_at_mail(self):
        d = self.start(min_free_space="1048576g")
        c = self.open(d)
        code, lines = c.cmd("MAIL FROM:<%s>" % T.SENDER)
        self.assertEqual((code, T.esc_of(lines)), (452, "4.3.1"), lines)
        self.assertIn("min_free_space", d.log())

    def test_free_space_counts_size(self):
        d = self.start(min_free_space="1m", max_message_size=0)
        st = os.statvfs(d.mail)
        free = st.f_bavail * st.f_frsize
        c = self.open(d)
        code, lines = c.cmd("MAIL FROM:<%s> SIZE=%d" % (T.SENDER, free))
        self.assertEqual((code, T.esc_of(lines)), (452, "4.3.1"), lines)
        c.expect("MAIL FROM:<%s> SIZE=1000" % T.SENDER, 250)


# --------------------------------------------------------------- no twice

class TestDedup(Base):

    def drop_after_dot(self, d, rcpts, msg):
        c = self.tcp(d)
        c.cmd("LHLO client.test")
        c.expect("MAIL FROM:<%s>" % T.SENDER, 250)
        for r in rcpts:
            self.assertEqual(self.rcpt(c, r)[0], 250)
        c.expect("DATA", 354)
        # The dot and nothing more: the client times out and goes away.
        c.send(T.wire(msg) + b".\r\n")
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()

    def test_retry_after_lost_reply(self):
        d = self.start()
        md = d.maildir("alice@example.org")
        msg = T.sample_message(b"retry")
        self.drop_after_dot(d, ["alice@example.org", "bob@example.org"],
                            msg)
        # alice's copy is stored; bob's too, unless the lost connection
        # was noticed before it (then it waits for this retry).
        self.assertTrue(wait_for(lambda: len(self.files(md)) == 1))
        time.sleep(0.5)
        c = self.open(d)
        rr, final = self.transaction(
            c, ["alice@example.org", "bob@example.org"], msg)
        self.assertEqual([f[0] for f in final], [250, 250], final)
        self.assertIn("already delivered", final[0][1][0])
        self.assertEqual(len(self.files(md)), 1)
        self.assertEqual(len(self.files(d.maildir("bob@example.org"))), 1)
        self.assertIn("not stored again", d.log())
        # Another message to the same recipient is a new copy.
        rr, final = self.transaction(c, ["alice@example.org"],
                                     T.sample_message(b"other"))
        self.assertEqual(final[0][0], 250)
        self.assertEqual(len(self.files(md)), 2)

    def test_window_zero_is_off(self):
        d = self.start(dedup_window=0)
        md = d.maildir("alice@example.org")
        msg = T.sample_message(b"twice")
        c = self.open(d)
        for _ in range(2):
            rr, final = self.transaction(c, ["alice@example.org"], msg)
            self.assertEqual(final[0][0], 250)
        self.assertEqual(len(self.files(md)), 2)
        self.assertFalse(os.path.exists(os.path.join(md, "lmtpd-dedup")))


# ---------------------------------------------------------------- loops

class TestLoops(Base):

    def test_delivered_to_this_recipient(self):
        d = self.start()
        msg = (b"Delivered-To: alice@example.org\n"
               + T.sample_message(b"loop"))
        c = self.open(d)
        rr, final = self.transaction(
            c, ["Alice@example.org", "bob@example.org"], msg)
        code, lines = final[0]
        self.assertEqual((code, T.esc_of(lines)), (554, "5.4.6"), lines)
        self.assertEqual(final[1][0], 250)
        self.assertEqual(self.files(d.maildir("alice@example.org")), [])

    def test_received_count(self):
        d = self.start()
        c = self.open(d)
        hop = b"Received: from a by b; Tue, 1 Dec 2026 00:00:00 +0000\n"
        rr, final = self.transaction(
            c, ["alice@example.org", "bob@example.org"],
            hop * 101 + T.sample_message(b"hops"))
        for code, lines in final:
            self.assertEqual((code, T.esc_of(lines)), (554, "5.4.6"), lines)
        self.assertEqual(self.files(d.maildir("alice@example.org")), [])
        rr, final = self.transaction(c, ["alice@example.org"],
                                     hop * 100 + T.sample_message(b"100"))
        self.assertEqual(final[0][0], 250)


# --------------------------------------------------------- cheaper copies

class TestCopies(Base):

    def test_hard_links_with_delivered_to_none(self):
        d = self.start(delivered_to="none")
        c = self.open(d)
        rcpts = ["alice@example.org", "bob@example.org", "carol@example.net"]
        rr, final = self.transaction(c, rcpts, T.sample_message(b"links"))
        self.assertEqual([f[0] for f in final], [250] * 3, final)
        inodes = set()
        for r in rcpts:
            md = d.maildir(r)
            names = self.files(md)
            self.assertEqual(len(names), 1)
            path = os.path.join(md, "new", names[0])
            st = os.stat(path)
            self.assertEqual(st.st_nlink, 3, path)
            inodes.add(st.st_ino)
            hdr, _ = headers_of(path)
            self.assertNotIn(b"Delivered-To:", hdr)
            self.assertNotIn(b"\tfor <", hdr)
        self.assertEqual(len(inodes), 1)
        self.assertIn("linked", d.log())

    def test_per_copy_default(self):
        d = self.start()
        c = self.open(d)
        rcpts = ["alice@example.org", "bob@example.org"]
        rr, final = self.transaction(c, rcpts, T.sample_message(b"copies"))
        inodes = set()
        for r in rcpts:
            md = d.maildir(r)
            st = os.stat(os.path.join(md, "new", self.files(md)[0]))
            self.assertEqual(st.st_nlink, 1)
            inodes.add(st.st_ino)
        self.assertEqual(len(inodes), 2)

    def traced_delivery(self, rcpts, tag):
        """strace of the one child while it delivers a 200 KB message to
        rcpts (all must get 250), or None when strace cannot attach."""
        d = self.daemon(min_spare=1, max_spare=1, max_children=1)
        d.start()
        child = d.children()[0]
        trace = os.path.join(d.dir, "strace.out")
        st = subprocess.Popen(["strace", "-f", "-qq", "-e",
                               "trace=copy_file_range,sendfile,read,pread64,"
                               "openat,open",
                               "-o", trace, "-p", str(child)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            c = self.open(d)
            body = T.sample_message(tag) + (b"y" * 99 + b"\n") * 2000
            rr, final = self.transaction(c, rcpts, body)
            self.assertEqual([f[0] for f in final], [250] * len(rcpts))
            c.cmd("QUIT")
        finally:
            st.terminate()
            st.wait(timeout=RUN_TIMEOUT)
        with open(trace) as f:
            out = f.read()
        return (d, out) if out != "" else (d, None)

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_copies_go_through_the_kernel(self):
        d, out = self.traced_delivery(["alice@example.org",
                                       "bob@example.org"], b"kernel")
        if out is None:
            self.skipTest("strace could not attach (no ptrace here)")
        # bob's copy is made from alice's, in the kernel.
        self.assertRegex(out, r"copy_file_range\(.*= \d{4,}")
        self.assertNotRegex(out, r"pread64\(")

    @unittest.skipUnless(shutil.which("strace"), "strace not installed")
    def test_one_recipient_is_written_once(self):
        """The message goes straight into the copy in tmp/: no spool file,
        no second pass through the page cache."""
        d, out = self.traced_delivery(["alice@example.org"], b"once")
        if out is None:
            self.skipTest("strace could not attach (no ptrace here)")
        self.assertNotRegex(out, r"copy_file_range\(")
        self.assertNotIn(d.spool, out)
        self.assertRegex(out, r"open(at)?\(.*/tmp/[^\"]*\", O_RDWR\|O_CREAT")
        self.assertEqual(len(T.maildir_files(d.maildir("alice@example.org"),
                                             "new")), 1)


# ---------------------------------------------------------------- janitor

class TestJanitor(Base):

    def test_stale_tmp_files_removed(self):
        d = self.daemon()
        md = d.maildir("alice@example.org")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        now = time.time()
        old = os.path.join(md, "tmp", "1.stale.host")
        young = os.path.join(md, "tmp", "2.young.host")
        for p, age in ((old, 37 * 3600), (young, 35 * 3600)):
            with open(p, "w") as f:
                f.write("x")
            os.utime(p, (now - age, now - age))
        d.chown_tree(d.mail)
        d.start()
        c = self.open(d)
        rr, final = self.transaction(c, ["alice@example.org"],
                                     T.sample_message(b"janitor"))
        self.assertEqual(final[0][0], 250)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(young))
        self.assertRegex(d.log(), r"janitor: removed .*1\.stale\.host")


# ------------------------------------------------------------- -t address

class TestDryRun(Base):

    def run_t(self, d, *addrs):
        return subprocess.run([T.LMTPD, "-t", "-c", d.conf_path] +
                              list(addrs), capture_output=True,
                              timeout=RUN_TIMEOUT)

    def test_explains_without_writing(self):
        d = self.daemon(users=["admin@example.org",
                               "alice@example.org 10m"],
                        recipient_delimiter="+")
        d.pick_ports()
        d.write_conf()
        md = d.maildir("alice@example.org")
        os.makedirs(os.path.join(md, ".lists", "new"))
        d.chown_tree(d.mail)
        before = sorted(os.walk(d.mail))
        p = self.run_t(d, "alice+lists@example.org")
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn("lookup:   file (%s line 2)" % d.opts["users_file"],
                      out)
        self.assertIn("user:     alice@example.org", out)
        self.assertIn("maildir:  %s" % md, out)
        self.assertIn("folder:   .lists (exists)", out)
        self.assertRegex(out, r"owner:    lmtpd's own")
        self.assertIn("quota:    10485760S; used 0 octets, 0 messages", out)
        self.assertIn("MAIL:     250", out)
        self.assertIn("RCPT:     250 2.1.5", out)
        self.assertIn("delivery: 250 2.0.0 to %s/.lists/new/" % md, out)
        self.assertEqual(sorted(os.walk(d.mail)), before)

        p = self.run_t(d, "carol@example.org")
        self.assertEqual(p.returncode, 1)
        self.assertIn("RCPT:     550 5.1.1 no such user", p.stdout.decode())


# ---------------------------------------------------------------- LDA mode

class TestDeliverCommand(Base):

    def deliver(self, d, args, data):
        return subprocess.run([T.LMTPD, "deliver", "-c", d.conf_path] + args,
                              input=data, capture_output=True,
                              timeout=RUN_TIMEOUT)

    def lda_daemon(self, **opts):
        d = self.daemon(users=["admin@example.org", "alice@example.org",
                               "bob@example.org 1k"], **opts)
        d.pick_ports()
        d.write_conf()
        return d

    def test_delivers_from_stdin(self):
        d = self.lda_daemon()
        msg = T.sample_message(b"lda")
        data = (b"From sender@remote.test Tue Dec  1 00:00:00 2026\r\n"
                b"Return-Path: <sender@remote.test>\r\n"
                b"Delivered-To: alice@example.org\r\n"
                + msg.replace(b"\n", b"\r\n"))
        p = self.deliver(d, ["-f", T.SENDER, "alice@example.org"], data)
        self.assertEqual(p.returncode, 0, p.stderr)
        copies = self.assert_copy(d, "alice@example.org", msg)
        self.assertEqual(copies, [msg])
        if T.IS_ROOT:
            md = d.maildir("alice@example.org")
            self.assertEqual(os.stat(md).st_uid, 65534)

    def test_exit_codes(self):
        d = self.lda_daemon()
        msg = T.sample_message(b"codes")
        p = self.deliver(d, ["carol@example.org"], msg)
        self.assertEqual(p.returncode, 67, p.stderr)
        self.assertIn(b"550 5.1.1", p.stderr)
        # Over quota: temporary, so the caller retries.
        big = msg + (b"z" * 99 + b"\n") * 20
        p = self.deliver(d, ["bob@example.org"], big)
        self.assertEqual(p.returncode, 75, p.stderr)
        self.assertIn(b"4.2.2", p.stderr)
        # A temporary failure wins over an unknown user: retry all.
        p = self.deliver(d, ["carol@example.org", "bob@example.org"], big)
        self.assertEqual(p.returncode, 75, p.stderr)
        p = self.deliver(d, ["not an address"], msg)
        self.assertEqual(p.returncode, 64, p.stderr)
        # The retry of a message already stored is not a second copy.
        for _ in range(2):
            p = self.deliver(d, ["alice@example.org"], msg)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.files(d.maildir("alice@example.org"))), 1)


if __name__ == "__main__":
    sys.exit(T.run_tests())
