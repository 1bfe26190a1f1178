#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""lmtpd's benchmark: lmtpd, Dovecot's LMTP and the disk limit, side by side.

Loads each server with Postfix's smtp-source over loopback, checks that
every copy reached new/ (a refused message is never throughput), and
writes RESULTS.md, results.json and throughput.png.  Standard library
only; runs as root (the daemons drop to nobody).  See bench/README.md.
"""

import argparse
import json
import os
import platform
import pwd
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
KIB, MIB = 1024, 1024 * 1024
DOMAIN = "example.org"
SENDER = "bench@example.net"
DOVECOT_LMTP = "/usr/lib/dovecot/lmtp"
# limit writes the payload plus about what smtp-source and lmtpd add as
# header lines (From/To/Date/Message-Id, Return-Path, Delivered-To,
# Received: about 310 octets for lmtpd).
HEADER_OCTETS = 320

# Binary -> Debian package, for --install and for the message when missing.
NEEDS = [
    ("/usr/sbin/smtp-source", "postfix", True),
    ("/usr/bin/strace", "strace", False),
    ("/usr/bin/gnuplot", "gnuplot-nox", False),
    ("/usr/sbin/dovecot", "dovecot-core", False),
    (DOVECOT_LMTP, "dovecot-lmtpd", False),
]


class BenchError(Exception):
    pass


def log(msg=""):
    print(msg, flush=True)


def human_size(n):
    if n >= MIB and n % MIB == 0:
        return "%d MiB" % (n // MIB)
    if n >= KIB and n % KIB == 0:
        return "%d KiB" % (n // KIB)
    return "%d B" % n


def interrupt(proc, timeout):
    """SIGINT to a tracer (strace, perf), which then writes its report;
    SIGKILL when it has not exited within timeout seconds."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def run_cmd(argv, timeout=30, **kw):
    """Runs argv to completion (bounded); returns its stdout, "" if absent."""
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout, **kw)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout.strip()


# ----------------------------------------------------------------------------
# Processes: trees, CPU, memory.

def read_stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    # Fields 3.. of proc(5): state, ppid, ..., utime(14), stime(15),
    # cutime(16), cstime(17).
    return {"ppid": int(rest[1]), "utime": int(rest[11]),
            "stime": int(rest[12]), "cutime": int(rest[13]),
            "cstime": int(rest[14])}


