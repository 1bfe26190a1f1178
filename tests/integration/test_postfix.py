#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests with a real MTA and a real reader: a private Postfix
instance hands mail to lmtpd over LMTP (a Unix socket, then TCP), and
Dovecot's doveadm reads back the Maildirs lmtpd wrote.

Usage: python3 tests/integration/test_postfix.py ./lmtpd [unittest args]

What is checked:
  - bulk: a few hundred messages submitted over SMTP to the private smtpd
    (some to 2-5 recipients across both domains, one of 5 MiB, one 8-bit
    sent with BODY=8BITMIME, one with lines starting with '.'); the queue
    drains; every copy is in its recipient's Maildir exactly once, and
    after lmtpd's trace lines and Postfix's Received: header the stored
    message is byte for byte the one submitted (LF line ends); Postfix's
    log shows status=sent via the lmtp transport for every recipient and
    no lmtp warnings; doveadm finds the same messages, sizes and Subjects
    and reports no error.  Once over lmtp:unix:, once (fewer messages)
    over lmtp:inet:.
  - a recipient lmtpd refuses (not in users_file: 550 5.1.1) is bounced
    by Postfix (status=bounced, 5.1.1) and the bounce reaches the sender,
    whose address lmtpd knows; the other recipients are delivered.
  - a recipient whose Maildir lmtpd cannot write (tmp/ owned by root,
    0500) is deferred by Postfix with a 4.x.x code while the others of the
    same messages are sent; after the permissions are fixed and the queue
    is flushed, it has exactly one copy of each message.

