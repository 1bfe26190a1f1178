#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Faults: processes of lmtpd die by SIGKILL while mail flows.

  - busy children killed at random, mid-session, under load from several
    clients; the master must replace them and keep serving;
  - the master killed: the sessions in progress finish, the children
    leave on their own, and a daemon started again on the same
    configuration (same TCP port, Unix socket, pid file, mail root) binds
    and serves;
  - the whole process group killed mid-delivery, round after round: every
    file in new/ is a complete copy of a message sent (the write order:
    tmp/, fsync, rename), also on a loop-mounted ext4 file system that is
    unmounted and mounted again after each crash.

Usage: python3 tests/faults/test_kill.py ./lmtpd [unittest args]
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as F        # noqa: E402

T = F.T

JOIN_TIMEOUT = 60.0         # seconds, any client thread after its stop
SEND_TIMEOUT = 10.0         # seconds, each socket operation of a client
ALPHABET = bytes(range(0x20, 0x7f))     # printable ASCII, a dot included
TO_ALPHABET = bytes(ALPHABET[i % len(ALPHABET)] for i in range(256))


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def note(text):
    sys.stderr.write("\n  %s\n" % text)
    sys.stderr.flush()


def body_of(msg_id, size, rng):
    """A message of about size octets naming msg_id; a large one gets a
    filler of 76-octet lines made at C speed instead of make_body's."""
    if size <= 32768:
        return F.make_body(msg_id, size, rng)
    head = F.make_body(msg_id, 400, rng)
    n = size - len(head)
    raw = rng.randbytes(n - n // 77).translate(TO_ALPHABET)
    return head + b"\n".join(raw[i:i + 76] for i in
                             range(0, len(raw), 76)) + b"\n"


# ------------------------------------------------------------ processes

def socket_inodes(pid):
    """The sockets pid holds ("socket:[inode]"), or None when it is gone."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    out = set()
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link)
    return out


def busy_children(d):
    """The master's workers holding a socket the master does not: an
    accepted client connection."""
    master = socket_inodes(d.proc.pid) or set()
    out = []
    for p in d.children():
        s = socket_inodes(p)
        if s and s - master:
            out.append(p)
    return out


def comm(pid):
    st = T.proc_stat(pid)
    return st[0] if st is not None else None


def kill_pids(pids, pgrp):
    """SIGKILL what is left of pids, only while each is still in pgrp (a
    recycled PID is left alone)."""
    for p in pids:
        st = T.proc_stat(p)
        if st is not None and st[1] != "Z" and st[3] == pgrp:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def status_line(d):
    """The first line of lmtpd -s for d's configuration."""
    try:
        r = subprocess.run([T.LMTPD, "-s", "-c", d.conf_path],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
    except subprocess.TimeoutExpired:
        return "(lmtpd -s timed out)"
    out = (r.stdout or r.stderr).decode("utf-8", "replace")
    return out.splitlines()[0] if out else "(nothing)"


# A crash that was not ours: a sanitizer report, a child dying of a signal
# other than the SIGKILL sent, or exiting with an error.
CRASH_RE = re.compile(r"Sanitizer|runtime error:|killed by signal "
                      r"(?!9\b)\d+|exited with status [1-9]")


def crash_lines(d):
    return [ln for ln in d.log().splitlines() if CRASH_RE.search(ln)]


def backoff_lines(d):
    return [ln for ln in d.log().splitlines() if "delaying new" in ln]


# ----------------------------------------------------------------- load

class Load:
    """Client threads, each sending one transaction after another with
    F.send until n_msgs transactions are used up (None: no limit), stop is
    set, or the deadline passes.  Every transaction is in ledger; runs
    keeps (start, end, outcomes) of each for in-flight questions."""

    def __init__(self, d, ledger, seed, n_threads, size, tag, deadline,
                 n_msgs=None, max_rcpts=5, unix_share=0.25):
        self.d = d
        self.ledger = ledger
        self.seed = seed
        self.size = size                # rng -> octets
        self.tag = tag
        self.deadline = deadline
        self.remaining = n_msgs
        self.max_rcpts = max_rcpts
        self.unix_share = unix_share
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors = []
        self.runs = []
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         name="%s-client-%d" % (tag, i),
                                         daemon=True)
                        for i in range(n_threads)]

    def take(self):
        with self.lock:
            if self.remaining is None:
                return True
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def run(self, i):
        rng = random.Random(self.seed * 1000 + i)
        try:
            while not self.stop.is_set() and \
                    time.monotonic() < self.deadline and self.take():
                msg_id = self.ledger.new_id(self.tag)
                body = body_of(msg_id, self.size(rng), rng)
                rcpts = F.rcpt_set(rng, 5, rng.randint(1, self.max_rcpts))
                t0 = time.monotonic()
                out = F.send(self.d, self.ledger, rcpts, body,
                             bdat=rng.random() < 0.3,
                             unix=rng.random() < self.unix_share,
                             msg_id=msg_id, timeout=SEND_TIMEOUT)
                with self.lock:
                    self.runs.append((t0, time.monotonic(), out))
        except Exception:       # reported by the test
            with self.lock:
                self.errors.append(traceback.format_exc())

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout=JOIN_TIMEOUT):
        """Joins every thread within timeout; returns those still alive."""
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]

    def outcomes(self):
        n = {}
        with self.lock:
            for _, _, out in self.runs:
                for v in out.values():
                    n[v] = n.get(v, 0) + 1
        return n