def tree_pids(root):
    """root and all its descendants, from /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(int(name))
        if st is not None:
            children.setdefault(st["ppid"], []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def own_cpu_seconds(pid, st):
    """On-CPU time of pid's threads: ns from schedstat, else stat's ticks."""
    try:
        ns = 0
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns += int(f.read().split()[0])
        return ns / 1e9
    except (OSError, ValueError, IndexError):
        return (st["utime"] + st["stime"]) / CLK_TCK


def tree_cpu(root):
    """CPU seconds of the whole tree: each live process's own and reaped.

    A child that exits has its utime+stime (and its own children's) added to
    its parent's cutime+cstime when the parent reaps it, so the sum over
    the live processes never loses what the exited ones used.  The live
    part is read in nanoseconds (schedstat); the reaped part only exists in
    clock ticks (10 ms).
    """
    total = 0.0
    for p in tree_pids(root):
        st = read_stat(p)
        if st is not None:
            total += own_cpu_seconds(p, st)
            total += (st["cutime"] + st["cstime"]) / CLK_TCK
    return total


def tree_ticks(root):
    """(user, system) clock ticks of the tree, reaped children included."""
    u = k = 0
    for p in tree_pids(root):
        st = read_stat(p)
        if st is not None:
            u += st["utime"] + st["cutime"]
            k += st["stime"] + st["cstime"]
    return u, k


def smaps_rollup(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        m = re.match(r"(Rss|Pss|Anonymous):\s+(\d+) kB", line)
        if m:
            key = {"Rss": "rss", "Pss": "pss", "Anonymous": "anon"}
            out[key[m.group(1)]] = int(m.group(2))
    return out if "rss" in out else None


class MemSampler(threading.Thread):
    """Samples Rss and Pss of every process of a tree, keeping each peak."""

    def __init__(self, root, interval=0.02):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = {}          # pid -> {"rss": kB, "pss": kB}
        self.stop_ev = threading.Event()

    def sample(self):
        for p in tree_pids(self.root):
            m = smaps_rollup(p)
            if m is None:
                continue
            pk = self.peak.setdefault(p, {"rss": 0, "pss": 0, "anon": 0})
            for k in pk:
                pk[k] = max(pk[k], m.get(k, 0))

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_greeting(port, proc, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError("%s exited with status %s at start-up"
                             % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=2) as s:
                s.settimeout(2)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise BenchError("%s gave no greeting on port %d within %.0f s (%s)"
                     % (what, port, timeout, last))


# ----------------------------------------------------------------------------
# The servers.

class Daemon:
    """A server started in its own session; stopped by its pid."""

    name = "?"

    def __init__(self, work, key):
        self.work = os.path.join(work, key)
        self.key = key
        self.mail = os.path.join(self.work, "mail")
        self.port = free_port()
        self.proc = None
        os.makedirs(self.mail)

    def argv(self):
        raise NotImplementedError

    def start(self):
        logf = open(os.path.join(self.work, "daemon.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            logf.close()
        try:
            wait_greeting(self.port, self.proc, self.name)
        except BenchError:
            self.stop()
            raise BenchError("%s did not start; its log:\n%s"
                             % (self.name, self.log_tail()))

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.work, "daemon.log"),
                      errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Its own session: the group is this daemon and its children.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(timeout=10)

    def maildir(self, local):
        return os.path.join(self.mail, DOMAIN, local, "Maildir")


class Lmtpd(Daemon):
    name = "lmtpd"

    def __init__(self, work, key, binary, delivered_to, dedup_window,
                 nobody):
        super().__init__(work, key)
        self.binary = binary
        self.spool = os.path.join(self.work, "spool")
        os.makedirs(self.spool)
        for d in (self.mail, self.spool):
            os.chown(d, nobody.pw_uid, nobody.pw_gid)
        self.conf = os.path.join(self.work, "lmtpd.conf")
        with open(self.conf, "w") as f:
            f.write(
                '# written by bench/run.py\n'
                'listen = {"inet:127.0.0.1:%d"}\n'
                'domains = {"%s"}\n'
                'maildir = "%s/%%d/%%n/Maildir"\n'
                'spool_dir = "%s"\n'
                'pid_file = "%s/lmtpd.pid"\n'
                'status_socket = ""\n'
                'log_target = "stderr"\n'
                'user = "%s"\n'
                'group = "%s"\n'
                'delivered_to = "%s"\n'
                'dedup_window = %d\n'
                '# for the 100 MiB memory test only; no effect on the rest\n'
                'max_message_size = 0\n'
                % (self.port, DOMAIN, self.mail, self.spool, self.work,
                   nobody.pw_name, group_name(nobody.pw_gid), delivered_to,
                   dedup_window))
        os.chmod(self.conf, 0o644)

    def argv(self):
        return [self.binary, "-f", "-c", self.conf]


class Dovecot(Daemon):
    name = "dovecot"

    def __init__(self, work, key, nobody):
        super().__init__(work, key)
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.work, d))
        self.conf = os.path.join(self.work, "dovecot.conf")
        w = self.work
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF % {
                "base": w + "/run", "state": w + "/state",
                "log": w + "/daemon.log", "mail": self.mail,
                "port": self.port, "user": nobody.pw_name,
                "group": group_name(nobody.pw_gid)})

    def argv(self):
        return ["/usr/sbin/dovecot", "-F", "-c", self.conf]


# A private instance: nothing of /etc/dovecot is read.  mail_fsync =
# always: every delivery is fsynced, as lmtpd's always is (Dovecot's
# default, "optimized", does not sync each message).
DOVECOT_CONF = """# written by bench/run.py
base_dir = %(base)s
state_dir = %(state)s
instance_name = lmtpd-bench
protocols = lmtp
listen = 127.0.0.1
ssl = no
log_path = %(log)s
info_log_path = %(log)s
mail_location = maildir:%(mail)s/%%d/%%n/Maildir
mail_fsync = always
mail_uid = %(user)s
mail_gid = %(group)s
first_valid_uid = 1
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=%(user)s gid=%(group)s home=%(mail)s/%%d/%%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(port)d
  }
  unix_listener lmtp {
    mode = 0
  }
}
service anvil {
  chroot =
}
"""


def group_name(gid):
    import grp
    return grp.getgrgid(gid).gr_name


# ----------------------------------------------------------------------------
# One measured run.

class Runner:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.seq = 0

    def next_local(self):
        """A fresh local part, so each run writes into empty Maildirs."""
        self.seq += 1
        return "r%dx" % self.seq

    @staticmethod
    def locals_for(base, rcpts):
        # smtp-source -r N: the first recipient is the -t address, the
        # others have 2..N prepended to it (checked by count below).
        return [base] + ["%d%s" % (i, base) for i in range(2, rcpts + 1)]

    def timeout_for(self, msgs, rcpts, size):
        if self.args.timeout:
            return self.args.timeout
        return 60 + msgs * rcpts * (0.05 + 0.5 * size / MIB)

    @staticmethod
    def count_new(maildir):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(maildir, sub)))
            except FileNotFoundError:
                pass
        return n

    def verify(self, daemon_or_dirs, locals_, msgs, what):
        got = {}
        for local in locals_:
            md = (daemon_or_dirs.maildir(local)
                  if isinstance(daemon_or_dirs, Daemon)
                  else daemon_or_dirs[local])
            got[local] = self.count_new(md)
        bad = {k: v for k, v in got.items() if v != msgs}
        for local in locals_:
            md = (daemon_or_dirs.maildir(local)
                  if isinstance(daemon_or_dirs, Daemon)
                  else daemon_or_dirs[local])
            left = os.listdir(os.path.join(md, "tmp")) if os.path.isdir(
                os.path.join(md, "tmp")) else []
            if left:
                raise BenchError("%s: %d files left in %s/tmp"
                                 % (what, len(left), md))
        if bad:
            raise BenchError("%s: expected %d messages in each of %s, found "
                             "%s: refused or lost mail is not throughput"
                             % (what, msgs, ", ".join(locals_), got))

    def settle(self, paths):
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
        os.sync()
        time.sleep(0.2)

    def smtp_source(self, daemon, size, rcpts, sessions, kept, msgs,
                    base=None):
        """One smtp-source run against daemon; returns the sample dict."""
        base = base or self.next_local()
        locals_ = self.locals_for(base, rcpts)
        argv = ["/usr/sbin/smtp-source", "-L", "-s", str(sessions),
                "-m", str(msgs), "-l", str(size), "-r", str(rcpts),
                "-f", SENDER, "-t", "%s@%s" % (base, DOMAIN)]
        if kept:
            argv.append("-d")   # -d: do NOT disconnect between messages
        argv.append("inet:127.0.0.1:%d" % daemon.port)
        timeout = self.timeout_for(msgs, rcpts, size)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0 = tree_cpu(daemon.pid)
        tk0 = tree_ticks(daemon.pid)
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate(timeout=10)
            raise BenchError("%s: smtp-source did not finish within %.0f s"
                             % (daemon.name, timeout))
        t1 = time.monotonic()
        cpu1 = tree_cpu(daemon.pid)
        tk1 = tree_ticks(daemon.pid)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise BenchError("%s: smtp-source exited %d: %s\n%s"
                             % (daemon.name, p.returncode, out.strip(),
                                daemon.log_tail()))
        if not daemon.alive():
            raise BenchError("%s died during the run:\n%s"
                             % (daemon.name, daemon.log_tail()))
        self.verify(daemon, locals_, msgs, daemon.name)
        self.settle([os.path.join(daemon.mail, DOMAIN, l) for l in locals_])
        elapsed = t1 - t0
        return {"msgs": msgs, "elapsed": elapsed, "rate": msgs / elapsed,
                "server_cpu_ms": (cpu1 - cpu0) * 1000.0 / msgs,
                "server_user_ms": (tk1[0] - tk0[0]) * 1000.0 / CLK_TCK
                / msgs,
                "server_sys_ms": (tk1[1] - tk0[1]) * 1000.0 / CLK_TCK
                / msgs,
                "client_cpu_ms": ((ru1.ru_utime - ru0.ru_utime)
                                  + (ru1.ru_stime - ru0.ru_stime))
                * 1000.0 / msgs}

    def limit(self, size, copies, link, procs, msgs):
        d = os.path.join(self.work, "limit", "run%d" % self.seq)
        self.seq += 1
        os.makedirs(os.path.dirname(d), exist_ok=True)
        argv = [self.args.limit, "-d", d, "-p", str(procs), "-m", str(msgs),
                "-s", str(size + HEADER_OCTETS), "-c", str(copies)]
        if link:
            argv.append("-k")
        timeout = self.timeout_for(msgs, copies, size)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError("limit did not finish within %.0f s" % timeout)
        t1 = time.monotonic()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise BenchError("limit failed: %s" % r.stdout.strip())
        dirs = {str(c): os.path.join(d, str(c)) for c in range(1, copies + 1)}
        self.verify(dirs, list(dirs), msgs, "limit")
        self.settle([d])
        elapsed = t1 - t0
        return {"msgs": msgs, "elapsed": elapsed, "rate": msgs / elapsed,
                "server_cpu_ms": ((ru1.ru_utime - ru0.ru_utime)
                                  + (ru1.ru_stime - ru0.ru_stime))
                * 1000.0 / msgs}


# ----------------------------------------------------------------------------
# strace -c, memory.

def parse_strace_c(path):
    """{syscall: [calls, errors]} from strace -c's table."""
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]):
                name = parts[-1]
                if name == "total":
                    continue
                errs = int(parts[4]) if len(parts) >= 6 else 0
                c = calls.setdefault(name, [0, 0])
                c[0] += int(parts[3])
                c[1] += errs
    return calls