The private Postfix instance lives in a temporary directory: conf/
(main.cf, master.cf: every service unchrooted, an smtpd on
127.0.0.1:<free port>, postlog for maillog_file), queue/ (the
queue_directory, owned by root; Postfix's own postfix-script creates its
subdirectories with the owners it wants) and data/ (the data_directory,
owned by postfix, 0700), with the log in maillog.  It is run as
`postfix -c DIR start` / `postqueue -c DIR -j|-f` / `postfix -c DIR
stop`.  Authorization: a non-default configuration directory has to be
listed in alternate_config_directories (or multi_instance_directories) of
the default /etc/postfix/main.cf only for the set-gid commands run by
non-root users (postqueue, postdrop); the superuser may name any
directory with -c (the postfix command is superuser-only anyway).  So the
test needs root, touches nothing under /etc/postfix and does not need a
system main.cf at all (Debian's "No configuration" install has none);
without root it skips, loudly.  No DNS anywhere (smtp/lmtp dns support
disabled, native host lookups, no client name lookup), loopback only,
mydestination empty, virtual_mailbox_domains = example.org example.net,
virtual_transport = lmtp:unix:<lmtpd socket> or lmtp:inet:127.0.0.1:<port>,
everything else to the error transport so the queue always drains.

lmtpd runs from test_lmtpd.Daemon (as root it drops to nobody/nogroup);
its Unix socket gets socket_group = "postfix" (mode 0660, the default), as
in lmtpd.conf(5)'s Postfix example, so Postfix's lmtp client, which runs
as the postfix user, can connect.  Its max_children = 12 is below
Postfix's default lmtp concurrency of 20 on purpose: in the bulk run some
of Postfix's connections wait in lmtpd's listen queue while all children
are busy (a couple of seconds, until Postfix lets cached idle connections
go), and must still be served.

doveadm needs no running Dovecot: a minimal dovecot.conf in the temporary
directory (base_dir, log_path, ssl = no, mail_uid/mail_gid nobody,
mail_location = maildir:<mail root>/%d/%n/Maildir with INDEX= and
CONTROL= outside the Maildirs) and USER=<address> in the environment, so
doveadm makes no userdb lookup and writes nothing into the Maildirs.

Stopping: `postfix -c DIR stop`, then SIGKILL by PID for whatever is left
of the instance (the master's PID from queue/pid/master.pid, and every
process whose environment names this MAIL_CONFIG), and lmtpd by PID as in
test_lmtpd.  The test process makes itself a child subreaper
(prctl(PR_SET_CHILD_SUBREAPER)) so the detached Postfix master and its
daemons are reaped here, not left as zombies under a pid 1 that may not
reap.  Every wait is bounded (queue drain DRAIN_TIMEOUT).  Python 3
standard library only.  Skipped, loudly, when postfix or doveadm is not
installed (.ci/run installs both) or when not running as root.
"""

import ctypes
import email.utils
import json
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True     # no __pycache__ beside the tests
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_lmtpd as T      # noqa: E402

DRAIN_TIMEOUT = 120         # seconds for the Postfix queue to empty
LOG_TIMEOUT = 15            # seconds for postlogd to write what we wait for
CMD_TIMEOUT = 60            # seconds, each postfix/postqueue/doveadm run
SMTP_TIMEOUT = 30           # seconds, each SMTP operation
SUBMITTERS = 4              # parallel SMTP sessions for the bulk submission
MYHOSTNAME = "mta.lmtpd-test.invalid"
BIG = 5 * 1024 * 1024       # the large message
MAIL_UID, MAIL_GID = 65534, 65534       # nobody/nogroup, as in T.Daemon


def tool(name):
    """Absolute path of a Postfix/Dovecot program, or None."""
    p = shutil.which(name)
    if p is None:
        for d in ("/usr/sbin", "/usr/bin", "/sbin"):
            if os.access(os.path.join(d, name), os.X_OK):
                return os.path.join(d, name)
    return p


POSTFIX = tool("postfix")
POSTQUEUE = tool("postqueue")
DOVEADM = tool("doveadm")


def loud_skip(test, why):
    sys.stderr.write("\n*** SKIPPED %s: %s ***\n" % (test.id(), why))
    test.skipTest(why)


def require_tools(test):
    if POSTFIX is None or POSTQUEUE is None:
        loud_skip(test, "postfix not installed (apt-get install postfix; "
                  ".ci/run installs it)")
    if DOVEADM is None:
        loud_skip(test, "doveadm not installed (apt-get install "
                  "dovecot-core; .ci/run installs it)")
    if not T.IS_ROOT:
        loud_skip(test, "not running as root: a private Postfix instance "
                  "needs root")
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        loud_skip(test, "postfix installed but no postfix user")


def wait_for(pred, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ------------------------------------------------------ process reaping

KNOWN_CHILDREN = set()      # PIDs owned by subprocess.Popen objects


def become_subreaper():
    """Orphaned descendants (the daemonized Postfix master and, after it,
    its daemons) are reparented to this process instead of pid 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0     # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap_orphans():
    """Reaps zombie children that no Popen object owns."""
    me = os.getpid()
    for p in T.all_pids():
        st = T.proc_stat(p)
        if st is None or st[2] != me or st[1] != "Z" or p in KNOWN_CHILDREN:
            continue
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass


def environ_has(pid, entry):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return entry in f.read().split(b"\0")
    except OSError:
        return False


def run(args, timeout=CMD_TIMEOUT, **kw):
    return subprocess.run(args, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, **kw)


# ---------------------------------------------------------------- Postfix

LOG_RE = re.compile(
    r"postfix/(?P<svc>[\w/-]+)\[\d+\]: (?P<qid>[0-9A-Za-z]+): to=<(?P<to>"
    r"[^>]*)>, (?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]*), .*?"
    r"dsn=(?P<dsn>[0-9.]+), status=(?P<status>\w+) \((?P<text>.*)\)$")
MSGID_RE = re.compile(
    r"postfix/cleanup\[\d+\]: (?P<qid>[0-9A-Za-z]+): "
    r"message-id=<(?P<mid>[^>]*)>")

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:{port} inet n -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {top}/queue
data_directory = {top}/data
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
mail_owner = postfix
setgid_group = postdrop
myhostname = {host}
mydomain = lmtpd-test.invalid
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_reject_unlisted_recipient = no
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
relayhost =
virtual_alias_maps =
virtual_mailbox_maps =
virtual_mailbox_domains = example.org example.net
virtual_transport = {transport}
default_transport = error:5.1.2 nothing leaves this test instance
relay_transport = error:5.1.2 nothing leaves this test instance
notify_classes =
biff = no
message_size_limit = 20971520
enable_long_queue_ids = yes
in_flow_delay = 0s
queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 600s
"""


def main_cf(base, extra):
    """base with the "name = value" lines of extra replacing (or added to)
    its own, so that Postfix sees each parameter once."""
    lines = base.splitlines()
    for x in extra.splitlines():
        name = x.split("=", 1)[0].strip()
        for i, line in enumerate(lines):
            if line.split("=", 1)[0].strip() == name:
                lines[i] = x
                break
        else:
            lines.append(x)
    return "\n".join(lines) + "\n"


class Postfix:
    """A private Postfix instance under a temporary directory."""

    def __init__(self, transport, extra=""):
        self.top = tempfile.mkdtemp(prefix="lmtpd-postfix.")
        os.chmod(self.top, 0o755)
        self.conf = os.path.join(self.top, "conf")
        self.queue = os.path.join(self.top, "queue")
        self.data = os.path.join(self.top, "data")
        self.maillog = os.path.join(self.top, "maillog")
        for d in (self.conf, self.queue, self.data):
            os.mkdir(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        os.chmod(self.data, 0o700)
        self.transport = transport
        self.port = None
        self.master_pid = None
        self.started = False
        self.env_entry = b"MAIL_CONFIG=" + self.conf.encode()
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main_cf(MAIN_CF.format(top=self.top, host=MYHOSTNAME,
                                           transport=transport), extra))

    def postfix(self, *args):
        return run([POSTFIX, "-c", self.conf] + list(args))

    def start(self):
        """Writes master.cf with a free port and starts the instance; waits
        until its smtpd answers 220.  Retries when the port was taken."""
        why = ""
        for attempt in range(3):
            self.port = T.free_port()
            with open(os.path.join(self.conf, "master.cf"), "w") as f:
                f.write(MASTER_CF.format(port=self.port))
            r = self.postfix("check")
            if r.returncode != 0:
                raise AssertionError("postfix check: %r\n%s" %
                                     (r.stdout + r.stderr, self.log()))
            r = self.postfix("start")
            self.started = True
            self.master_pid = self.read_master_pid()
            if r.returncode == 0 and self.smtp_ready():
                return self
            why = "postfix start: %d %r" % (r.returncode, r.stdout + r.stderr)
            self.stop()
            # the checks read the log of the instance that started
            if os.path.exists(self.maillog):
                os.rename(self.maillog, "%s.failed-%d" % (self.maillog,
                                                          attempt))
        raise AssertionError("Postfix did not start: %s\n--- maillog ---\n%s"
                             % (why, self.log(self.maillog + ".failed-2")))

    def read_master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def smtp_ready(self):
        def probe():
            try:
                s = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=5)
            except OSError:
                return False
            try:
                s.settimeout(10)
                return s.recv(512).startswith(b"220 ")
            except OSError:
                return False
            finally:
                s.close()
        return wait_for(probe, 10, 0.1)

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, "client.test",
                            timeout=SMTP_TIMEOUT)

    def processes(self):
        out = [p for p in T.all_pids() if environ_has(p, self.env_entry)]
        if self.master_pid is not None and \
                T.proc_stat(self.master_pid) is not None and \
                T.proc_stat(self.master_pid)[1] != "Z" and \
                self.master_pid not in out:
            out.append(self.master_pid)
        return [p for p in out if p != os.getpid() and
                T.proc_stat(p) is not None and T.proc_stat(p)[1] != "Z"]

    def stop(self):
        """postfix stop, then SIGKILL by PID whatever of it is left."""
        if not self.started:
            return
        self.started = False
        try:
            self.postfix("stop")
        except subprocess.TimeoutExpired:
            pass
        wait_for(lambda: not self.processes(), 10)
        for p in self.processes():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.processes(), 10)
        reap_orphans()
        left = self.processes()
        if left:
            sys.stderr.write("warning: Postfix processes %r survived "
                             "SIGKILL\n" % left)

    def remove(self):
        if not T.KEEP:
            shutil.rmtree(self.top, ignore_errors=True)

    # -- queue and log

    def queue_entries(self):
        r = run([POSTQUEUE, "-c", self.conf, "-j"])
        if r.returncode != 0:
            raise AssertionError("postqueue -j: %r" % (r.stdout + r.stderr))
        return [json.loads(ln) for ln in r.stdout.decode().splitlines()
                if ln.strip()]

    def wait_drained(self, timeout=DRAIN_TIMEOUT):
        entries = wait_for(lambda: not self.queue_entries(), timeout, 0.25)
        if not entries:
            left = self.queue_entries()
            if left:
                raise AssertionError(
                    "queue not empty after %ds: %d messages, first %r"
                    % (timeout, len(left), left[:3]))

    def flush(self):
        r = run([POSTQUEUE, "-c", self.conf, "-f"])
        if r.returncode != 0:
            raise AssertionError("postqueue -f: %r" % (r.stdout + r.stderr))

    def log(self, path=None):
        try:
            with open(path or self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def deliveries(self):
        """[(qid, to, relay, dsn, status, text, svc, line)] from maillog."""
        out = []
        for line in self.log().splitlines():
            m = LOG_RE.search(line)
            if m:
                out.append((m["qid"], m["to"], m["relay"], m["dsn"],
                            m["status"], m["text"], m["svc"], line))
        return out

    def message_ids(self):
        """{message-id: [queue ids]} from cleanup's log lines."""
        out = {}
        for line in self.log().splitlines():
            m = MSGID_RE.search(line)
            if m:
                out.setdefault(m["mid"], []).append(m["qid"])
        return out

    def wait_log(self, pred):
        """Waits (bounded) until pred(deliveries()) is true."""
        return wait_for(lambda: pred(self.deliveries()), LOG_TIMEOUT, 0.1)


# ----------------------------------------------------------------- doveadm

DOVECOT_CONF = """\
base_dir = {top}/run
log_path = {top}/dovecot.log
info_log_path = {top}/dovecot.log
ssl = no
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:{mail}/%d/%n/Maildir:INDEX={state}/%d/%n/index\
:CONTROL={state}/%d/%n/control
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={state}/%d/%n
}}
"""


class Doveadm:
    """doveadm over lmtpd's Maildirs, without a running Dovecot."""

    def __init__(self, top, mail_root):
        self.top = os.path.join(top, "dovecot")
        self.state = os.path.join(self.top, "state")
        os.mkdir(self.top, 0o755)
        os.mkdir(self.state, 0o700)
        os.chown(self.state, MAIL_UID, MAIL_GID)
        self.conf = os.path.join(self.top, "dovecot.conf")
        self.log_path = os.path.join(self.top, "dovecot.log")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(top=self.top, mail=mail_root,
                                        state=self.state))

    def run(self, user, *args):
        local, domain = user.rsplit("@", 1)
        home = os.path.join(self.state, domain, local)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "USER": user, "HOME": home, "LANG": "C"}
        r = run([DOVEADM, "-c", self.conf, "-f", "tab"] + list(args),
                env=env, cwd=self.state)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def tab_rows(text):
    """doveadm -f tab output: a header line, then one row per record."""
    lines = [ln for ln in text.split("\n") if ln != ""]
    if not lines:
        return []
    keys = lines[0].split("\t")
    return [dict(zip(keys, ln.split("\t"))) for ln in lines[1:]]


