# SPDX-License-Identifier: MIT
"""The fault suite's shared part: a ledger of every transaction sent and
what lmtpd answered for each recipient, a client that can vanish at any
protocol step, the invariant check over the Maildirs, and the table of
faults injected against invariant violations.

The invariants, over every message sent:
  1. a recipient that got 250 has exactly one copy in new/, byte-exact;
  2. a recipient that got 4xx/5xx, or whose connection died before its
     reply, has no copy, except when the connection died after the final
     dot and before that reply: zero or one complete copy;
  3. nothing half-written is in new/ (every file there is a complete copy
     of a message sent, its ,S= its size); tmp/ holds files only when a
     delivery was interrupted (a killed child);
  4. lmtpd keeps serving: after each fault a new connection gets 220
     within a second.

Reuses tests/integration/test_lmtpd.py (Daemon, Client).  Python 3
standard library only.  Sizes scale with FAULT_SCALE (the environment):
"full" for the developer run, "ci" (the default) for .ci/run.
"""

import os
import random
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import test_lmtpd as T      # noqa: E402

SCALE = os.environ.get("FAULT_SCALE", "ci")
FULL = SCALE == "full"
SERVE_TIMEOUT = 1.0         # invariant 4: 220 within a second
SENDER = "fault-sender@remote.test"
DOMAINS = ["example.org", "example.net"]


def scaled(ci, full):
    """A count for this scale."""
    return full if FULL else ci


# ------------------------------------------------------------ the table

class Table:
    """Faults injected and invariant violations, per fault kind; printed
    once at the end of the run."""

    def __init__(self):
        self.rows = {}
        self.lock = threading.Lock()

    def add(self, fault, injected=0, violations=0, messages=0):
        with self.lock:
            r = self.rows.setdefault(fault, [0, 0, 0])
            r[0] += injected
            r[1] += messages
            r[2] += violations

    def render(self):
        lines = ["", "%-34s %10s %10s %10s" % ("fault", "injected",
                                               "messages", "violations")]
        total = 0
        for fault in sorted(self.rows):
            inj, msgs, bad = self.rows[fault]
            total += bad
            lines.append("%-34s %10d %10d %10d" % (fault, inj, msgs, bad))
        lines.append("%-34s %10s %10s %10d" % ("total", "", "", total))
        return "\n".join(lines) + "\n"


TABLE = Table()


def print_table():
    sys.stdout.write(TABLE.render())
    sys.stdout.flush()


# ----------------------------------------------------------- messages

def make_body(msg_id, size, rng=None):
    """A message of about size octets, LF line ends, lines of at most 78
    octets, naming msg_id in its header; the same arguments give the same
    bytes."""
    rng = rng or random.Random(msg_id)
    head = ("From: <%s>\nTo: fault test\nSubject: fault %s\n"
            "Message-ID: <%s@fault.test>\nX-Fault-Id: %s\n\n"
            % (SENDER, msg_id, msg_id, msg_id)).encode()
    out = [head]
    n = len(head)
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 .-"
    while n < size:
        k = rng.randint(1, 77)
        line = bytes(rng.choice(alphabet) for _ in range(k)) + b"\n"
        if line.startswith(b"."):
            line = b"x" + line[1:]
        out.append(line)
        n += len(line)
    out.append(b"-- end of %s\n" % msg_id.encode())
    return b"".join(out)


def wire(body):
    return T.wire(body)


# ------------------------------------------------------------- ledger

OK = "250"
TEMP = "4xx"
PERM = "5xx"
LOST_BEFORE = "lost before the dot"       # no copy allowed
LOST_AFTER = "lost after the dot"         # zero or one complete copy


class Ledger:
    """Every transaction sent: id -> (body, {rcpt: outcome})."""

    def __init__(self):
        self.msgs = {}
        self.lock = threading.Lock()
        self.counter = 0

    def new_id(self, tag):
        with self.lock:
            self.counter += 1
            return "%s-%d-%d" % (tag, os.getpid(), self.counter)

    def record(self, msg_id, body, outcomes):
        with self.lock:
            self.msgs[msg_id] = (body, dict(outcomes))

    def __len__(self):
        return len(self.msgs)


def outcome_of(code):
    if code == 250:
        return OK
    return TEMP if 400 <= code < 500 else PERM