def strace_run(runner, daemon, size, rcpts, kept, msgs):
    """Counts the syscalls of the whole daemon tree over msgs messages."""
    out = os.path.join(runner.work, "strace.%s.%d" % (daemon.key,
                                                     runner.seq))
    argv = ["strace", "-c", "-f", "-qq", "-o", out]
    for p in tree_pids(daemon.pid):
        argv += ["-p", str(p)]
    st = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)     # attach
        runner.smtp_source(daemon, size, rcpts, 1, kept, msgs)
    finally:
        interrupt(st, 20)
    return parse_strace_c(out)


def strace_limit(runner, size, copies, link, msgs):
    out = os.path.join(runner.work, "strace.limit.%d" % runner.seq)
    d = os.path.join(runner.work, "limit", "strace%d" % runner.seq)
    runner.seq += 1
    os.makedirs(os.path.dirname(d), exist_ok=True)
    argv = ["strace", "-c", "-f", "-qq", "-o", out, runner.args.limit,
            "-d", d, "-p", "1", "-m", str(msgs), "-s",
            str(size + HEADER_OCTETS), "-c", str(copies)]
    if link:
        argv.append("-k")
    r = subprocess.run(argv, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        raise BenchError("strace limit failed: %s" % r.stdout)
    runner.settle([d])
    return parse_strace_c(out)


def perf_enable(ctl, ack, proc, timeout=30.0):
    """Starts perf's counting once it is ready (--control), bounded."""
    deadline = time.monotonic() + timeout
    fd = -1
    while fd == -1:
        if proc.poll() is not None:
            raise BenchError("perf record exited with status %d"
                             % proc.returncode)
        try:
            fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:         # ENXIO: perf has not opened it yet
            if time.monotonic() > deadline:
                raise BenchError("perf record never became ready")
            time.sleep(0.05)
    afd = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"enable\n")
        got = b""
        while b"ack" not in got:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("perf record did not acknowledge")
            r, _, _ = select.select([afd], [], [], left)
            if r:
                got += os.read(afd, 64)
    finally:
        os.close(fd)
        os.close(afd)