# ---------------------------------------------------------------- messages

ORG = ["u%02d@example.org" % i for i in range(12)]
NET = ["v%02d@example.net" % i for i in range(8)]


class Message:
    def __init__(self, mid, sender, rcpts, subject, body, extra=b"",
                 eightbit=False):
        self.mid = mid
        self.sender = sender
        self.rcpts = rcpts
        self.subject = subject
        self.eightbit = eightbit
        self.data = (b"From: Test Sender <" + sender.encode() + b">\n"
                     b"To: " + b", ".join(r.encode() for r in rcpts) + b"\n"
                     b"Subject: " + subject.encode() + b"\n"
                     b"Date: " + email.utils.formatdate().encode() + b"\n"
                     b"Message-ID: <" + mid.encode() + b">\n"
                     b"MIME-Version: 1.0\n" + extra +
                     b"\n" + body)
        assert self.data.endswith(b"\n")


DOT_BODY = (b".a line that starts with a dot\n"
            b"..two dots\n"
            b".\n"
            b". \n"
            b"...\n"
            b"middle\n"
            b".\n"
            b"last line\n")

EIGHTBIT_BODY = ("UTF-8: \u00e9t\u00e9, na\u00efve, \u00fcber, \u20ac 5, "
                 "\u65e5\u672c\u8a9e\n").encode("utf-8") + \
    b"Latin-1 bytes: caf\xe9 \xe0 \xff\n" + \
    b"bytes 0x80-0x9f: " + bytes(range(0x80, 0xa0)) + b"\n" + \
    b"end\n"


