#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Faults from inside the daemon: tests/faults/shim.c, preloaded, makes
every Nth write, fsync, copy_file_range, rename or directory fsync under
the mail root fail (EIO, ENOSPC, EDQUOT), freezes CLOCK_REALTIME or makes
it jump back; and the daemon runs under an address-space limit that a big
transaction exceeds.  Every recipient whose copy failed gets one 4xx, the
others their 250 and their copy, on a connection that goes on serving;
unique names stay unique whatever the clock; an allocation that fails
costs the connection, never a 250 for a copy not written.

Usage: python3 tests/faults/test_shim.py ./lmtpd
The shim is tests/faults/libfaultshim.so when it is there and newer than
shim.c, else this file builds it with cc into a temporary directory; the
tests skip loudly when it cannot.
"""

import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import faultlib as F        # noqa: E402

T = F.T
SHIM_SRC = os.path.join(HERE, "shim.c")
SHIM_SO = os.path.join(HERE, "libfaultshim.so")
SHIM_LINE = re.compile(r"^lmtpd-shim: pid (\d+): (\w+) on (\w+) #(\d+) "
                       r"(.*)$", re.M)
PER_CONNECTION = 10         # transactions on one connection
FROZEN_AT = 1000000000      # 2001-09-09, for test_clock_frozen
JUMP_BACK = 7200            # seconds, for test_clock_backwards
MiB = 1024 * 1024
AS_HEADROOM = 32 * MiB      # over the measured VmPeak
BIG_RCPTS = 12000           # recipients of the transaction that fails
BATCH = 500                 # RCPTs pipelined before reading their replies
CRASH_RE = re.compile(r"killed by signal|Sanitizer|runtime error|panic|"
                      r"assert", re.I)


def skip_loudly(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def nth(n):
    if n % 100 in (11, 12, 13):
        return "%dth" % n
    return "%d%s" % (n, {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th"))


# ------------------------------------------------------------- the shim

def build_shim(out_dir):
    """(path, None) of a usable shim, or (None, why)."""
    if os.path.exists(SHIM_SO) and \
            os.path.getmtime(SHIM_SO) >= os.path.getmtime(SHIM_SRC):
        so = SHIM_SO
    else:
        cc = os.environ.get("CC", "cc")
        if shutil.which(cc) is None:
            return None, "no C compiler (%s) to build %s" % (cc, SHIM_SRC)
        so = os.path.join(out_dir, "libfaultshim.so")
        cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-O2", "-shared",
               "-fPIC", "-o", so, SHIM_SRC, "-ldl"]
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, "%s: %s" % (" ".join(cmd), e)
        if r.returncode != 0:
            return None, "%s failed:\n%s" % (
                " ".join(cmd), r.stderr.decode("utf-8", "replace"))
        os.chmod(so, 0o755)
    # It must load: the dynamic loader only warns when it cannot.
    try:
        r = subprocess.run(["sh", "-c", "exit 0"], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30,
                           env=dict(os.environ, LD_PRELOAD=so))
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "probe of %s: %s" % (so, e)
    if r.returncode != 0 or b"LD_PRELOAD" in r.stderr:
        return None, "%s does not preload: %s" % (
            so, r.stderr.decode("utf-8", "replace").strip())
    return so, None


class ShimDaemon(T.Daemon):
    """A Daemon with extra environment and, optionally, RLIMIT_AS set
    between fork and exec (T.Daemon.spawn takes neither)."""

    def __init__(self, test, env=None, limit_as=None, **opts):
        self.env = dict(env or {})
        self.limit_as = limit_as
        super().__init__(test, **opts)

    def spawn(self, args=("-f",)):
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env)
        limit = self.limit_as

        def preexec():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        self.proc = subprocess.Popen(
            [T.LMTPD] + list(args) + ["-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True, env=env,
            preexec_fn=preexec if limit is not None else None)
        return self.proc

    def injected(self):
        """The shim's log lines: [(pid, errno name, op, n, path)]."""
        return [(int(m.group(1)), m.group(2), m.group(3),
                 int(m.group(4)), m.group(5))
                for m in SHIM_LINE.finditer(self.log())]