def perf_run(runner, daemon, size, msgs):
    """Where lmtpd's tree spends its CPU: perf's top symbols over a run.

    perf records every CPU (-a): attached with -p it missed children forked
    after it started.  It starts disabled and counts from when it says it
    is ready, so a slow start (it reads every process) loses nothing.  The
    report keeps the tree's processes only.
    """
    out = os.path.join(runner.work, "perf.%d.data" % runner.seq)
    ctl = os.path.join(runner.work, "perf.%d.ctl" % runner.seq)
    ack = os.path.join(runner.work, "perf.%d.ack" % runner.seq)
    os.mkfifo(ctl)
    os.mkfifo(ack)
    before = set(tree_pids(daemon.pid))
    pr = subprocess.Popen(["perf", "record", "-q", "-a", "-D", "-1",
                           "--control", "fifo:%s,%s" % (ctl, ack), "-o",
                           out], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        perf_enable(ctl, ack, pr)
        runner.smtp_source(daemon, size, 1, 1, True, msgs)
        pids = before | set(tree_pids(daemon.pid))
    finally:
        interrupt(pr, 30)
    rep = run_cmd(["perf", "report", "-i", out, "--stdio", "--sort",
                   "dso,symbol", "--percentage", "relative", "--pid",
                   ",".join(str(p) for p in pids)], timeout=120)
    top = []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
        if m:
            top.append(("%s (%s)" % (m.group(4), m.group(2)),
                        float(m.group(1))))
    return top[:15]


def cpu_ticks(pid):
    st = read_stat(pid)
    return st["utime"] + st["stime"] if st is not None else 0


def memory_run(runner, daemon, size, msgs):
    idle, ticks = {}, {}
    for p in tree_pids(daemon.pid):
        m = smaps_rollup(p)
        if m is not None:
            idle[p] = m
            ticks[p] = cpu_ticks(p)
    s = MemSampler(daemon.pid)
    s.start()
    try:
        runner.smtp_source(daemon, size, 1, 1, True, msgs)
    finally:
        s.stop()
    master = s.peak.get(daemon.pid, {"rss": 0, "pss": 0, "anon": 0})
    kids = {p: v for p, v in s.peak.items() if p != daemon.pid}
    # The busy child is the one that used the most CPU in the run (then:
    # grew most over its idle size); children that served earlier runs
    # have grown already.  Report its peak, and the largest peak of any
    # other process of the tree.
    busy, best = None, None
    for p, v in kids.items():
        key = (cpu_ticks(p) - ticks.get(p, 0),
               v["rss"] - idle.get(p, {"rss": 0})["rss"])
        if best is None or key > best:
            busy, best = p, key
    res = {"master_rss": master["rss"], "master_pss": master["pss"]}
    if busy is not None:
        res.update({"child_rss": kids[busy]["rss"],
                    "child_pss": kids[busy]["pss"],
                    "child_anon": kids[busy]["anon"],
                    "child_idle_rss": idle.get(busy, {}).get("rss"),
                    "max_rss_any": max(v["rss"] for v in kids.values())})
    return res


# ----------------------------------------------------------------------------
# The plan.

def build_configs(args):
    cfgs = []
    for size in args.sizes:
        for rcpts in args.rcpts:
            for kept in args.conns:
                for sessions in args.sessions:
                    cfgs.append({"size": size, "rcpts": rcpts,
                                 "kept": kept, "sessions": sessions})
    return cfgs


def cfg_label(c):
    return "%s x %d rcpt, %d session%s, %s" % (
        human_size(c["size"]), c["rcpts"], c["sessions"],
        "" if c["sessions"] == 1 else "s",
        "kept connection" if c["kept"] else "new connection per message")


def cfg_key(c):
    return "%d/%d/%d/%s" % (c["size"], c["rcpts"], c["sessions"],
                            "kept" if c["kept"] else "new")


def engines_for(c, have_dovecot):
    e = ["limit"] if c["rcpts"] == 1 else ["limit", "limit-link"]
    e.append("lmtpd")
    if c["rcpts"] > 1:
        e.append("lmtpd-link")
    if c["size"] <= 4 * KIB and c["rcpts"] == 1 and c["kept"]:
        e.append("lmtpd-dedup")
    if have_dovecot:
        e.append("dovecot")
    return e


def run_engine(runner, daemons, eng, c, msgs):
    if eng == "limit":
        return runner.limit(c["size"], c["rcpts"], False, c["sessions"], msgs)
    if eng == "limit-link":
        return runner.limit(c["size"], c["rcpts"], True, c["sessions"], msgs)
    return runner.smtp_source(daemons[eng], c["size"], c["rcpts"],
                              c["sessions"], c["kept"], msgs)


def warm_up(runner, daemons):
    for d in daemons.values():
        runner.smtp_source(d, 1 * KIB, 1, 16, True, 64, base="warm")


# ----------------------------------------------------------------------------
# Set-up: packages, machine.

def check_tools(args):
    missing_req, missing_opt = [], []
    for path, pkg, required in NEEDS:
        if not os.path.exists(path):
            (missing_req if required else missing_opt).append(pkg)
    missing = missing_req + missing_opt
    if missing and args.install and os.geteuid() == 0:
        log("installing: %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update", "-qq"], env=env,
                           timeout=600, check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq"] + missing,
                           env=env, timeout=1200, check=True)
        except (subprocess.SubprocessError, OSError) as e:
            log("apt-get failed: %s" % e)
        return check_tools(argparse.Namespace(**dict(vars(args),
                                                     install=False)))
    if missing_req:
        raise BenchError("missing: apt-get install -y %s"
                         % " ".join(missing))
    for pkg in missing_opt:
        log("NOTE: %s is missing (apt-get install -y %s): its part is "
            "left out" % (pkg, pkg))
    return set(missing_opt)


def machine_info(work):
    info = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            info["cpu"] = m.group(1) if m else "?"
        with open("/proc/meminfo") as f:
            m = re.search(r"MemTotal:\s*(\d+) kB", f.read())
            info["memory"] = "%.1f GiB" % (int(m.group(1)) / MIB)
    except (OSError, AttributeError):
        pass
    info["fs"] = run_cmd(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET,"
                          "OPTIONS", "--target", work])
    src = info["fs"].split()[1] if len(info["fs"].split()) > 1 else ""
    info["disk"] = run_cmd(["lsblk", "-d", "-n", "-o",
                            "NAME,SIZE,ROTA,MODEL,TRAN", src]) or "?"
    info["lmtpd"] = "?"
    info["dovecot"] = run_cmd(["/usr/sbin/dovecot", "--version"])
    info["postfix"] = run_cmd(["postconf", "-d", "-h", "mail_version"])
    return info