def big_body(size):
    line = b"%08d " + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + b"\n"
    out = []
    n = 0
    i = 0
    while n < size:
        ln = line % i
        out.append(ln)
        n += len(ln)
        i += 1
    return b"".join(out)


def make_messages(tag, n, sender, rng):
    """n messages: #0 is 5 MiB to 2 recipients, #1 8-bit, #2 dot lines;
    every third to 2-5 recipients across both domains."""
    msgs = []
    for i in range(n):
        if i % 3 == 0 or i < 3:
            k = rng.randint(2, 5)
            rcpts = [rng.choice(ORG), rng.choice(NET)]
            rest = [a for a in ORG + NET if a not in rcpts]
            rcpts += rng.sample(rest, k - 2)
            rng.shuffle(rcpts)
        else:
            rcpts = [rng.choice(ORG + NET)]
        if i == 0:
            rcpts = rcpts[:2]
        mid = "%s.%d.%d@client.test" % (tag, i, os.getpid())
        subject = "%s message %d to %d" % (tag, i, len(rcpts))
        extra, eightbit = b"", False
        if i == 0:
            body = big_body(BIG)
        elif i == 1:
            body = EIGHTBIT_BODY
            extra = (b"Content-Type: text/plain; charset=utf-8\n"
                     b"Content-Transfer-Encoding: 8bit\n")
            eightbit = True
        elif i == 2:
            body = DOT_BODY
        else:
            lines = [b"line %d of message %d" % (j, i)
                     for j in range(rng.randint(1, 60))]
            if rng.random() < 0.2:
                lines.insert(rng.randrange(len(lines) + 1), b".dotted")
            body = b"\n".join(lines) + b"\n"
        msgs.append(Message(mid, sender, rcpts, subject, body, extra,
                            eightbit))
    return msgs


def submit(pf, msgs, sessions=SUBMITTERS):
    """Sends msgs over SMTP in parallel sessions; raises on any refusal."""
    errors = []
    chunks = [msgs[i::sessions] for i in range(sessions)]

    def worker(chunk):
        try:
            s = None
            for k, m in enumerate(chunk):
                if s is None or k % 40 == 0:
                    if s is not None:
                        s.quit()
                    s = pf.smtp()
                    s.ehlo()
                opts = ["BODY=8BITMIME"] if m.eightbit else []
                # smtplib leaves bytes' line ends alone: send CRLF
                refused = s.sendmail(m.sender, m.rcpts,
                                     m.data.replace(b"\n", b"\r\n"),
                                     mail_options=opts)
                if refused:
                    errors.append("%s: refused %r" % (m.mid, refused))
            if s is not None:
                s.quit()
        except Exception as e:      # reported by the caller
            errors.append("%s: %r" % (type(e).__name__, e))

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks
               if c]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SMTP_TIMEOUT * 10)
    if any(t.is_alive() for t in threads):
        errors.append("an SMTP session did not finish")
    if errors:
        raise AssertionError("submission failed: %s" % errors[:5])


def skip_header(data, name):
    """data starts with the header field name (with continuation lines):
    returns (that field, the rest)."""
    assert data.startswith(name), data[:200]
    pos = data.index(b"\n") + 1
    while data[pos:pos + 1] in (b" ", b"\t"):
        pos = data.index(b"\n", pos) + 1
    return data[:pos], data[pos:]


def header_value(msg, name):
    m = re.search(rb"(?mi)^" + re.escape(name) + rb":[ \t]*(.*)$",
                  msg.split(b"\n\n", 1)[0])
    return m.group(1) if m else None


# ------------------------------------------------------------------ tests

