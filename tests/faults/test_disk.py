#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Faults: the storage says no.  The mail root on a small tmpfs that
fills up (the real ENOSPC of a copy, with min_free_space = 0, and the
free-space guard at MAIL with it set); a recipient over its Maildir++
quota (quota_full tempfail and bounce); a recipient whose Maildir is not
writable.  The refused recipients get one 4xx (or the configured 5xx of
a quota bounce) each and no copy, the others in the same transaction
their 250 and their copy; nothing half-written stays behind; lmtpd keeps
serving, and delivers again once the fault is gone.

Usage: python3 tests/faults/test_disk.py ./lmtpd
(test_disk_full needs root and mount(2); it is skipped loudly without.)
"""

import os
import random
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as F        # noqa: E402

T = F.T
NOBODY = 65534
TMPFS_SIZE = "4m"
MiB = 1024 * 1024
ROW_DISK = "disk full (tmpfs)"
ROW_QUOTA = "quota exceeded"
ROW_PERM = "unwritable Maildir"


def skip_loudly(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


# ------------------------------------------------------------ one transaction

def xact(d, ledger, rcpts, body, msg_id, size=False, bdat=False,
         timeout=30.0):
    """One transaction like faultlib.send, recorded in ledger the same
    way, but keeping every reply: returns ({rcpt: (stage, code, esc)},
    problems).  stage is MAIL, RCPT, DATA or final (after the dot or BDAT
    LAST), or lost.  A problem is a protocol fault of lmtpd's: a reply
    missing, or one too many (an unknown command then does not get its
    5xx)."""
    res = {}
    problems = []
    accepted = []
    after_dot = False
    c = None
    try:
        c = T.Client(("127.0.0.1", d.port), [], timeout=timeout)
        if c.greeting[0] != 220:
            raise EOFError("greeting %r" % (c.greeting,))
        code, lines = c.cmd("LHLO disk.test")
        if code != 250:
            raise EOFError("LHLO %r" % lines)
        crlf = body.replace(b"\n", b"\r\n")
        mail = "MAIL FROM:<%s>" % F.SENDER
        if size:
            mail += " SIZE=%d" % len(crlf)
        code, lines = c.cmd(mail)
        if code != 250:
            for r in rcpts:
                res[r] = ("MAIL", code, T.esc_of(lines))
        else:
            for r in rcpts:
                code, lines = c.cmd("RCPT TO:<%s>" % r)
                if code == 250:
                    accepted.append(r)
                else:
                    res[r] = ("RCPT", code, T.esc_of(lines))
        if accepted:
            if bdat:
                c.send(b"BDAT %d LAST\r\n" % len(crlf) + crlf)
                after_dot = True
            else:
                code, lines = c.cmd("DATA")
                if code != 354:
                    for r in accepted:
                        res[r] = ("DATA", code, T.esc_of(lines))
                    accepted = []
                else:
                    c.send(F.wire(body) + b".\r\n")
                    after_dot = True
            for r in accepted:
                code, lines = c.reply()
                res[r] = ("final", code, T.esc_of(lines))
        # One reply per recipient and no more: the next reply is this 5xx.
        code, lines = c.cmd("XYZZY")
        if not 500 <= code <= 502:
            problems.append("%s: out of sync after the replies: %r"
                            % (msg_id, lines))
        try:
            c.cmd("QUIT")
        except (OSError, EOFError, T.LMTPError):
            pass
    except (OSError, EOFError, T.LMTPError) as e:
        problems.append("%s: connection failed (%s): %s"
                        % (msg_id, "after the dot" if after_dot else
                           "before the dot", e))
        lost = F.LOST_AFTER if after_dot else F.LOST_BEFORE
        for r in rcpts:
            res.setdefault(r, ("lost", 0, lost))
    finally:
        if c is not None:
            c.close()
        outcomes = {}
        for r in rcpts:
            stage, code, esc = res[r]
            outcomes[r] = esc if stage == "lost" else F.outcome_of(code)
        ledger.record(msg_id, body, outcomes)
    return res, problems


def reply_text(v):
    stage, code, esc = v
    return "%s %d %s" % (stage, code, esc)


# ------------------------------------------------------------- the disk

def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_to(path, filler, leave):
    """Writes filler (a file on path's file system, in no Maildir) until
    about leave octets are free.  Returns its size."""
    chunk = b"\0" * 65536
    n = 0
    with open(filler, "ab") as f:
        for _ in range(1024):               # 64 MiB at most
            room = free_bytes(path) - leave
            if room <= 0:
                break
            try:
                f.write(chunk[:min(len(chunk), room)])
                f.flush()
            except OSError:
                break
            n += min(len(chunk), room)
    return n


def clear_mail(root):
    """Every Maildir under the mail root goes (lmtpd makes them again);
    the next ledger starts empty."""
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)


class TestDiskFull(F.FaultCase):

    def mount_tmpfs(self, d):
        if not T.IS_ROOT:
            skip_loudly(self, "needs root to mount a tmpfs")
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                "size=%s,mode=0755" % TMPFS_SIZE, "tmpfs",
                                d.mail], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            skip_loudly(self, "mount -t tmpfs: %s" % e)
        if r.returncode != 0:
            skip_loudly(self, "mount -t tmpfs failed (an unprivileged "
                        "container?): %s"
                        % r.stdout.decode("utf-8", "replace").strip())
        self.addCleanup(self.unmount, d)
        os.chown(d.mail, NOBODY, NOBODY)

    def unmount(self, d):
        """The daemon first: no child may hold the file system."""
        d.stop()
        for args in (["umount", d.mail], ["umount", "-l", d.mail]):
            try:
                subprocess.run(args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
            if not os.path.ismount(d.mail):
                return
        sys.stderr.write("\n*** %s is still mounted ***\n" % d.mail)

    def setUp(self):
        super().setUp()
        self.rng = random.Random(31)
        self.injected = 0
        self.problems = []
        self.seen = set()

    def judge(self, res, probs, guard):
        """Every reply is 250 or 452 4.3.1 (guard: the refusal may come
        at MAIL or RCPT; without, only after the dot); returns how many
        recipients were refused."""
        self.problems.extend(probs)
        refused = 0
        for r, v in res.items():
            stage, code, esc = v
            if stage == "lost":
                continue
            self.seen.add(reply_text(v))
            if code == 250 and stage == "final":
                continue
            stages = ("MAIL", "RCPT", "final") if guard else ("final",)
            if (code, esc) == (452, "4.3.1") and stage in stages:
                refused += 1
                continue
            self.problems.append("%s: %s" % (r, reply_text(v)))
        self.injected += refused
        return refused

    def batch(self, d, ledger, par, guard, big=True):
        """par transactions at once; returns the recipients refused."""
        jobs = []
        for _ in range(par):
            msg_id = ledger.new_id("disk")
            size = self.rng.randint(50000, 1000000 if big else 150000)
            rcpts = F.rcpt_set(self.rng, 4, self.rng.randint(1, 3 if big
                                                               else 2))
            jobs.append((rcpts, F.make_body(msg_id, size), msg_id,
                         guard and self.rng.random() < 0.5,
                         self.rng.random() < 0.3))
        out = [None] * par

        def run(i):
            rcpts, body, msg_id, size, bdat = jobs[i]
            out[i] = xact(d, ledger, rcpts, body, msg_id, size=size,
                          bdat=bdat)

        threads = [threading.Thread(target=run, args=(i,), daemon=True)
                   for i in range(par)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        refused = 0
        for i, o in enumerate(out):
            if o is None:
                self.problems.append("%s: no answer within 120s"
                                     % jobs[i][2])
                continue
            refused += self.judge(o[0], o[1], guard)
        return refused

    def mid_check(self, d, ledger):
        bad = F.check(d.mail, ledger, interrupted=False)
        if bad:
            F.TABLE.add(ROW_DISK, violations=len(bad))
        self.assertEqual(bad, [], "%d violations, first: %s"
                         % (len(bad), bad[:5]))

    def assert_no_problems(self):
        if self.problems:
            F.TABLE.add(ROW_DISK, violations=len(self.problems))
        self.assertEqual(self.problems, [])

    def resume(self, d, ledger):
        """Room again: small messages are all delivered."""
        for i in range(3):
            msg_id = ledger.new_id("disk-resume")
            body = F.make_body(msg_id, self.rng.randint(50000, 150000))
            rcpts = F.rcpt_set(self.rng, 4, self.rng.randint(1, 2))
            res, probs = xact(d, ledger, rcpts, body, msg_id,
                              bdat=(i == 1))
            self.problems.extend(probs)
            for r, v in res.items():
                self.seen.add(reply_text(v))
                if v[:2] != ("final", 250):
                    self.problems.append("after freeing space, %s: %s"
                                         % (r, reply_text(v)))

    def test_disk_full(self):
        d = self.daemon(min_free_space=0)
        self.mount_tmpfs(d)
        d.start()
        filler = os.path.join(d.mail, "filler")
        cycles = F.scaled(2, 12)
        par = F.scaled(1, 3)
        # Phase 1: no guard, so the copies themselves meet ENOSPC.
        for cyc in range(cycles):
            ledger = F.Ledger()
            clear_mail(d.mail)
            fill_to(d.mail, filler, leave=int(1.5 * MiB))
            full = 0
            for _ in range(40):
                if self.batch(d, ledger, par, guard=False):
                    full += 1
                    self.assert_serving(d, ROW_DISK)
                if full >= 4:
                    break
            self.assert_no_problems()
            self.assertGreater(full, 0, "the disk never filled up: %d "
                               "octets free" % free_bytes(d.mail))
            self.mid_check(d, ledger)
            self.assert_serving(d, ROW_DISK)
            os.unlink(filler)
            self.resume(d, ledger)
            self.assert_no_problems()
            self.verify(ROW_DISK, d, ledger, 0)

        # Phase 2: min_free_space = 1m refuses at MAIL, before any data.
        d.stop()
        d.opts["min_free_space"] = "1m"
        d.start()
        ledger = F.Ledger()
        clear_mail(d.mail)
        # A big filler: once it goes there is room above the reserve.
        fill_to(d.mail, filler, leave=int(1.6 * MiB))
        at_mail = 0
        for _ in range(40):
            self.batch(d, ledger, 1, guard=True)
            if free_bytes(d.mail) < MiB:
                break
        self.assert_no_problems()
        self.assertLess(free_bytes(d.mail), MiB)
        self.mid_check(d, ledger)
        # Below the reserve: every MAIL gets 452 4.3.1; DATA never starts.
        for i in range(F.scaled(3, 10)):
            msg_id = ledger.new_id("disk-guard")
            body = F.make_body(msg_id, 50000)
            res, probs = xact(d, ledger, F.rcpt_set(self.rng, 4, 2), body,
                              msg_id, size=(i % 2 == 1))
            self.problems.extend(probs)
            for r, v in res.items():
                self.seen.add(reply_text(v))
                if v != ("MAIL", 452, "4.3.1"):
                    self.problems.append("below min_free_space, %s: %s"
                                         % (r, reply_text(v)))
                else:
                    self.injected += 1
                    at_mail += 1
            self.assert_serving(d, ROW_DISK)
        self.assert_no_problems()
        self.assertIn("min_free_space", d.log())
        os.unlink(filler)
        self.resume(d, ledger)
        self.assert_no_problems()
        self.verify(ROW_DISK, d, ledger, self.injected)
        self.assertGreater(at_mail, 0)
        sys.stderr.write("\n    replies seen: %s\n"
                         % ", ".join(sorted(self.seen)))

    def test_spool_full(self):
        """The spool on the full file system: the data cannot be
        spooled, and every recipient gets 452 4.3.1, not a vaguer 451."""
        d = self.daemon(min_free_space=0)
        self.mount_tmpfs(d)
        d.opts["spool_dir"] = os.path.join(d.mail, "spool")
        d.start()
        filler = os.path.join(d.mail, "filler")
        ledger = F.Ledger()
        fill_to(d.mail, filler, leave=300000)
        for bdat in (False, True):
            msg_id = ledger.new_id("disk-spool")
            body = F.make_body(msg_id, 900000)
            res, probs = xact(d, ledger, ["alice@example.org",
                                          "bob@example.net"], body, msg_id,
                              bdat=bdat)
            self.assertEqual(probs, [])
            for r, v in res.items():
                self.assertEqual(v, ("final", 452, "4.3.1"), (r, bdat))
                self.injected += 1
            self.assert_serving(d, ROW_DISK)
        os.unlink(filler)
        self.resume(d, ledger)
        self.verify(ROW_DISK, d, ledger, self.injected)

# ------------------------------------------------ quota and permissions

HEALTHY = ["alice@example.org", "carol@example.org", "dave@example.net"]
BOB = "bob@example.org"             # over quota
EVE = "eve@example.org"             # her Maildir is not writable


def users(bob_quota):
    return ["admin@example.org"] + HEALTHY + \
        ["%s %s" % (BOB, bob_quota), EVE]


def write_users(d, bob_quota):
    """users_file again, by rename: a new inode and size, which each child
    notices within a second without a reload."""
    path = d.opts["users_file"]
    with open(path + ".new", "w") as f:
        f.write("".join(u + "\n" for u in users(bob_quota)))
    os.chmod(path + ".new", 0o644)
    os.rename(path + ".new", path)


class TestQuotaAndPermissions(F.FaultCase):

    def lock_maildir(self, d, addr, locked):
        """tmp/ and new/ of addr's Maildir: root's, 0500, or given back."""
        md = d.maildir(addr)
        for sub in ("tmp", "new"):
            p = os.path.join(md, sub)
            if locked:
                os.chown(p, 0, 0)
                os.chmod(p, 0o500)
            else:
                os.chown(p, NOBODY, NOBODY)
                os.chmod(p, 0o700)

    def run_variant(self, bounce):
        opts = {"users": users("5k")}
        if bounce:
            opts["quota_full"] = "bounce"
        d = self.daemon(**opts)
        md = d.maildir(EVE)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), mode=0o700)
        d.chown_tree(d.mail)
        if T.IS_ROOT:
            self.lock_maildir(d, EVE, True)
        else:
            for sub in ("tmp", "new"):
                os.chmod(os.path.join(md, sub), 0o500)
        d.start()
        if 0 in {T.proc_uid(p) for p in d.children()}:
            skip_loudly(self, "children run as root: permissions do not "
                        "bind")
        quota_reply = (552, "5.2.2") if bounce else (452, "4.2.2")
        rng = random.Random(41 + bounce)
        ledger = F.Ledger()
        problems = []
        seen = set()
        n_quota = n_perm = bob_ok = 0
        for i in range(F.scaled(100, 1000)):
            msg_id = ledger.new_id("quota")
            body = F.make_body(msg_id, rng.randint(300, 2500), rng)
            bad = rng.choice(([BOB], [EVE], [BOB, EVE]))
            rcpts = rng.sample(HEALTHY, rng.randint(1, 2)) + bad
            rng.shuffle(rcpts)
            res, probs = xact(d, ledger, rcpts, body, msg_id,
                              size=rng.random() < 0.5,
                              bdat=rng.random() < 0.3)
            problems.extend(probs)
            for r, v in res.items():
                stage, code, esc = v
                if stage == "lost":
                    continue
                seen.add("%s %s" % (r.split("@")[0], reply_text(v)))
                if v[:2] == ("final", 250) and r in HEALTHY:
                    continue
                if r == BOB and v[:2] == ("final", 250):
                    bob_ok += 1
                    continue
                if r == BOB and (code, esc) == quota_reply and \
                        stage in ("RCPT", "final"):
                    n_quota += 1
                    continue
                if r == EVE and stage == "final" and code // 100 == 4 \
                        and esc.startswith("4."):
                    n_perm += 1
                    continue
                problems.append("%s %s: %s" % (msg_id, r, reply_text(v)))
        self.assertTrue(F.serving(d), "no 220 after the faults")
        bad = F.check(d.mail, ledger, interrupted=False)

        # The faults go: a quota that fits, the Maildir given back.
        write_users(d, "10m")
        if T.IS_ROOT:
            self.lock_maildir(d, EVE, False)
        else:
            for sub in ("tmp", "new"):
                os.chmod(os.path.join(md, sub), 0o700)
        time.sleep(1.2)             # users_file: looked at once a second
        for i in range(F.scaled(5, 20)):
            msg_id = ledger.new_id("quota-fixed")
            body = F.make_body(msg_id, rng.randint(300, 2500), rng)
            rcpts = HEALTHY + [BOB, EVE]
            rng.shuffle(rcpts)
            res, probs = xact(d, ledger, rcpts, body, msg_id,
                              size=rng.random() < 0.5,
                              bdat=rng.random() < 0.3)
            problems.extend(probs)
            for r, v in res.items():
                seen.add("%s %s" % (r.split("@")[0], reply_text(v)))
                if v[:2] != ("final", 250):
                    problems.append("after the fix, %s %s: %s"
                                    % (msg_id, r, reply_text(v)))
        bad += F.check(d.mail, ledger, interrupted=False)

        # Violations and protocol problems, by the recipient they name.
        perm = [b for b in bad + problems if EVE in b]
        other = [b for b in bad + problems if EVE not in b]
        F.TABLE.add(ROW_QUOTA, injected=n_quota, violations=len(other),
                    messages=sum(1 for _, o in ledger.msgs.values()
                                 if BOB in o))
        F.TABLE.add(ROW_PERM, injected=n_perm, violations=len(perm),
                    messages=sum(1 for _, o in ledger.msgs.values()
                                 if EVE in o))
        sys.stderr.write("\n    quota_full %s, replies seen: %s\n"
                         % ("bounce" if bounce else "tempfail",
                            ", ".join(sorted(seen))))
        self.assertEqual(bad + problems, [], "%d violations, first: %s"
                         % (len(bad + problems), (bad + problems)[:5]))
        self.assertGreater(n_quota, 0)
        self.assertGreater(n_perm, 0)
        # bob's quota (5k) is gone after a few small messages.
        self.assertLess(bob_ok, 10)
        self.assertEqual(len(T.maildir_files(md, "new")), F.scaled(5, 20))
        d.stop()

    def test_quota_and_permissions(self):
        self.run_variant(bounce=False)
        self.run_variant(bounce=True)


if __name__ == "__main__":
    sys.exit(F.main())