def shim_env(so, d, **extra):
    """The environment that preloads so into d, with d's mail root."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    env = {
        "LD_PRELOAD": so,
        "LMTPD_SHIM_ROOT": d.mail,
        "LMTPD_SHIM_LOG": "1",
        # The shim comes before the ASan runtime, which by default
        # refuses to run so (a sanitizer build).
        "ASAN_OPTIONS": (asan + ":" if asan else "") +
        "verify_asan_link_order=0",
    }
    env.update(extra)
    return env


# ------------------------------------------------------ transactions

def connection(d, ledger, jobs, timeout=30.0):
    """Runs jobs, [(msg_id, rcpts, body, bdat)], one after another on one
    connection, each recorded in ledger like faultlib.send.  Returns
    ([{rcpt: outcome}] of the jobs run, lost): lost is True when the
    connection broke; jobs after that are not sent nor recorded."""
    results = []
    c = None
    try:
        c = T.Client(("127.0.0.1", d.port), [], timeout=timeout)
        if c.greeting[0] != 220:
            raise EOFError("greeting %r" % (c.greeting,))
        code, lines = c.cmd("LHLO shim.test")
        if code != 250:
            raise EOFError("LHLO %r" % lines)
    except (OSError, EOFError, T.LMTPError):
        if c is not None:
            c.close()
        return results, True
    try:
        for msg_id, rcpts, body, bdat in jobs:
            out, lost = one(c, ledger, msg_id, rcpts, body, bdat)
            results.append(out)
            if lost:
                return results, True
        try:
            c.cmd("QUIT")
        except (OSError, EOFError, T.LMTPError):
            pass
        return results, False
    finally:
        c.close()


def one(c, ledger, msg_id, rcpts, body, bdat):
    """One transaction on the open connection c: ({rcpt: outcome}, lost)."""
    out = {}
    accepted = []
    after_dot = False
    lost = False
    try:
        code, _ = c.cmd("MAIL FROM:<%s>" % F.SENDER)
        if code != 250:
            for r in rcpts:
                out[r] = F.outcome_of(code)
            return out, False
        for r in rcpts:
            F.note_rcpt(r, c.cmd("RCPT TO:<%s>" % r)[0], accepted, out)
        if not accepted:
            c.cmd("RSET")
            return out, False
        if bdat:
            crlf = body.replace(b"\n", b"\r\n")
            c.send(b"BDAT %d LAST\r\n" % len(crlf) + crlf)
            after_dot = True
        else:
            code, _ = c.cmd("DATA")
            if code != 354:
                for r in accepted:
                    out[r] = F.outcome_of(code)
                return out, False
            c.send(F.wire(body) + b".\r\n")
            after_dot = True
        for r in accepted:
            code, _ = c.reply()
            out[r] = F.outcome_of(code)
        return out, False
    except (OSError, EOFError, T.LMTPError):
        lost = True
        for r in rcpts:
            out.setdefault(r, F.LOST_AFTER if after_dot else F.LOST_BEFORE)
        return out, lost
    finally:
        for r in rcpts:
            out.setdefault(r, F.LOST_BEFORE)
        ledger.record(msg_id, body, out)


def jobs_for(ledger, rng, tag, n, rcpt_pool, max_rcpts, sizes):
    jobs = []
    for _ in range(n):
        msg_id = ledger.new_id(tag)
        body = F.make_body(msg_id, rng.choice(sizes), rng)
        k = rng.randint(1, min(max_rcpts, len(rcpt_pool)))
        jobs.append((msg_id, rng.sample(rcpt_pool, k), body,
                     rng.random() < 0.3))
    return jobs


def tally(results):
    n = {}
    for out in results:
        for v in out.values():
            n[v] = n.get(v, 0) + 1
    return n


# ------------------------------------------------------------- tests

class ShimCase(F.FaultCase):
    """Builds (or finds) the shim once for the class."""

    shim = None
    shim_why = None
    shim_dir = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shim_dir = tempfile.mkdtemp(prefix="lmtpd-shim.")
        os.chmod(cls.shim_dir, 0o755)
        cls.shim, cls.shim_why = build_shim(cls.shim_dir)

    @classmethod
    def tearDownClass(cls):
        if cls.shim_dir is not None:
            shutil.rmtree(cls.shim_dir, ignore_errors=True)
        super().tearDownClass()

    def need_shim(self):
        if self.shim is None:
            skip_loudly(self, "no fault shim: %s" % self.shim_why)

    def shim_daemon(self, env=None, limit_as=None, **opts):
        d = ShimDaemon(self, env=env, limit_as=limit_as, **opts)
        self.daemons.append(d)
        return d


# (op, every, errno name, row, whether the shots hit copies, the paths
# counted).  A shot on a copy ends that copy (its recipient alone gets the
# 4xx): its header, the message written into the first recipient's copy
# as it comes, or its journal line, which must cost nothing but the line
# (delivery.c).
IO_FAULTS = [
    ("fsync", 7, "EIO", "EIO on fsync (every 7th)", True, None),
    ("write", 5, "EIO", "EIO on write (every 5th)", True, None),
    ("copy_file_range", 3, "EIO", "EIO on copy_file_range (every 3rd)",
     True, None),
    ("rename", 11, "EIO", "EIO on rename (every 11th)", True, None),
    ("dirfsync", 4, "EIO", "EIO on directory fsync (every 4th)", True,
     None),
    ("write", 7, "ENOSPC", "ENOSPC on write (every 7th)", True, None),
    ("fsync", 9, "EDQUOT", "EDQUOT on fsync (every 9th)", True, None),
    ("write", 2, "EIO", "EIO on journal write (every 2nd)", False,
     "lmtpd-dedup"),
]
# The reply each errno must give (maildir_reply_for, quota_full tempfail).
IO_ESC = {"EIO": "4.3.0", "ENOSPC": "4.3.1", "EDQUOT": "4.2.2"}


class TestShim(ShimCase):

    def test_io_errors(self):
        self.need_shim()
        n_msgs = F.scaled(100, 1000)
        pool = ["user%d@%s" % (i, dom) for i in range(4)
                for dom in F.DOMAINS]
        for i, (op, every, err, row, copies, match) in enumerate(
                IO_FAULTS):
            with self.subTest(fault=row):
                self.io_errors(op, every, err, row, copies, match, n_msgs,
                               pool, random.Random(100 + i))

    def io_errors(self, op, every, err, row, copies, match, n_msgs, pool,
                  rng):
        d = self.shim_daemon()
        extra = {"LMTPD_SHIM_MATCH": match} if match else {}
        d.env = shim_env(self.shim, d, LMTPD_SHIM_FAIL="%s:%d:%s"
                         % (op, every, err), **extra)
        d.start()
        ledger = F.Ledger()
        jobs = jobs_for(ledger, rng, "io-" + op, n_msgs, pool, 4,
                        (300, 3000, 40000, 200000))
        results = []
        lost = 0
        went_on = 0         # 4xx transactions the connection outlived
        for k in range(0, len(jobs), PER_CONNECTION):
            res, broke = connection(d, ledger, jobs[k:k + PER_CONNECTION])
            results.extend(res)
            lost += broke
            went_on += sum(1 for out in res[:-1]
                           if F.TEMP in out.values())
        n = tally(results)
        shots = [s for s in d.injected() if s[2] == op]
        # Bookkeeping files fail quietly (delivery.c); every other shot
        # hit one copy, whose recipient alone gets the 4xx.
        on_copies = [s for s in shots if "lmtpd-dedup" not in s[4] and
                     "maildirsize" not in s[4]]
        sys.stderr.write("\n  %s: %s; %d shots, %d on copies\n"
                         % (row, n, len(shots), len(on_copies)))
        F.TABLE.add(row, injected=len(shots))
        self.assertEqual(lost, 0, "%s: connections lost (the child must "
                         "answer 4xx and go on)" % row)
        self.assertEqual(n.get(F.PERM, 0), 0, "%s: 5xx replies" % row)
        self.assertGreater(len(shots), 0, "%s: never fired" % row)
        self.assertTrue(all(s[1] == err for s in shots), shots[:3])
        self.assertEqual(n.get(F.TEMP, 0), len(on_copies),
                         "%s: 4xx replies against shots on copies" % row)
        seen = set(re.findall(r"dsn=(4\.\d\.\d), status=deferred",
                              d.log()))
        self.assertNotRegex(d.log(), CRASH_RE)
        if copies:
            self.assertGreater(n.get(F.TEMP, 0), 0,
                               "%s: no 4xx, the fault never hit a copy"
                               % row)
            self.assertGreater(went_on, 0, "%s: no connection went on "
                               "after a 4xx" % row)
            self.assertEqual(seen, {IO_ESC[err]},
                             "%s: deferred with %s" % (row, seen))
        else:
            self.assertEqual(on_copies, [], row)
            self.assertEqual(seen, set(), row)
        self.assert_serving(d, row)
        self.verify(row, d, ledger, 0)
        d.stop()

    def clock(self, spec, row, tag):
        d = self.shim_daemon(max_requests=20)
        d.env = shim_env(self.shim, d, LMTPD_SHIM_CLOCK=spec)
        d.start()
        ledger = F.Ledger()
        n_msgs = F.scaled(200, 2000)
        n_conn = 6
        pool = ["same@example.org", "other@example.org"]
        per_thread = []
        for t in range(n_conn):
            rng = random.Random("%s-%d" % (tag, t))
            k = n_msgs // n_conn + (t < n_msgs % n_conn)
            per_thread.append(jobs_for(ledger, rng, tag, k, pool, 2,
                                       (300, 2000, 20000)))
        results = []
        lost = [0]
        lock = threading.Lock()

        def worker(jobs):
            for k in range(0, len(jobs), PER_CONNECTION):
                res, broke = connection(d, ledger,
                                        jobs[k:k + PER_CONNECTION])
                with lock:
                    results.extend(res)
                    lost[0] += broke

        threads = [threading.Thread(target=worker, args=(j,))
                   for j in per_thread]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertFalse(any(t.is_alive() for t in threads), "hung")
        n = tally(results)
        self.assertEqual(lost[0], 0, "%s: connections lost" % row)
        self.assertEqual(set(n), {F.OK}, "%s: %s" % (row, n))
        self.assertNotRegex(d.log(), CRASH_RE)
        self.assert_serving(d, row)
        d.stop()
        names = []
        for md in F.maildirs(d.mail):
            names.extend(os.listdir(os.path.join(md, "new")))
        self.assertEqual(len(names), n[F.OK], "%s: %d files for %d 250s"
                         % (row, len(names), n[F.OK]))
        return d, ledger, names

    def test_clock_frozen(self):
        self.need_shim()
        row = "clock frozen"
        d, ledger, names = self.clock("freeze:%d" % FROZEN_AT, row,
                                      "frozen")
        frozen = [x for x in names
                  if x.startswith("%d.M0P" % FROZEN_AT)]
        self.assertEqual(len(frozen), len(names),
                         "names not from the frozen clock: %s"
                         % [x for x in names if x not in frozen][:3])
        self.verify(row, d, ledger, len(frozen))

    def test_clock_backwards(self):
        self.need_shim()
        row = "clock jumps back %ds" % JUMP_BACK
        d, ledger, names = self.clock("jump:%d:3" % JUMP_BACK, row, "jump")
        # Within one process, by its counter: how often did a name's
        # second go back?
        by_pid = {}
        for x in names:
            m = re.match(r"(\d+)\.M\d+P(\d+)Q(\d+)\.", x)
            self.assertIsNotNone(m, x)
            by_pid.setdefault(m.group(2), []).append(
                (int(m.group(3)), int(m.group(1))))
        backs = 0
        for seq in by_pid.values():
            seq.sort()
            backs += sum(1 for a, b in zip(seq, seq[1:])
                         if b[1] <= a[1] - JUMP_BACK // 2)
        sys.stderr.write("\n  %s: %d names, %d steps back\n"
                         % (row, len(names), backs))
        self.assertGreater(backs, 0, "the clock never went back in a name")
        self.verify(row, d, ledger, backs)


class TestMemoryPressure(ShimCase):

    def test_memory_pressure(self):
        if T.is_asan(T.LMTPD):
            skip_loudly(self, "sanitizer build: ASan reserves terabytes "
                        "of address space, RLIMIT_AS cannot bind")
        row = "address space limit (RLIMIT_AS)"
        rounds = F.scaled(2, 8)
        peak = self.measure_peak()
        limit = peak * 1024 + AS_HEADROOM
        sys.stderr.write("\n  VmPeak %d KiB unlimited; RLIMIT_AS %d MiB\n"
                         % (peak, limit // MiB))
        d = self.shim_daemon(limit_as=limit, max_recipients=100000)
        d.start()
        ledger = F.Ledger()
        rng = random.Random(7)
        self.small(d, ledger, rng, "control before")
        fired = 0
        for rnd in range(rounds):
            msg_id = ledger.new_id("mem")
            body = F.make_body(msg_id, 2000, rng)
            rcpts = ["big%d.%d@example.org" % (rnd, i)
                     for i in range(BIG_RCPTS)]
            out, lost = self.big(d, ledger, msg_id, rcpts, body)
            n = tally([out])
            self.assertEqual(n.get(F.PERM, 0), 0, n)
            if lost or n.get(F.TEMP, 0) > 0:
                fired += 1
            self.assert_serving(d, row)
            self.small(d, ledger, rng, "control after round %d" % rnd)
        log = d.log()
        F.TABLE.add(row, injected=fired)
        self.assertEqual(fired, rounds, "%d of %d big transactions went "
                         "through under %d MiB" % (rounds - fired, rounds,
                                                   limit // MiB))
        self.assertIn("out of memory", log)
        self.assertNotRegex(log, CRASH_RE)
        self.verify(row, d, ledger, 0)

    def measure_peak(self):
        """The highest VmPeak (KiB) of a daemon's processes, unlimited,
        after a small transaction."""
        d = self.shim_daemon(max_recipients=100000)
        d.start()
        self.small(d, F.Ledger(), random.Random(3), "measure")
        peak = 0
        for p in T.group_members(d.proc.pid):
            try:
                with open("/proc/%d/status" % p) as f:
                    for line in f:
                        if line.startswith("VmPeak:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
        d.stop()
        self.assertGreater(peak, 0)
        return peak

    def small(self, d, ledger, rng, what):
        jobs = jobs_for(ledger, rng, "mem-small", 2,
                        ["user%d@example.org" % i for i in range(4)], 4,
                        (300, 5000))
        res, lost = connection(d, ledger, jobs)
        self.assertFalse(lost, "%s: connection lost" % what)
        self.assertEqual(set(tally(res)), {F.OK}, what)

    def big(self, d, ledger, msg_id, rcpts, body):
        """A transaction with rcpts, their RCPTs pipelined BATCH at a
        time: ({rcpt: outcome}, lost)."""
        out = {}
        accepted = []
        after_dot = False
        c = None
        try:
            c = T.Client(("127.0.0.1", d.port), [], timeout=30)
            if c.greeting[0] != 220:
                raise EOFError("greeting %r" % (c.greeting,))
            c.cmd("LHLO shim.test")
            code, _ = c.cmd("MAIL FROM:<%s>" % F.SENDER)
            if code != 250:
                for r in rcpts:
                    out[r] = F.outcome_of(code)
                return out, False
            for k in range(0, len(rcpts), BATCH):
                batch = rcpts[k:k + BATCH]
                c.send("".join("RCPT TO:<%s>\r\n" % r for r in batch))
                for r in batch:
                    F.note_rcpt(r, c.reply()[0], accepted, out)
            if not accepted:
                c.cmd("QUIT")
                return out, False
            code, _ = c.cmd("DATA")
            if code != 354:
                for r in accepted:
                    out[r] = F.outcome_of(code)
                return out, False
            after_dot = True
            c.send(F.wire(body) + b".\r\n")
            for r in accepted:
                code, _ = c.reply()
                out[r] = F.outcome_of(code)
            return out, False
        except (OSError, EOFError, T.LMTPError):
            for r in rcpts:
                out.setdefault(r, F.LOST_AFTER if after_dot else
                               F.LOST_BEFORE)
            return out, True
        finally:
            if c is not None:
                c.close()
            for r in rcpts:
                out.setdefault(r, F.LOST_BEFORE)
            ledger.record(msg_id, body, out)


if __name__ == "__main__":
    sys.exit(F.main())