class PostfixTestCase(unittest.TestCase):
    """Base: lmtpd (T.Daemon) plus a private Postfix; both stopped by PID
    in the cleanup, with their logs dumped when a test fails."""

    @classmethod
    def start_pair(cls, holder, transport, **lmtpd_opts):
        """Starts lmtpd and a Postfix pointing at it; registers cleanups on
        holder (a class or a test) and stores both on it."""
        holder.d = T.Daemon(holder, socket_group="postfix",
                            max_children=12, **lmtpd_opts)
        holder.pf = None
        add = holder.addClassCleanup if isinstance(holder, type) \
            else holder.addCleanup
        add(cls.stop_pair, holder)
        holder.d.start()
        KNOWN_CHILDREN.add(holder.d.proc.pid)
        if transport == "unix":
            nexthop = "lmtp:unix:%s" % holder.d.sock_path
        else:
            nexthop = "lmtp:inet:127.0.0.1:%d" % holder.d.port
        holder.pf = Postfix(nexthop)
        holder.pf.start()

    @staticmethod
    def stop_pair(holder):
        if holder.pf is not None:
            holder.pf.stop()
        holder.d.stop()
        KNOWN_CHILDREN.discard(holder.d.proc.pid if holder.d.proc else None)
        reap_orphans()
        sanitizer = re.findall(r"(?m)^.*(?:Sanitizer|runtime error:).*$",
                               holder.d.log())
        if sanitizer:
            holder.dump_logs = True
        if getattr(holder, "dump_logs", False):
            dump(holder)
        if holder.pf is not None:
            holder.pf.remove()
        holder.d.remove()
        if sanitizer:
            raise AssertionError("lmtpd's log has sanitizer reports: %s"
                                 % sanitizer[:5])

    def failed(self):
        return T.LMTPDTestCase.failed(self)

    # -- checks shared by the tests

    def sent_lines(self, pf, d):
        """Delivery log lines via lmtp to this lmtpd."""
        want = d.sock_path if "unix:" in pf.transport else \
            "127.0.0.1[127.0.0.1]:%d" % d.port
        return [x for x in pf.deliveries() if x[6] == "lmtp" and
                want in x[2]]

    def assert_no_lmtp_warnings(self, pf):
        bad = [ln for ln in pf.log().splitlines()
               if re.search(r"postfix/lmtp\[\d+\]: (warning|error|fatal|"
                            r"panic):", ln) or
               re.search(r": (fatal|panic):", ln)]
        self.assertEqual(bad, [], "Postfix complained")

    def read_copy(self, d, rcpt, name, sender):
        """Returns (message-id, stored message after the trace headers
        lmtpd and Postfix added)."""
        path = os.path.join(d.maildir(rcpt), "new", name)
        with open(path, "rb") as f:
            data = f.read()
        m = re.search(r",S=(\d+)$", name)
        self.assertIsNotNone(m, name)
        self.assertEqual(int(m.group(1)), len(data), path)
        rp, dt, received, rest = T.split_copy(data)
        self.assertEqual(rp, b"Return-Path: <%s>\n" % sender.encode(), path)
        self.assertEqual(dt, b"Delivered-To: <%s>\n" % rcpt.encode(), path)
        self.assertTrue(received[0].startswith(b"Received: from "), received)
        self.assertTrue(received[-1].startswith(b"\tfor <%s>; "
                                                % rcpt.encode()), received)
        pfrcv, rest = skip_header(rest, b"Received: from ")
        self.assertIn(b"by " + MYHOSTNAME.encode() + b" (Postfix)", pfrcv)
        mid = header_value(rest, b"Message-ID")
        return (mid.decode("latin-1").strip("<>") if mid else None), rest


def dump(holder):
    out = ["", "====== diagnostics"]
    pf = getattr(holder, "pf", None)
    if pf is not None:
        out.append("------ %s (last 60 lines)" % pf.maillog)
        out.extend(pf.log().splitlines()[-60:])
    d = getattr(holder, "d", None)
    if d is not None:
        out.append("------ %s (last 40 lines)" % d.log_path)
        out.extend(d.log().splitlines()[-40:])
    sys.stderr.write("\n".join(out) + "\n")