def held_session(d, ledger, rcpts, body, held, gate, unix=False,
                 bdat=False):
    """One transaction that stops halfway through its data, sets held,
    waits for gate (the master is killed meanwhile), then finishes; in
    ledger like F.send.  Returns {rcpt: outcome}."""
    out = {}
    accepted = []
    phase = "greeting"
    c = None
    try:
        c = T.Client(d.sock_path if unix else ("127.0.0.1", d.port), [],
                     timeout=SEND_TIMEOUT)
        if c.greeting[0] != 220:
            raise EOFError("greeting %r" % (c.greeting,))
        if c.cmd("LHLO fault.test")[0] != 250:
            raise EOFError("LHLO")
        code, _ = c.cmd("MAIL FROM:<%s>" % F.SENDER)
        if code != 250:
            raise EOFError("MAIL %d" % code)
        for r in rcpts:
            F.note_rcpt(r, c.cmd("RCPT TO:<%s>" % r)[0], accepted, out)
        if not accepted:
            return out
        phase = "data"
        if bdat:
            first, rest = F.bdat_halves(body)
            c.send(b"BDAT %d\r\n" % len(first) + first)
            code, _ = c.reply()
            if code != 250:
                raise EOFError("BDAT %d" % code)
            held.set()
            gate.wait(JOIN_TIMEOUT)
            c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        else:
            code, _ = c.cmd("DATA")
            if code != 354:
                raise EOFError("DATA %d" % code)
            data = F.wire(body)
            c.send(data[:len(data) // 2])
            held.set()
            gate.wait(JOIN_TIMEOUT)
            c.send(data[len(data) // 2:] + b".\r\n")
        phase = "after dot"
        for r in accepted:
            out[r] = F.outcome_of(c.reply()[0])
        try:
            c.cmd("QUIT")
        except (OSError, EOFError, T.LMTPError):
            pass
        return out
    except (OSError, EOFError, T.LMTPError):
        lost = F.LOST_AFTER if phase == "after dot" else F.LOST_BEFORE
        for r in rcpts:
            out.setdefault(r, lost)
        return out
    finally:
        held.set()
        if c is not None:
            c.close()
        for r in rcpts:
            out.setdefault(r, F.LOST_BEFORE)
        ledger.record(F._id_of(body), body, out)


def small_or_large(rng):
    """Mostly a few KB, one in eight 200 KB to 2 MB."""
    if rng.random() < 0.125:
        return rng.randint(200 * 1024, 2 * 1024 * 1024)
    return rng.randint(500, 8 * 1024)


def medium(rng):
    return rng.choice((rng.randint(2000, 20000),
                       rng.randint(100 * 1024, 600 * 1024)))


def large(rng):
    return rng.randint(100 * 1024, 1024 * 1024)


def wipe_messages(root):
    """Removes every file in tmp/, new/ and cur/ under root (a round's
    messages, once checked), keeping the Maildirs."""
    for md in list(F.maildirs(root)):
        for sub in ("tmp", "new", "cur"):
            path = os.path.join(md, sub)
            try:
                names = os.listdir(path)
            except FileNotFoundError:
                continue
            for n in names:
                try:
                    os.unlink(os.path.join(path, n))
                except FileNotFoundError:
                    pass


def tmp_files(root):
    return sum(len(os.listdir(os.path.join(md, "tmp")))
               for md in F.maildirs(root))


# ---------------------------------------------------------------- tests

class TestKillChildren(F.FaultCase):

    def test_kill_busy_children(self):
        fault = "SIGKILL busy child"
        seed = 41
        note("%s: seed %d" % (self.id(), seed))
        rng = random.Random(seed)
        n_msgs = F.scaled(300, 3000)
        n_kills = F.scaled(30, 300)
        d = self.daemon(max_children=8, min_spare=2, max_spare=4,
                        max_requests=0).start()
        ledger = F.Ledger()
        t_start = time.monotonic()
        deadline = t_start + F.scaled(60, 600)
        # At least n_msgs, and as many more as the kills take.
        load = Load(d, ledger, seed, 6, small_or_large, "kill", deadline)
        kills = []              # (seconds into the run, pid)
        slow = []               # invariant 4 failures, described
        waits = []
        idle_looks = [0]
        killer_errors = []

        def killer():
            try:
                # Five failures of invariant 4 tell enough: stop there.
                while len(kills) < n_kills and len(slow) < 5 and \
                        time.monotonic() < deadline and \
                        any(t.is_alive() for t in load.threads):
                    time.sleep(rng.uniform(0.02, 0.2))
                    busy = busy_children(d)
                    if not busy:
                        idle_looks[0] += 1
                        continue
                    victim = rng.choice(sorted(busy))
                    pool = len(d.children())
                    try:
                        os.kill(victim, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    t = time.monotonic() - t_start
                    kills.append((t, victim))
                    t0 = time.monotonic()
                    ok = F.serving(d)
                    waits.append(time.monotonic() - t0)
                    if not ok:
                        slow.append(
                            "kill %d at %.2f s (pid %d, pool %d before, "
                            "%d after): no 220 within %ss; back-offs "
                            "logged so far: %d" %
                            (len(kills), t, victim, pool,
                             len(d.children()), F.SERVE_TIMEOUT,
                             len(backoff_lines(d))))
            except Exception:
                killer_errors.append(traceback.format_exc())

        kt = threading.Thread(target=killer, name="killer", daemon=True)
        load.start()
        kt.start()
        kt.join(max(0.0, deadline - time.monotonic()) + 10)
        killer_alive = kt.is_alive()
        while len(ledger) < n_msgs and time.monotonic() < deadline and \
                any(t.is_alive() for t in load.threads):
            time.sleep(0.05)
        load.stop.set()
        stuck = load.join()
        elapsed = time.monotonic() - t_start
        master_alive = d.proc.poll() is None
        d.stop()

        outs = load.outcomes()
        note("%s: %d messages, %d kills in %.1f s (busy child found %d of "
             "%d looks); 220 after a kill in max %.2f s; outcomes %s; "
             "back-offs logged: %d"
             % (fault, len(ledger), len(kills), elapsed, len(kills),
                len(kills) + idle_looks[0], max(waits or [0]),
                sorted(outs.items()), len(backoff_lines(d))))
        for s in slow[:5]:
            note("invariant 4: " + s)
        self.assertFalse(killer_alive, "killer thread hung")
        self.assertEqual(killer_errors, [], "\n".join(killer_errors))
        self.assertEqual(stuck, [], "client threads hung")
        self.assertEqual(load.errors, [], "\n".join(load.errors[:3]))
        self.assertTrue(master_alive, "the master exited")
        F.TABLE.add(fault, violations=len(slow))    # invariant 4
        self.verify(fault, d, ledger, len(kills), interrupted=True)
        self.assertEqual(crash_lines(d)[:5], [], "lmtpd crashed")
        self.assertFalse(slow, "%d of %d kills not followed by 220 "
                         "within %ss, first: %s; the master's back-offs: %s"
                         % (len(slow), len(kills), F.SERVE_TIMEOUT,
                            slow[:5], backoff_lines(d)[:6]))
        self.assertGreater(outs.get(F.OK, 0), 0, "nothing delivered")
        self.assertGreaterEqual(len(ledger), n_msgs, "too few messages")
        self.assertGreaterEqual(len(kills), n_kills // 2,
                                "too few busy children found to kill")


class TestKillMaster(F.FaultCase):

    def test_kill_master(self):
        fault = "SIGKILL master"
        seed = 42
        note("%s: seed %d" % (self.id(), seed))
        rng = random.Random(seed)
        rounds = F.scaled(1, 5)
        # Timeouts bound how long an orphaned child may linger.
        d = self.daemon(max_children=8, min_spare=2, max_spare=4,
                        max_requests=0, command_timeout=5,
                        data_timeout=10).start()
        ledger = F.Ledger()
        left = []           # (pgrp, pids) of the groups of killed masters
        self.addCleanup(lambda: [kill_pids(p, g) for g, p in left])
        in_flight_total = 0
        orphans = []
        for rnd in range(rounds):
            load = Load(d, ledger, seed * 10 + rnd, 3, medium,
                        "master%d" % rnd, time.monotonic() + 60,
                        max_rcpts=4)
            load.start()
            # Two sessions held mid-data across the kill, one on each
            # listener, DATA or BDAT.
            gate = threading.Event()
            held = []
            results = []
            for k in range(2):
                msg_id = ledger.new_id("held%d" % rnd)
                body = body_of(msg_id, rng.randint(5000, 300000), rng)
                rcpts = F.rcpt_set(rng, 5, rng.randint(1, 4))
                ev = threading.Event()
                th = threading.Thread(
                    target=lambda *a: results.append(held_session(*a)),
                    args=(d, ledger, rcpts, body, ev, gate, k == 1,
                          rng.random() < 0.5), daemon=True)
                th.start()
                held.append((ev, th))
            # Some deliveries first, then the kill at a random moment.
            t_end = time.monotonic() + 10
            while (load.outcomes().get(F.OK, 0) < 3 or
                   not all(ev.is_set() for ev, _ in held)) and \
                    time.monotonic() < t_end:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.05, 0.5))
            master = d.proc.pid
            os.kill(master, signal.SIGKILL)
            t_kill = time.monotonic()
            d.proc.wait(timeout=10)
            load.stop.set()
            time.sleep(0.3)     # idle children see the master gone
            gate.set()
            for _, th in held:
                th.join(JOIN_TIMEOUT)
            stuck = load.join() + [th.name for _, th in held
                                   if th.is_alive()]
            self.assertEqual(stuck, [], "round %d: client threads hung"
                             % rnd)
            self.assertEqual(load.errors, [], "\n".join(load.errors[:3]))
            self.assertEqual(len(results), 2)
            for out in results:
                self.assertEqual(set(out.values()), {F.OK},
                                 "round %d: a session held across the "
                                 "master's death: %s" % (rnd, out))

            # Transactions well under way at the kill (past the greeting)
            # complete: every recipient answered, none cut off.
            in_flight = [out for t0, t1, out in load.runs
                         if t0 < t_kill - 0.05 and t1 > t_kill]
            in_flight_total += len(in_flight)
            cut = [out for out in in_flight
                   if set(out.values()) - {F.OK, F.TEMP, F.PERM}]
            self.assertEqual(cut, [], "round %d: sessions in progress at "
                             "the master's death were cut" % rnd)

            # The children leave by themselves, within their timeouts.
            grace = d.opts["command_timeout"] + d.opts["data_timeout"] + 5
            t_end = time.monotonic() + grace
            workers = None
            while time.monotonic() < t_end:
                workers = [p for p in T.group_members(master)
                           if comm(p) not in (None, T.STATUS_COMM)]
                if not workers:
                    break
                time.sleep(0.05)
            gone_in = time.monotonic() - t_kill
            self.assertEqual(workers, [], "round %d: children still there "
                             "%.1f s after the master's death" % (rnd, grace))
            # The status process too, as promptly.
            t_end = time.monotonic() + 2
            while T.group_members(master) and time.monotonic() < t_end:
                time.sleep(0.05)
            rest = T.group_members(master)
            left.append((master, rest))

            # Stale: the socket file, the pid file.  Same configuration,
            # same TCP port: the new daemon binds again and serves.
            self.assertTrue(os.path.lexists(d.sock_path))
            if d.logf is not None:
                d.logf.close()
                d.logf = None
            d.spawn()
            ok, why = d.wait_ready()
            self.assertTrue(ok, "round %d: no restart on port %d: %s\n%s"
                            % (rnd, d.port, why, d.log()[-2000:]))
            self.assert_serving(d, fault)
            if rest:
                orphans.append("round %d: %s (%s) of master %d still "
                               "running %.1f s after its death; lmtpd -s "
                               "for the new master %d says %r"
                               % (rnd, rest, sorted({comm(p) or "gone"
                                                     for p in rest}),
                                  master, time.monotonic() - t_kill,
                                  d.proc.pid, status_line(d)))
            note("%s round %d: 2 sessions held and %d more in flight at "
                 "the kill, workers gone after %.2f s, restarted as pid %d"
                 % (fault, rnd, len(in_flight), gone_in, d.proc.pid))
            for i in range(4):
                msg_id = ledger.new_id("restart%d" % rnd)
                rcpts = F.rcpt_set(rng, 5, rng.randint(1, 3))
                out = F.send(d, ledger, rcpts,
                             body_of(msg_id, rng.choice((3000, 200000)),
                                     rng), unix=bool(i % 2),
                             msg_id=msg_id, timeout=SEND_TIMEOUT)
                self.assertEqual(set(out.values()), {F.OK},
                                 "round %d: after the restart, %s" %
                                 (rnd, out))
        d.stop()
        for o in orphans[:3]:
            note("left behind: " + o)
        note("%s: %d rounds, %d messages, %d transactions in flight at "
             "the kills" % (fault, rounds, len(ledger), in_flight_total))
        # No child was killed: nothing may be left in tmp/ either.
        self.verify(fault, d, ledger, rounds, interrupted=False)
        self.assertEqual(crash_lines(d)[:5], [], "lmtpd crashed")
        # Processes of a dead master must not outlive it: a status
        # process left behind keeps the status socket, and lmtpd -s
        # answers for the dead daemon.
        self.assertFalse(orphans, "%d of %d rounds left processes "
                         "behind, first: %s" % (len(orphans), rounds,
                                                orphans[:2]))


class TestCrashConsistency(F.FaultCase):

    def crash_rounds(self, fault, d, root, seed, remount=None):
        """Rounds of: start d, 1-2 clients sending large messages, SIGKILL
        the whole group after 10-300 ms, remount (when given), check the
        round's messages under root, wipe them."""
        note("%s: seed %d" % (self.id(), seed))
        rng = random.Random(seed)
        rounds = F.scaled(20, 200)
        t_end = time.monotonic() + F.scaled(80, 800)
        n_msgs = 0
        counts = {}
        interrupted_writes = 0
        bad = []
        done = 0
        for rnd in range(rounds):
            if time.monotonic() > t_end:
                break
            d.start()
            ledger = F.Ledger()
            load = Load(d, ledger, seed * 1000 + rnd, rng.choice((1, 2)),
                        large, "crash%d" % rnd, time.monotonic() + 30,
                        max_rcpts=3)
            load.start()
            time.sleep(rng.uniform(0.01, 0.3))
            load.stop.set()     # no new transaction; those going on stay
            d.kill_hard()
            stuck = load.join()
            self.assertEqual(stuck, [], "round %d: client threads hung"
                             % rnd)
            self.assertEqual(load.errors, [], "\n".join(load.errors[:3]))
            if remount is not None:
                remount()
            interrupted_writes += 1 if tmp_files(root) else 0
            for k, v in load.outcomes().items():
                counts[k] = counts.get(k, 0) + v
            n_msgs += len(ledger)
            done += 1
            v = F.check(root, ledger, interrupted=True)
            if v:
                bad.extend("round %d: %s" % (rnd, x) for x in v)
                break
            wipe_messages(root)
        F.TABLE.add(fault, injected=done, violations=len(bad),
                    messages=n_msgs)
        note("%s: %d rounds, %d messages, recipients %s, rounds leaving "
             "tmp/ files %d" % (fault, done, n_msgs, sorted(counts.items()),
                                interrupted_writes))
        self.assertEqual(bad, [], "%d violations, first: %s"
                         % (len(bad), bad[:5]))
        self.assertEqual(crash_lines(d)[:5], [], "lmtpd crashed")
        self.assertGreater(counts.get(F.OK, 0), 0, "nothing delivered")
        self.assertGreater(counts.get(F.LOST_AFTER, 0) +
                           counts.get(F.LOST_BEFORE, 0), 0,
                           "no kill landed in a transaction")

    def test_crash_consistency(self):
        d = self.daemon()
        self.crash_rounds("SIGKILL daemon mid-delivery", d, d.mail, 43)

    def test_crash_consistency_loopfs(self):
        if not T.IS_ROOT:
            loud_skip(self, "not root: no loop mount")
        for tool in ("losetup", "mkfs.ext4", "mount", "umount"):
            if shutil.which(tool) is None:
                loud_skip(self, "%s is not installed (e2fsprogs, "
                          "util-linux, mount)" % tool)
        if not os.path.exists("/dev/loop-control") and \
                not os.path.exists("/dev/loop0"):
            loud_skip(self, "no loop devices (/dev/loop-control)")
        top = tempfile.mkdtemp(prefix="lmtpd-loopfs.")
        os.chmod(top, 0o755)        # the daemon, as nobody, goes through
        img = os.path.join(top, "fs.img")
        mnt = os.path.join(top, "mail")
        os.mkdir(mnt)
        mounted = [False]

        def run(argv):
            return subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=60)

        def umount():
            if not mounted[0]:
                return None
            for _ in range(20):
                r = run(["umount", mnt])
                if r.returncode == 0:
                    mounted[0] = False
                    return None
                time.sleep(0.1)
            return r.stdout.decode("utf-8", "replace")

        def cleanup():
            # Daemons first: a process inside the mount keeps it busy.
            for dd in self.daemons:
                dd.stop()
            why = umount()
            if why is not None:
                sys.stderr.write("\n*** umount %s failed: %s; detaching "
                                 "lazily ***\n" % (mnt, why))
                run(["umount", "-l", mnt])
            shutil.rmtree(top, ignore_errors=True)

        self.addCleanup(cleanup)
        with open(img, "wb") as f:
            f.truncate(128 * 1024 * 1024)
        r = run(["mkfs.ext4", "-q", "-F", img])
        if r.returncode != 0:
            loud_skip(self, "mkfs.ext4 failed: %s"
                      % r.stdout.decode("utf-8", "replace").strip())
        r = run(["mount", "-o", "loop", img, mnt])
        if r.returncode != 0:
            loud_skip(self, "mount -o loop failed: %s"
                      % r.stdout.decode("utf-8", "replace").strip())
        mounted[0] = True
        os.chown(mnt, 65534, 65534)
        fsck = shutil.which("e2fsck")

        def remount():
            why = umount()
            self.assertIsNone(why, "umount after the crash: %s" % why)
            if fsck is not None:
                r = run([fsck, "-f", "-n", img])
                self.assertEqual(r.returncode, 0, "e2fsck after the crash:"
                                 " %s" % r.stdout.decode("utf-8", "replace"))
            r = run(["mount", "-o", "loop", img, mnt])
            self.assertEqual(r.returncode, 0, "mount again: %s"
                             % r.stdout.decode("utf-8", "replace"))
            mounted[0] = True

        # A small file system: the free-space reserve must not refuse MAIL.
        d = self.daemon(maildir=os.path.join(mnt, "%d/%n/Maildir"),
                        min_free_space=4 * 1024 * 1024)
        self.crash_rounds("SIGKILL daemon mid-delivery (ext4)", d,
                          mnt, 44, remount=remount)


if __name__ == "__main__":
    sys.exit(F.main())