def source_state(binary):
    """The commit lmtpd was built from, and what differed from it (read-only
    git); the binary's SHA-256."""
    import hashlib
    with open(binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    head = run_cmd(["git", "-C", TOP, "log", "-1", "--format=%h %ci %s"])
    dirty = run_cmd(["git", "-C", TOP, "status", "--porcelain", "--",
                     "src", "configure.ac", "Makefile"])
    changed = [ln.split(None, 1)[-1] for ln in dirty.splitlines()
               if not ln.startswith("??")]
    out = "binary sha256 %s, built in a tree at %s" % (digest,
                                                     head or "(no git)")
    if changed:
        out += ", with uncommitted changes to " + ", ".join(changed)
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: idle and iowait idle.
    return sum(v[:8]) - v[3] - v[4], sum(v[:8])


def background_busy(seconds=0.5):
    """Share of the machine's CPU others used while we did nothing."""
    b0, t0 = cpu_jiffies()
    time.sleep(seconds)
    b1, t1 = cpu_jiffies()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


# ----------------------------------------------------------------------------
# Results.

def med(samples, field="rate"):
    v = [s[field] for s in samples]
    return statistics.median(v) if v else None


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def write_outputs(args, out_dir, info, plan, results, extra):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"info": info, "args": vars(args), "results": results,
                   "extra": extra}, f, indent=1, default=str)

    def m(c, eng, field="rate"):
        return med(results.get(cfg_key(c), {}).get(eng, []), field)

    # The chart: 4 KiB x 1 rcpt, kept connections.
    dat = os.path.join(out_dir, "throughput.dat")
    rows = []
    for c in plan:
        if c["size"] == 4 * KIB and c["rcpts"] == 1 and c["kept"]:
            rows.append((c["sessions"], m(c, "lmtpd"), m(c, "dovecot"),
                         m(c, "limit")))
    with open(dat, "w") as f:
        f.write("# sessions lmtpd dovecot limit (messages/s, medians)\n")
        for r in rows:
            f.write(" ".join("NaN" if v is None else "%.2f" % v
                             for v in r) + "\n")
    png = os.path.join(out_dir, "throughput.png")
    chart = False
    if rows and shutil.which("gnuplot"):
        r = subprocess.run(
            ["gnuplot", "-e", "datafile='%s'; outfile='%s'" % (dat, png),
             os.path.join(HERE, "throughput.gp")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=60)
        chart = r.returncode == 0
        if not chart:
            log("gnuplot failed: %s" % r.stdout)

    L = []
    w = L.append
    w("# lmtpd benchmark results")
    w("")
    if extra.get("preliminary"):
        w("**PRELIMINARY: %s**" % extra["preliminary"])
        w("")
    w("Produced by `%s` (from `%s`), %s." % (extra["command"], TOP,
                                            info["date"]))
    w("How to rerun and what each part measures: `bench/README.md`.")
    w("")
    w("## Machine")
    w("")
    w("- CPUs: %s x %s" % (info["nproc"], info.get("cpu", "?")))
    w("- memory: %s" % info.get("memory", "?"))
    w("- kernel: %s" % info["kernel"])
    w("- temp dir: `%s` on `%s`" % (extra["work"], info["fs"]))
    w("- disk (NAME SIZE ROTA MODEL TRAN): `%s`" % info["disk"])
    w("- load average (1 min) at the start %.2f, at the end %.2f; CPU "
      "used by other processes in a 0.5 s idle probe before each "
      "configuration: %.0f%% on average, %.0f%% at most"
      % (extra["load_start"], extra["load_end"], 100 * extra["busy_mean"],
         100 * extra["busy_max"]))
    w("- versions: %s; Dovecot %s; smtp-source from Postfix %s"
      % (info["lmtpd"], info["dovecot"] or "absent",
         info["postfix"] or "?"))
    if info.get("source"):
        w("- lmtpd: %s (at the run's start; a copy of the binary ran)"
          % info["source"])
    w("")
    w("## Settings")
    w("")
    w("- %d repeats of each configuration, interleaved: in each repeat "
      "the limit, lmtpd and Dovecot run back to back (in an order that "
      "rotates), so the ratios compare runs minutes apart at most. "
      "Figures are medians; ranges are min-max." % args.repeat)
    w("- messages per run: %d of 4 KiB, %d of 1 MiB (each message to every "
      "recipient); payload from `smtp-source -l`, %d header octets more "
      "for the limit." % (args.messages, args.big_messages, HEADER_OCTETS))
    w("- lmtpd: defaults except `dedup_window = 0`, `user = nobody`, "
      "`max_message_size = 0`, `log_target = stderr` (to a file); "
      "`delivered_to = per-copy` (lmtpd) or `none` (lmtpd-link). "
      "lmtpd-dedup is lmtpd with the default `dedup_window = 3600`.")
    w("- Dovecot: private instance, `mail_fsync = always`, static "
      "userdb/passdb, mail_uid nobody, Maildir, indexes on (its default).")
    w("- the limit (`bench/limit.c`): create in tmp/ (O_EXCL), write, "
      "fsync, close, rename into new/, fsync new/, in as many processes "
      "as sessions; `limit-link` writes one copy and hard-links the other "
      "4 (fsyncing each new/).")
    w("")
    w("## Targets")
    w("")
    w("| target | measured | met |")
    w("| --- | --- | --- |")
    for t in targets(plan, results, extra):
        w("| %s | %s | %s |" % t)
    w("")
    w("## Throughput (messages/s, medians)")
    w("")
    w("Ratios are of medians. CPU is the server's (its whole process tree; "
      "for the limit, its processes) per message, in ms.")
    w("")
    w("| size | rcpt | sessions | connection | limit | limit-link | lmtpd "
      "| lmtpd-link | Dovecot | lmtpd / limit | lmtpd-link / limit-link | "
      "lmtpd / Dovecot | lmtpd-link / Dovecot | CPU lmtpd | CPU Dovecot "
      "| CPU limit |")
    w("|" + " --- |" * 16)
    for c in plan:
        lim, liml = m(c, "limit"), m(c, "limit-link")
        lm, lml, dv = m(c, "lmtpd"), m(c, "lmtpd-link"), m(c, "dovecot")
        w("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
          "| %s | %s | %s |" % (
              human_size(c["size"]), c["rcpts"], c["sessions"],
              "kept" if c["kept"] else "new", fmt(lim), fmt(liml),
              fmt(lm), fmt(lml), fmt(dv), fmt(ratio(lm, lim), "%.2f"),
              fmt(ratio(lml, liml), "%.2f"), fmt(ratio(lm, dv), "%.2f"),
              fmt(ratio(lml, dv), "%.2f"),
              fmt(m(c, "lmtpd", "server_cpu_ms"), "%.3f"),
              fmt(m(c, "dovecot", "server_cpu_ms"), "%.3f"),
              fmt(m(c, "limit", "server_cpu_ms"), "%.3f")))
    w("")
    w("Ranges (min-max messages/s over the repeats):")
    w("")
    w("| configuration | engine | runs | min | median | max |")
    w("| --- | --- | --- | --- | --- | --- |")
    for c in plan:
        for eng, s in results.get(cfg_key(c), {}).items():
            v = [x["rate"] for x in s]
            if v:
                w("| %s | %s | %d | %.0f | %.0f | %.0f |"
                  % (cfg_label(c), eng, len(v), min(v),
                     statistics.median(v), max(v)))
    w("")
    dd = [(c, m(c, "lmtpd"), m(c, "lmtpd-dedup")) for c in plan
          if results.get(cfg_key(c), {}).get("lmtpd-dedup")]
    if dd:
        w("## The duplicate journal (dedup_window = 3600)")
        w("")
        w("Every run above sets `dedup_window = 0`; lmtpd-dedup keeps the "
          "default, in the same slots:")
        w("")
        w("| configuration | lmtpd (0) | lmtpd-dedup (3600) | ratio |")
        w("| --- | --- | --- | --- |")
        for c, a, b in dd:
            w("| %s | %s | %s | %s |" % (cfg_label(c), fmt(a), fmt(b),
                                         fmt(ratio(b, a), "%.2f")))
        w("")
    if chart:
        w("## Chart")
        w("")
        w("![messages/s against sessions, 4 KiB x 1 recipient, kept "
          "connections](throughput.png)")
        w("")
    w("## CPU per message (ms): user and system")
    w("")
    w("From the tree's utime/stime (10 ms ticks, summed over the run); "
      "the limit's from getrusage. Client (smtp-source) CPU for "
      "comparison.")
    w("")
    w("| configuration | lmtpd user | lmtpd sys | lmtpd-link user | "
      "lmtpd-link sys | Dovecot user | Dovecot sys | limit | client |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in plan:
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            cfg_label(c),
            fmt(m(c, "lmtpd", "server_user_ms"), "%.3f"),
            fmt(m(c, "lmtpd", "server_sys_ms"), "%.3f"),
            fmt(m(c, "lmtpd-link", "server_user_ms"), "%.3f"),
            fmt(m(c, "lmtpd-link", "server_sys_ms"), "%.3f"),
            fmt(m(c, "dovecot", "server_user_ms"), "%.3f"),
            fmt(m(c, "dovecot", "server_sys_ms"), "%.3f"),
            fmt(m(c, "limit", "server_cpu_ms"), "%.3f"),
            fmt(m(c, "lmtpd", "client_cpu_ms"), "%.3f")))
    w("")
    pf = extra.get("perf")
    if pf:
        w("## Where lmtpd's CPU goes (perf record on the whole tree)")
        w("")
        w("| run | messages | top symbols (share of the tree's samples) |")
        w("| --- | --- | --- |")
        for label, (top, n) in pf.items():
            w("| %s | %d | %s |" % (label, n, ", ".join(
                "%s %.1f%%" % (sym, pct) for sym, pct in top[:12])))
        w("")
    st = extra.get("strace")
    if st:
        w("## Syscalls per message (strace -c -f on the whole tree)")
        w("")
        w("1 session, under strace (so not timed). Per message, all "
          "processes of the server together (master, children, and for "
          "Dovecot its auth, log, anvil... processes).")
        w("")
        w("| run | messages | syscalls / message | per copy | failed / "
          "message | top calls per message (failed ones in brackets) |")
        w("| --- | --- | --- | --- | --- | --- |")
        for name, (calls, n, copies) in st.items():
            tot = sum(v[0] for v in calls.values())
            bad = sum(v[1] for v in calls.values())
            top = sorted(calls.items(), key=lambda kv: -kv[1][0])[:14]
            w("| %s | %d | %.1f | %.1f | %.1f | %s |" % (
                name, n, tot / n, tot / n / copies, bad / n,
                ", ".join("%s %.1f%s" % (k, v[0] / n,
                                         " (%.1f)" % (v[1] / n)
                                         if v[1] else "")
                          for k, v in top)))
        w("")
    mem = extra.get("memory")
    if mem:
        w("## Memory (kB, peaks sampled every 20 ms from smaps_rollup)")
        w("")
        w("1 session, kept connection, 1 recipient. The busy child is the "
          "one that used the most CPU in the run.")
        w("")
        w("| server | message size | messages | busy child RSS | its PSS "
          "| its anonymous | its idle RSS | master RSS | master PSS |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in mem:
            w("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
                r["server"], human_size(r["size"]), r["msgs"],
                r.get("child_rss", "-"), r.get("child_pss", "-"),
                r.get("child_anon", "-"), r.get("child_idle_rss", "-"),
                r["master_rss"], r["master_pss"]))
        w("")
    if extra.get("notes"):
        w("## Notes")
        w("")
    for n in extra.get("notes", []):
        w("- " + n)
    w("")
    if extra.get("reading"):
        w("## Reading")
        w("")
        w(extra["reading"].rstrip())
        w("")
    path = os.path.join(out_dir, "RESULTS.md")
    with open(path, "w") as f:
        f.write("\n".join(L))
    return path