class BulkChecks:
    """Mixed into a PostfixTestCase: one lmtpd, one Postfix, one bulk
    submission per class; the tests check the outcome from different
    sides."""

    transport = None
    count = 0

    @classmethod
    def setUpClass(cls):
        cls.d = cls.pf = None
        cls.dump_logs = False
        cls.setup_error = None
        if POSTFIX is None or POSTQUEUE is None or DOVEADM is None or \
                not T.IS_ROOT:
            return      # each test skips loudly
        try:
            cls.start_pair(cls, cls.transport)
            cls.sender = "sender@example.net"
            cls.msgs = make_messages("pf-" + cls.transport, cls.count,
                                     cls.sender, random.Random(cls.count))
            t0 = time.monotonic()
            submit(cls.pf, cls.msgs)
            t1 = time.monotonic()
            cls.pf.wait_drained()
            t2 = time.monotonic()
            ncopies = sum(len(m.rcpts) for m in cls.msgs)
            cls.pf.wait_log(lambda dl: sum(1 for x in dl
                                           if x[4] == "sent") >= ncopies)
            sys.stderr.write(
                "\n[%s: %d messages, %d copies: submitted in %.1fs, queue "
                "drained %.1fs later] " % (cls.transport, len(cls.msgs),
                                           ncopies, t1 - t0, t2 - t1))
        except Exception as e:
            cls.setup_error = "%s: %s" % (type(e).__name__, e)
            cls.dump_logs = True

    def setUp(self):
        require_tools(self)
        if self.setup_error:
            self.fail("setup: %s" % self.setup_error)

    def tearDown(self):
        if self.failed():
            type(self).dump_logs = True

    def expected(self):
        """{rcpt: {message-id: Message}}"""
        out = {}
        for m in self.msgs:
            for r in m.rcpts:
                out.setdefault(r, {})[m.mid] = m
        return out

    def test_maildirs_hold_each_copy_once(self):
        for rcpt, want in sorted(self.expected().items()):
            md = self.d.maildir(rcpt)
            self.assertEqual(T.maildir_files(md, "tmp"), [], md)
            self.assertEqual(T.maildir_files(md, "cur"), [], md)
            names = T.maildir_files(md, "new")
            seen = {}
            for name in names:
                mid, rest = self.read_copy(self.d, rcpt, name, self.sender)
                self.assertIn(mid, want, "%s: unexpected message %s"
                              % (rcpt, name))
                self.assertNotIn(mid, seen, "%s: %s twice (%s, %s)"
                                 % (rcpt, mid, seen.get(mid), name))
                seen[mid] = name
                if rest != want[mid].data:
                    self.fail("%s: %s: stored message differs from the "
                              "submitted one (%d vs %d bytes; first "
                              "difference at %d)" %
                              (rcpt, name, len(rest), len(want[mid].data),
                               next((i for i, (a, b) in
                                     enumerate(zip(rest, want[mid].data))
                                     if a != b), min(len(rest),
                                                     len(want[mid].data)))))
            self.assertEqual(sorted(seen), sorted(want),
                             "%s: missing copies" % rcpt)
        # every Maildir under the mail root is one we expect
        for dom in os.listdir(self.d.mail):
            for local in os.listdir(os.path.join(self.d.mail, dom)):
                self.assertIn("%s@%s" % (local, dom), self.expected())

    def test_special_messages_intact(self):
        """The 5 MiB, the 8-bit and the dot-lines message, read back from
        one recipient each."""
        for m in self.msgs[:3]:
            rcpt = m.rcpts[0]
            md = self.d.maildir(rcpt)
            found = []
            for name in T.maildir_files(md, "new"):
                mid, rest = self.read_copy(self.d, rcpt, name, self.sender)
                if mid == m.mid:
                    found.append(rest)
            self.assertEqual(len(found), 1, "%s in %s" % (m.mid, md))
            self.assertTrue(found[0] == m.data, "%s: stored %d bytes differ "
                            "from the %d submitted" %
                            (m.subject, len(found[0]), len(m.data)))
        self.assertGreater(len(self.msgs[0].data), BIG)
        self.assertIn(b"\xe9 \xe0 \xff", self.msgs[1].data)
        self.assertIn(b"\n.\n", self.msgs[2].data)

    def test_maillog_status_sent_via_lmtp(self):
        mids = self.pf.message_ids()
        lines = self.sent_lines(self.pf, self.d)
        by_qid = {}
        for x in lines:
            by_qid.setdefault(x[0], []).append(x)
        for m in self.msgs:
            qids = mids.get(m.mid, [])
            self.assertEqual(len(qids), 1, "queue ids of %s: %r"
                             % (m.mid, qids))
            got = by_qid.get(qids[0], [])
            self.assertEqual(sorted((x[1], x[4]) for x in got),
                             sorted((r, "sent") for r in m.rcpts),
                             "log for %s (%s)" % (m.mid, qids[0]))
            for x in got:
                self.assertTrue(x[3].startswith("2."), x[7])
                self.assertTrue(x[5].startswith("250 2."), x[7])
        other = [x[7] for x in self.pf.deliveries() if x[4] != "sent"]
        self.assertEqual(other, [], "not sent")
        self.assert_no_lmtp_warnings(self.pf)

    def test_dovecot_reads_maildirs(self):
        dv = Doveadm(self.pf.top, self.d.mail)
        for rcpt, want in sorted(self.expected().items()):
            md = self.d.maildir(rcpt)
            files, subject = {}, {}
            for name in T.maildir_files(md, "new"):
                with open(os.path.join(md, "new", name), "rb") as f:
                    files[name] = f.read()
                mid, _ = self.read_copy(self.d, rcpt, name, self.sender)
                subject[name] = want[mid].subject
            rc, out, err = dv.run(rcpt, "mailbox", "status",
                                  "messages vsize", "INBOX")
            self.assertEqual((rc, err), (0, ""), "doveadm mailbox status "
                             "for %s: %s" % (rcpt, out))
            rows = tab_rows(out)
            self.assertEqual(len(rows), 1, out)
            self.assertEqual(int(rows[0]["messages"]), len(want), out)
            vsize = sum(len(b) + b.count(b"\n") for b in files.values())
            self.assertEqual(int(rows[0]["vsize"]), vsize, out)

            rc, out, err = dv.run(rcpt, "fetch", "guid size.physical "
                                  "size.virtual hdr.subject", "ALL")
            self.assertEqual((rc, err), (0, ""), "doveadm fetch for %s"
                             % rcpt)
            rows = tab_rows(out)
            self.assertEqual(sorted(r["guid"] for r in rows), sorted(files),
                             rcpt)
            for r in rows:
                data = files[r["guid"]]
                self.assertEqual(int(r["size.physical"]), len(data), r)
                self.assertEqual(int(r["size.virtual"]),
                                 len(data) + data.count(b"\n"), r)
                self.assertEqual(r["hdr.subject"].strip(),
                                 subject[r["guid"]], r)
            # doveadm wrote nothing into the Maildir; lmtpd's journal
            # of deliveries did not disturb it
            self.assertEqual(sorted(os.listdir(md)),
                             ["cur", "lmtpd-dedup", "new", "tmp"])
            self.assertEqual(T.maildir_files(md, "new"), sorted(files))
        log = dv.log()
        self.assertIsNone(re.search(r"(?i)resync|error|warning|panic|fatal",
                                    log), log)


class TestPostfixUnix(BulkChecks, PostfixTestCase):
    transport = "unix"
    count = 300


class TestPostfixInet(BulkChecks, PostfixTestCase):
    transport = "inet"
    count = 50