def note_rcpt(r, code, accepted, out):
    """The reply to RCPT r: accepted, or its outcome in out."""
    if code == 250:
        accepted.append(r)
    else:
        out[r] = outcome_of(code)


def bdat_halves(body):
    """body with CRLF line ends (chunks carry the message as it is), split
    at a line end in the middle: two BDAT chunks."""
    crlf = body.replace(b"\n", b"\r\n")
    half = crlf.index(b"\r\n", len(crlf) // 2) + 2
    return crlf[:half], crlf[half:]


STEPS = ("after_mail", "after_rcpt", "mid_data", "before_dot",
         "after_dot", "mid_bdat", None)


def send(d, ledger, rcpts, body, vanish=None, bdat=False, unix=False,
         msg_id=None, timeout=30.0):
    """One transaction to daemon d, recorded in ledger.  vanish: None, or
    the step after which the client closes the connection without waiting
    (one of STEPS).  Connection errors are outcomes, not exceptions.
    Returns {rcpt: outcome}."""
    out = {}
    accepted = []
    phase = "greeting"
    c = None
    try:
        addr = d.sock_path if unix else ("127.0.0.1", d.port)
        c = T.Client(addr, [], timeout=timeout)
        if c.greeting[0] != 220:
            raise EOFError("greeting %r" % (c.greeting,))
        code, _ = c.cmd("LHLO fault.test")
        if code != 250:
            raise EOFError("LHLO %d" % code)
        phase = "mail"
        code, _ = c.cmd("MAIL FROM:<%s>" % SENDER)
        if code != 250:
            for r in rcpts:
                out[r] = outcome_of(code)
            return out
        if vanish == "after_mail":
            return _vanish(c, rcpts, out)
        for i, r in enumerate(rcpts):
            note_rcpt(r, c.cmd("RCPT TO:<%s>" % r)[0], accepted, out)
            if vanish == "after_rcpt" and i == len(rcpts) // 2:
                return _vanish(c, rcpts, out)
        if not accepted:
            c.cmd("RSET")
            return out
        data = wire(body)
        phase = "data"
        if bdat:
            first, rest = bdat_halves(body)
            c.send(b"BDAT %d\r\n" % len(first) + first)
            code, _ = c.reply()
            if code != 250:
                raise EOFError("BDAT %d" % code)
            if vanish == "mid_bdat":
                return _vanish(c, rcpts, out)
            c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
        else:
            code, _ = c.cmd("DATA")
            if code != 354:
                for r in accepted:
                    out[r] = outcome_of(code)
                return out
            if vanish == "mid_data":
                c.send(data[:len(data) // 2])
                return _vanish(c, rcpts, out)
            c.send(data)
            if vanish == "before_dot":
                return _vanish(c, rcpts, out)
            c.send(b".\r\n")
        phase = "after dot"
        if vanish == "after_dot":
            return _vanish(c, rcpts, out, after_dot=True)
        for r in accepted:
            code, _ = c.reply()
            out[r] = outcome_of(code)
        try:
            c.cmd("QUIT")
        except (OSError, EOFError, T.LMTPError):
            pass
        return out
    except (OSError, EOFError, T.LMTPError):
        lost = LOST_AFTER if phase == "after dot" else LOST_BEFORE
        for r in rcpts:
            out.setdefault(r, lost)
        return out
    finally:
        if c is not None:
            c.close()
        ledger.record(msg_id or _id_of(body), body, _complete(out, rcpts))


def _complete(out, rcpts):
    for r in rcpts:
        out.setdefault(r, LOST_BEFORE)
    return out


def _vanish(c, rcpts, out, after_dot=False):
    try:
        c.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    for r in rcpts:
        out.setdefault(r, LOST_AFTER if after_dot else LOST_BEFORE)
    return out


def _id_of(body):
    m = re.search(rb"\nX-Fault-Id: (\S+)\n", body)
    return m.group(1).decode()


# --------------------------------------------------------- invariants

TRACE_RE = re.compile(
    rb"\AReturn-Path: <[^>\n]*>\n"
    rb"Delivered-To: <(?P<rcpt>[^>\n]+)>\n"
    rb"Received: from [^\n]*\n(?:[ \t][^\n]*\n)*")
SIZE_RE = re.compile(r",S=(\d+)(?::|$)")


def maildirs(root):
    """Every Maildir under root (a directory holding new/)."""
    for top, dirs, files in os.walk(root):
        if "new" in dirs and "tmp" in dirs:
            yield top


def check(root, ledger, interrupted=False):
    """The invariants over every message in ledger and every file under
    root.  Returns a list of violations (strings); empty when all hold.
    interrupted: deliveries were killed, so tmp/ may hold files."""
    bad = []
    copies = {}             # (id, rcpt) -> count
    for md in maildirs(root):
        for sub in ("new", "cur"):
            path = os.path.join(md, sub)
            for name in os.listdir(path):
                if name.startswith("."):
                    continue
                full = os.path.join(path, name)
                v = _check_file(full, name, ledger, copies)
                if v:
                    bad.append(v)
        tmp = os.listdir(os.path.join(md, "tmp"))
        if tmp and not interrupted:
            bad.append("%s/tmp holds %d files with no delivery "
                       "interrupted: %s" % (md, len(tmp), tmp[:3]))
    for msg_id, (body, outcomes) in ledger.msgs.items():
        for rcpt, outcome in outcomes.items():
            n = copies.get((msg_id, rcpt.lower()), 0)
            if outcome == OK and n != 1:
                bad.append("%s to %s: 250 but %d copies" % (msg_id, rcpt,
                                                            n))
            elif outcome in (TEMP, PERM, LOST_BEFORE) and n != 0:
                bad.append("%s to %s: %s but %d copies" % (msg_id, rcpt,
                                                           outcome, n))
            elif outcome == LOST_AFTER and n > 1:
                bad.append("%s to %s: lost after the dot and %d copies"
                           % (msg_id, rcpt, n))
    return bad


def _check_file(full, name, ledger, copies):
    try:
        with open(full, "rb") as f:
            data = f.read()
    except OSError as e:
        return "%s: unreadable: %s" % (full, e)
    m = SIZE_RE.search(name)
    if m is None or int(m.group(1)) != len(data):
        return "%s: ,S= does not match its %d octets" % (full, len(data))
    t = TRACE_RE.match(data)
    if t is None:
        return "%s: no trace header block" % full
    rest = data[t.end():]
    idm = re.search(rb"\nX-Fault-Id: (\S+)\n", rest)
    if idm is None:
        return "%s: not a message of this run" % full
    msg_id = idm.group(1).decode()
    entry = ledger.msgs.get(msg_id)
    if entry is None:
        return "%s: message %s was never sent" % (full, msg_id)
    if rest != entry[0]:
        return "%s: copy of %s differs from what was sent (%d of %d " \
               "octets)" % (full, msg_id, len(rest), len(entry[0]))
    rcpt = t.group("rcpt").decode().lower()
    copies[(msg_id, rcpt)] = copies.get((msg_id, rcpt), 0) + 1
    return None


def serving(d, timeout=SERVE_TIMEOUT):
    """Invariant 4: a new connection gets 220 within timeout seconds.
    Retries connection refusals within that time (a listener being
    replaced)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            c = T.Client(("127.0.0.1", d.port), [], timeout=left)
            try:
                return c.greeting[0] == 220
            finally:
                c.close()
        except (OSError, EOFError, T.LMTPError):
            time.sleep(0.02)


def rcpt_set(rng, n_users, k):
    """k distinct recipients among n_users per domain."""
    pool = ["user%d@%s" % (i, dom) for i in range(n_users) for dom in
            DOMAINS]
    return rng.sample(pool, k)


class FaultCase(T.LMTPDTestCase):
    """A fault test: its daemons as in the integration tests, plus
    helpers to check and count."""

    daemon_opts = None

    def verify(self, fault, d, ledger, injected, interrupted=False):
        """Checks the invariants, adds the row, fails on a violation."""
        bad = check(d.mail, ledger, interrupted)
        TABLE.add(fault, injected=injected, violations=len(bad),
                  messages=len(ledger))
        self.assertEqual(bad, [], "%d violations, first: %s"
                         % (len(bad), bad[:5]))

    def assert_serving(self, d, fault):
        ok = serving(d)
        if not ok:
            TABLE.add(fault, violations=1)
        self.assertTrue(ok, "no 220 within %ss after %s"
                        % (SERVE_TIMEOUT, fault))


def main():
    """Entry point of each fault file: the tests, then the table."""
    return T.run_tests(after=print_table)