def targets(plan, results, extra):
    def m(c, eng):
        return med(results.get(cfg_key(c), {}).get(eng, []))

    def pick(size, rcpts, kept):
        return [c for c in plan if c["size"] == size and c["rcpts"] == rcpts
                and c["kept"] == kept]

    def check(label, pairs, k):
        vals = [ratio(a, b) for a, b in pairs]
        vals = [v for v in vals if v is not None]
        if not vals:
            return (label, "not measured", "-")
        ok = all(v >= k for v in vals)
        return (label, ", ".join("%.2f" % v for v in vals),
                "yes" if ok else "**no**")

    out = []
    c4 = pick(4 * KIB, 1, True)
    out.append(check("4 KiB x 1 rcpt, kept, sessions %s: lmtpd >= 0.85 x "
                     "limit" % "/".join(str(c["sessions"]) for c in c4),
                     [(m(c, "lmtpd"), m(c, "limit")) for c in c4], 0.85))
    out.append(check("4 KiB x 1 rcpt, kept: lmtpd >= 3 x Dovecot",
                     [(m(c, "lmtpd"), m(c, "dovecot")) for c in c4], 3.0))
    c1m = pick(MIB, 1, True)
    out.append(check("1 MiB x 1 rcpt, kept: lmtpd >= 0.85 x limit",
                     [(m(c, "lmtpd"), m(c, "limit")) for c in c1m], 0.85))
    c5 = [c for c in plan if c["rcpts"] == 5 and c["kept"]]
    out.append(check("5 rcpt, kept: lmtpd (per-copy) >= 0.85 x 5-copy limit",
                     [(m(c, "lmtpd"), m(c, "limit")) for c in c5], 0.85))
    out.append(check("5 rcpt, kept: lmtpd (delivered_to = none) >= 0.85 x "
                     "write-once-and-link limit",
                     [(m(c, "lmtpd-link"), m(c, "limit-link"))
                      for c in c5], 0.85))
    cn = [c for c in plan if not c["kept"]]
    # Dovecot hard-links the copies of a message to several recipients:
    # lmtpd-link (delivered_to = none) is the one doing the same work.
    out.append(check("new connection per message: lmtpd >= 3 x Dovecot "
                     "(every size/rcpt/sessions; with 5 rcpt lmtpd-link, "
                     "which links as Dovecot does)",
                     [(m(c, "lmtpd" if c["rcpts"] == 1 else "lmtpd-link"),
                       m(c, "dovecot")) for c in cn], 3.0))
    mem = [r for r in extra.get("memory") or [] if r["server"] == "lmtpd"
           and "child_rss" in r]
    if mem:
        rss = [r["child_rss"] for r in mem]
        ok = max(rss) < 2048 and max(rss) - min(rss) <= 256
        out.append(("busy child < 2 MiB RSS, flat 4 KiB..100 MiB",
                    ", ".join("%s: %d kB" % (human_size(r["size"]),
                                             r["child_rss"]) for r in mem),
                    "yes" if ok else "**no**"))
    else:
        out.append(("busy child < 2 MiB RSS, flat", "not measured", "-"))
    return out