class TestPostfixFailures(PostfixTestCase):
    """Permanent and temporary refusals, one lmtpd + Postfix per test."""

    def setUp(self):
        require_tools(self)
        self.d = self.pf = None
        self.dump_logs = False

    def tearDown(self):
        if self.failed():
            self.dump_logs = True

    def copies(self, rcpt, sender):
        """{message-id: count} in rcpt's new/."""
        out = {}
        for name in T.maildir_files(self.d.maildir(rcpt), "new"):
            mid, _ = self.read_copy(self.d, rcpt, name, sender)
            out[mid] = out.get(mid, 0) + 1
        return out

    def test_unknown_user_bounces(self):
        sender = "bounces@example.net"
        users = ["alice@example.org", "carol@example.net", sender,
                 "admin@example.org"]      # T.Daemon's postmaster
        self.start_pair(self, "unix", users=users)
        rcpts = ["alice@example.org", "nobody@example.org",
                 "carol@example.net"]
        m = Message("bounce.%d@client.test" % os.getpid(), sender, rcpts,
                    "to an unknown user", b"hello\n")
        submit(self.pf, [m], sessions=1)
        self.pf.wait_drained()
        self.pf.wait_log(lambda dl: len([x for x in dl
                                         if x[1] == sender]) >= 1)
        qid = self.pf.message_ids()[m.mid]
        self.assertEqual(len(qid), 1, qid)
        lines = [x for x in self.sent_lines(self.pf, self.d)
                 if x[0] == qid[0]]
        status = sorted((x[1], x[4]) for x in lines)
        self.assertEqual(status, [("alice@example.org", "sent"),
                                  ("carol@example.net", "sent"),
                                  ("nobody@example.org", "bounced")],
                         [x[7] for x in lines])
        bounced = [x for x in lines if x[4] == "bounced"][0]
        self.assertEqual(bounced[3], "5.1.1", bounced[7])
        self.assertIn("550 5.1.1", bounced[5], bounced[7])
        # the bounce went to the sender, through lmtpd
        back = [x for x in self.sent_lines(self.pf, self.d)
                if x[1] == sender]
        self.assertEqual([x[4] for x in back], ["sent"],
                         [x[7] for x in back])
        md = self.d.maildir(sender)
        names = T.maildir_files(md, "new")
        self.assertEqual(len(names), 1, names)
        with open(os.path.join(md, "new", names[0]), "rb") as f:
            dsn = f.read()
        self.assertTrue(dsn.startswith(b"Return-Path: <>\n"), dsn[:100])
        self.assertIn(b"multipart/report", dsn)
        self.assertIn(b"nobody@example.org", dsn)
        self.assertIn(b"5.1.1", dsn)
        self.assertIn(m.mid.encode(), dsn)
        for r in ("alice@example.org", "carol@example.net"):
            self.assertEqual(self.copies(r, sender), {m.mid: 1}, r)
        self.assertFalse(os.path.exists(self.d.maildir("nobody@example.org")))
        self.assert_no_lmtp_warnings(self.pf)

    def test_unwritable_maildir_deferred_then_flushed(self):
        sender = "sender@example.net"
        bad = "bob@example.org"
        good = ["alice@example.org", "carol@example.net"]
        self.start_pair(self, "unix")
        md = self.d.maildir(bad)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), mode=0o700)
        self.d.chown_tree(os.path.join(self.d.mail, "example.org"))
        tmp = os.path.join(md, "tmp")
        os.chown(tmp, 0, 0)
        os.chmod(tmp, 0o500)
        uids = {T.proc_uid(p) for p in self.d.children()}
        self.assertNotIn(0, uids, "lmtpd children run as root")

        msgs = [Message("defer.%d.%d@client.test" % (i, os.getpid()), sender,
                        [good[0], bad, good[1]] if i % 2 else
                        [bad] + good, "deferred %d" % i,
                        b"body %d\n.dot\n" % i) for i in range(5)]
        submit(self.pf, msgs, sessions=1)
        mids = {}

        def settled(dl):
            mids.update(self.pf.message_ids())
            qids = {q for m in msgs for q in mids.get(m.mid, [])}
            st = [(x[1], x[4]) for x in dl if x[0] in qids]
            return len(qids) == len(msgs) and \
                st.count((bad, "deferred")) == len(msgs) and \
                sum(1 for r, s in st if s == "sent") == 2 * len(msgs)
        ok = self.pf.wait_log(settled)
        lines = self.sent_lines(self.pf, self.d)
        self.assertTrue(ok, [x[7] for x in lines])
        for x in lines:
            if x[1] == bad:
                self.assertEqual(x[4], "deferred", x[7])
                self.assertTrue(x[3].startswith("4."), x[7])
                self.assertRegex(x[5], r"\b4\d\d 4\.\d+\.\d+\b", x[7])
            else:
                self.assertEqual(x[4], "sent", x[7])
        self.assertEqual(T.maildir_files(md, "new"), [])
        self.assertEqual(T.maildir_files(md, "tmp"), [])
        # qmgr moves a message to deferred/ just after lmtp logged it
        wait_for(lambda: [e["queue_name"] for e in self.pf.queue_entries()]
                 == ["deferred"] * len(msgs), LOG_TIMEOUT)
        queued = self.pf.queue_entries()
        self.assertEqual([e["queue_name"] for e in queued],
                         ["deferred"] * len(msgs), queued)
        for e in queued:
            self.assertEqual([r["address"] for r in e["recipients"]], [bad],
                             e)

        # fix the Maildir, flush: each deferred copy arrives exactly once
        os.chown(tmp, MAIL_UID, MAIL_GID)
        os.chmod(tmp, 0o700)
        self.pf.flush()
        self.pf.wait_drained()
        self.pf.wait_log(lambda dl: sum(1 for x in dl if x[1] == bad and
                                        x[4] == "sent") >= len(msgs))
        want = {m.mid: 1 for m in msgs}
        self.assertEqual(self.copies(bad, sender), want)
        for r in good:
            self.assertEqual(self.copies(r, sender), want, r)
        st = [(x[1], x[4]) for x in self.sent_lines(self.pf, self.d)]
        self.assertEqual(st.count((bad, "sent")), len(msgs), st)
        self.assertEqual(st.count((bad, "deferred")), len(msgs), st)
        for r in good:
            self.assertEqual(st.count((r, "sent")), len(msgs), st)
        self.assertEqual(T.maildir_files(md, "tmp"), [])
        self.assert_no_lmtp_warnings(self.pf)