# ----------------------------------------------------------------------------

def parse_list(s, conv):
    return [conv(x) for x in s.split(",") if x]


def parse_size(s):
    s = s.strip().lower()
    mult = {"k": KIB, "m": MIB}.get(s[-1:], 1)
    return int(s[:-1] if mult != 1 else s) * mult


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny counts, 1 repeat: a smoke test")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs of each configuration (default 3)")
    ap.add_argument("--messages", type=int, default=None,
                    help="messages per run for 4 KiB (default 2000)")
    ap.add_argument("--big-messages", type=int, default=None,
                    help="messages per run for 1 MiB (default messages/10)")
    ap.add_argument("--sizes", default="4k,1m")
    ap.add_argument("--rcpts", default="1,5")
    ap.add_argument("--sessions", default="1,4,16")
    ap.add_argument("--conns", default="kept,new",
                    help="kept (smtp-source -d) and/or new")
    ap.add_argument("--dir", default="/var/tmp",
                    help="where the temp dir (mail roots) goes")
    ap.add_argument("--out", default=None,
                    help="RESULTS.md etc. (default bench/, bench/quick/ "
                    "with --quick)")
    ap.add_argument("--lmtpd", default=os.path.join(TOP, "lmtpd"))
    ap.add_argument("--limit", default=os.path.join(HERE, "limit"))
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-perf", action="store_true",
                    help="no perf profile (taken only when perf exists)")
    ap.add_argument("--no-throughput", action="store_true",
                    help="only the strace, perf and memory parts")
    ap.add_argument("--reading", default=None, metavar="FILE",
                    help="markdown put into RESULTS.md as the reading of "
                    "the figures (with --render)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds for one run (default from its size)")
    ap.add_argument("--install", action="store_true",
                    help="apt-get install what is missing (as root)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--preliminary", default=None, metavar="TEXT",
                    help="mark RESULTS.md preliminary, saying why")
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only rewrite RESULTS.md (and the chart) from a "
                    "results.json")
    args = ap.parse_args()
    if args.render:
        return render(args)

    q = args.quick
    if args.repeat is None:
        args.repeat = 1 if q else 3
    if args.messages is None:
        args.messages = 48 if q else 2000
    if args.big_messages is None:
        args.big_messages = 16 if q else max(16, args.messages // 10)
    args.sizes = parse_list(args.sizes, parse_size)
    args.rcpts = parse_list(args.rcpts, int)
    args.sessions = parse_list(args.sessions, int)
    args.conns = [{"kept": True, "new": False}[x]
                  for x in parse_list(args.conns, str)]
    args.lmtpd = os.path.abspath(args.lmtpd)
    args.limit = os.path.abspath(args.limit)
    out_dir = args.out or (os.path.join(HERE, "quick") if q else HERE)
    command = args.command or "python3 bench/run.py " + " ".join(
        sys.argv[1:])

    if os.geteuid() != 0:
        raise BenchError("run as root: the daemons start as root and drop "
                         "to nobody, and Dovecot's master needs root")
    for p in (args.lmtpd, args.limit):
        if not os.access(p, os.X_OK):
            raise BenchError("%s is missing: run `make bench`" % p)
    missing = check_tools(args)
    have_dovecot = not args.no_dovecot and not (
        {"dovecot-core", "dovecot-lmtpd"} & missing)
    have_strace = not args.no_strace and "strace" not in missing
    have_perf = not args.no_perf and shutil.which("perf") is not None
    nobody = pwd.getpwnam("nobody")

    work = tempfile.mkdtemp(prefix="lmtpd-bench.", dir=args.dir)
    os.chmod(work, 0o755)
    daemons = {}
    # SIGTERM (make killed, a timeout) must still clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return bench(args, work, daemons, have_dovecot, have_strace,
                     have_perf, nobody, out_dir, command, missing)
    finally:
        for d in daemons.values():
            try:
                d.stop()
            except Exception as e:          # keep cleaning up
                log("stopping %s: %s" % (d.name, e))
        shutil.rmtree(work, ignore_errors=True)


def render(args):
    with open(args.render) as f:
        data = json.load(f)
    saved = argparse.Namespace(**data["args"])
    if args.reading:
        with open(args.reading) as f:
            data["extra"]["reading"] = f.read()
    if args.preliminary:
        data["extra"]["preliminary"] = args.preliminary
    out_dir = args.out or os.path.dirname(os.path.abspath(args.render))
    path = write_outputs(saved, out_dir, data["info"], build_configs(saved),
                         data["results"], data["extra"])
    log("wrote %s" % path)
    return 0