# ------------------------------------------------------------------- main

class TestPostfixMailboxCommand(unittest.TestCase):
    """lmtpd deliver as Postfix's mailbox_command: local(8) runs it as the
    recipient (a system user this test creates and removes), with
    Postfix's own From_ line, Return-Path: and Delivered-To: on top.  Exit
    0 is status=sent; an over-quota copy exits 75 and Postfix defers it."""

    USER = "lmtpdpf1"

    def setUp(self):
        require_tools(self)
        self.top = tempfile.mkdtemp(prefix="lmtpd-lda.")
        os.chmod(self.top, 0o755)
        self.addCleanup(shutil.rmtree, self.top, True)
        run(["userdel", "-r", self.USER])
        home = os.path.join(self.top, "home")
        r = run(["useradd", "-m", "-d", home, "-s", "/bin/sh", "-K",
                 "UID_MIN=20000", "-U", self.USER])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(run, ["userdel", "-r", self.USER])
        self.pw = pwd.getpwnam(self.USER)
        self.spool = os.path.join(self.top, "spool")
        os.mkdir(self.spool)
        os.chmod(self.spool, 0o1777)
        self.conf = os.path.join(self.top, "lmtpd.conf")
        self.write_conf("0")
        cmd = '%s deliver -c %s -f "$SENDER" "$RECIPIENT"' % (T.LMTPD,
                                                              self.conf)
        self.pf = Postfix("error:5.1.2 no virtual domains here",
                          "mydestination = local.test\n"
                          "local_transport = local\n"
                          "mailbox_command = %s\n" % cmd)
        self.addCleanup(self.stop)
        self.pf.start()

    def stop(self):
        self.pf.stop()
        reap_orphans()
        if T.LMTPDTestCase.failed(self):
            sys.stderr.write("\n--- maillog ---\n%s\n" % self.pf.log())
        self.pf.remove()

    def write_conf(self, quota):
        with open(self.conf, "w") as f:
            f.write('domains = {"local.test"}\n'
                    'lookup = {"passwd"}\n'
                    'spool_dir = "%s"\n'
                    'log_target = "stderr"\n'
                    'quota = "%s"\n' % (self.spool, quota))
        os.chmod(self.conf, 0o644)

    def send(self, tag):
        rcpt = "%s@local.test" % self.USER
        m = Message("%s.%d@client.test" % (tag, os.getpid()),
                    "someone@example.net", [rcpt], tag, b"hello\n")
        submit(self.pf, [m], sessions=1)
        return m

    def test_delivered_and_deferred(self):
        md = os.path.join(self.pw.pw_dir, "Maildir")
        m = self.send("first")
        self.pf.wait_drained()
        names = T.maildir_files(md, "new")
        self.assertEqual(len(names), 1, self.pf.log())
        path = os.path.join(md, "new", names[0])
        st = os.stat(path)
        self.assertEqual((st.st_uid, st.st_gid),
                         (self.pw.pw_uid, self.pw.pw_gid))
        with open(path, "rb") as f:
            data = f.read()
        head = data.split(b"\n\n", 1)[0]
        self.assertTrue(data.startswith(
            b"Return-Path: <someone@example.net>\nDelivered-To: <"), head)
        # Postfix's own Delivered-To and From_ line are not kept.
        self.assertEqual(head.count(b"Delivered-To:"), 1, head)
        self.assertNotIn(b"\nFrom ", head)
        self.assertIn(m.mid.encode(), head)
        # What Postfix was asked for stays on record.
        self.assertIn(b"\nX-Original-To: %s@local.test\n"
                      % self.USER.encode(), head)
        self.assertTrue(self.pf.wait_log(lambda dl: any(
            x[4] == "sent" and x[6] == "local" for x in dl)), self.pf.log())

        self.write_conf("10S")
        self.send("second")
        self.assertTrue(self.pf.wait_log(lambda dl: any(
            x[4] == "deferred" for x in dl)), self.pf.log())
        deferred = [x for x in self.pf.deliveries() if x[4] == "deferred"]
        self.assertIn("4.2.2", deferred[0][7])
        self.assertEqual(len(T.maildir_files(md, "new")), 1)


def system_instances():
    """Notes (does not stop) a system Postfix or Dovecot that is running:
    the private instance does not depend on it nor collide with it."""
    notes = []
    for path, name in (("/var/spool/postfix/pid/master.pid", "Postfix"),
                       ("/run/dovecot/master.pid", "Dovecot")):
        try:
            with open(path) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        st = T.proc_stat(pid)
        if st is not None and st[1] != "Z":
            notes.append("%s (pid %d)" % (name, pid))
    if notes:
        sys.stderr.write("note: system %s running; this test uses its own "
                         "instance and does not touch it\n"
                         % ", ".join(notes))


def before_tests():
    if T.IS_ROOT and not become_subreaper():
        sys.stderr.write("warning: prctl(PR_SET_CHILD_SUBREAPER) failed: "
                         "stopped Postfix daemons are left to pid 1\n")
    system_instances()


if __name__ == "__main__":
    sys.exit(T.run_tests(before=before_tests, after=reap_orphans))