def bench(args, work, daemons, have_dovecot, have_strace, have_perf, nobody,
          out_dir, command, missing):
    info = machine_info(work)
    info["lmtpd"] = run_cmd([args.lmtpd, "-V"]) or "?"
    info["source"] = source_state(args.lmtpd)
    # Run a copy: a rebuild in the tree during the run must not change what
    # is measured.
    binary = os.path.join(work, "lmtpd.bin")
    shutil.copy2(args.lmtpd, binary)
    os.chmod(binary, 0o755)
    load_start = loadavg()
    log("lmtpd bench: temp dir %s on %s" % (work, info["fs"]))
    log("machine: %s CPUs, %s, kernel %s, load %.2f"
        % (info["nproc"], info.get("memory"), info["kernel"], load_start))

    daemons["lmtpd"] = Lmtpd(work, "lmtpd", binary, "per-copy", 0, nobody)
    if 5 in args.rcpts or any(r > 1 for r in args.rcpts):
        daemons["lmtpd-link"] = Lmtpd(work, "lmtpd-link", binary, "none", 0,
                                      nobody)
    daemons["lmtpd-dedup"] = Lmtpd(work, "lmtpd-dedup", binary, "per-copy",
                                   3600, nobody)
    if have_dovecot:
        daemons["dovecot"] = Dovecot(work, "dovecot", nobody)
    for d in daemons.values():
        d.start()
    log("started: " + ", ".join("%s (pid %d, port %d)" % (k, d.pid, d.port)
                                for k, d in daemons.items()))
    runner = Runner(args, work)
    warm_up(runner, daemons)

    plan = [] if args.no_throughput else build_configs(args)
    results = {}
    t_start = time.monotonic()
    busy = []
    for i, c in enumerate(plan):
        la = background_busy()
        busy.append(la)
        msgs = args.messages if c["size"] <= 64 * KIB else args.big_messages
        engines = engines_for(c, have_dovecot)
        log("configuration %d of %d: %s (%d messages; others use %.0f%% "
            "of the CPUs; %.0f s so far)" % (i + 1, len(plan), cfg_label(c),
                                            msgs, 100 * la,
                                            time.monotonic() - t_start))
        res = results.setdefault(cfg_key(c), {e: [] for e in engines})
        for r in range(args.repeat):
            k = r % len(engines)
            for eng in engines[k:] + engines[:k]:
                s = run_engine(runner, daemons, eng, c, msgs)
                res[eng].append(s)
                log("  run %d/%d %-12s %8.1f msg/s  %6.2f s  cpu %.3f "
                    "ms/msg" % (r + 1, args.repeat, eng, s["rate"],
                                s["elapsed"], s["server_cpu_ms"]))
        line = []
        for eng in engines:
            line.append("%s %.0f" % (eng, med(res[eng])))
        log("  medians: " + ", ".join(line))

    extra = {"command": command, "work": work, "load_start": load_start,
             "notes": []}
    if have_strace:
        n = 20 if args.quick else 200
        nb = 5 if args.quick else 20
        log("strace: %d messages of 4 KiB, %d of 1 MiB per run" % (n, nb))
        # (label, server or None for the limit, size, rcpts, kept or link,
        # messages)
        plan_st = [("limit, 4 KiB, 1 copy", None, 4 * KIB, 1, False, n),
                   ("lmtpd, 4 KiB, 1 rcpt, kept", "lmtpd", 4 * KIB, 1,
                    True, n),
                   ("lmtpd, 4 KiB, 1 rcpt, new connection", "lmtpd",
                    4 * KIB, 1, False, n),
                   ("Dovecot, 4 KiB, 1 rcpt, kept", "dovecot", 4 * KIB, 1,
                    True, n),
                   ("Dovecot, 4 KiB, 1 rcpt, new connection", "dovecot",
                    4 * KIB, 1, False, n),
                   ("limit, 4 KiB, 5 copies", None, 4 * KIB, 5, False, n),
                   ("limit-link, 4 KiB, 5 copies", None, 4 * KIB, 5, True,
                    n),
                   ("lmtpd, 4 KiB, 5 rcpt, kept", "lmtpd", 4 * KIB, 5,
                    True, n),
                   ("lmtpd-link, 4 KiB, 5 rcpt, kept", "lmtpd-link",
                    4 * KIB, 5, True, n),
                   ("Dovecot, 4 KiB, 5 rcpt, kept", "dovecot", 4 * KIB, 5,
                    True, n),
                   ("limit, 1 MiB, 1 copy", None, MIB, 1, False, nb),
                   ("lmtpd, 1 MiB, 1 rcpt, kept", "lmtpd", MIB, 1, True,
                    nb),
                   ("Dovecot, 1 MiB, 1 rcpt, kept", "dovecot", MIB, 1, True,
                    nb)]
        st = {}
        for label, srv, size, rcpts, flag, cnt in plan_st:
            if srv is None:
                calls = strace_limit(runner, size, rcpts, flag, cnt)
            elif srv in daemons:
                calls = strace_run(runner, daemons[srv], size, rcpts, flag,
                                   cnt)
            else:
                continue
            st[label] = (calls, cnt, rcpts)
            log("  %-40s %7.1f syscalls/message"
                % (label, sum(v[0] for v in calls.values()) / cnt))
        extra["strace"] = st
        extra["notes"].append(
            "The limit's strace counts include its start-up (exec, libc, "
            "mkdir): about 40 calls, spread over the run's messages.")
    if have_perf:
        extra["perf"] = {}
        for label, size, cnt in (("4 KiB", 4 * KIB, 40 if args.quick
                                  else 1000),
                                 ("1 MiB", MIB, 5 if args.quick else 100)):
            top = perf_run(runner, daemons["lmtpd"], size, cnt)
            extra["perf"]["lmtpd, %s x 1 rcpt, 1 session, kept" % label] = (
                top, cnt)
            log("perf: lmtpd %s: %s" % (label, ", ".join(
                "%s %.1f%%" % (sym, pct) for sym, pct in top[:5])))
    if not args.no_memory:
        sizes = [(4 * KIB, 20 if args.quick else 200),
                 (MIB, 5 if args.quick else 50),
                 (100 * MIB, 1 if args.quick else 3)]
        mem = []
        for name in ["lmtpd"] + (["dovecot"] if have_dovecot else []):
            for size, n in sizes:
                r = memory_run(runner, daemons[name], size, n)
                r.update({"server": name, "size": size, "msgs": n})
                mem.append(r)
                log("memory: %-8s %8s busy child RSS %s kB PSS %s kB "
                    "anonymous %s kB (idle RSS %s kB)"
                    % (name, human_size(size), r.get("child_rss"),
                       r.get("child_pss"), r.get("child_anon"),
                       r.get("child_idle_rss")))
        extra["memory"] = mem
    extra["load_end"] = loadavg()
    extra["busy_mean"] = statistics.mean(busy) if busy else 0.0
    extra["busy_max"] = max(busy) if busy else 0.0
    if args.preliminary:
        extra["preliminary"] = args.preliminary
    elif extra["busy_max"] > 0.15:
        extra["preliminary"] = (
            "the machine was busy: other processes used up to %.0f%% of "
            "its CPUs (%.0f%% on average) in the idle probes before the "
            "configurations; rerun on a quiet machine"
            % (100 * extra["busy_max"], 100 * extra["busy_mean"]))
    if args.quick:
        extra["preliminary"] = ("--quick smoke run: counts far too small "
                                "to mean anything")
    if missing:
        extra["notes"].append("Missing, so left out: %s."
                              % ", ".join(sorted(missing)))
    path = write_outputs(args, out_dir, info, plan, results, extra)
    log("wrote %s (%.0f s)" % (path, time.monotonic() - t_start))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
