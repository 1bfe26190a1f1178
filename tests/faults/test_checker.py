#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The checker itself: every kind of damage the fault tests look for is
reported when it is really there (a truncated copy, a missing one, a
duplicate, a stray tmp/ file, a copy of something never sent), so that
"0 violations" means something.

Usage: python3 tests/faults/test_checker.py ./lmtpd
"""

import os
import random
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as F        # noqa: E402


class TestChecker(F.FaultCase):

    def setUp(self):
        super().setUp()
        self.d = self.daemon().start()
        self.ledger = F.Ledger()
        rng = random.Random(1)
        for _ in range(4):
            msg_id = self.ledger.new_id("check")
            out = F.send(self.d, self.ledger, ["alice@example.org",
                                               "bob@example.org"],
                         F.make_body(msg_id, rng.choice((500, 50000))),
                         msg_id=msg_id)
            self.assertEqual(set(out.values()), {F.OK})
        self.assertEqual(F.check(self.d.mail, self.ledger), [])
        self.md = self.d.maildir("alice@example.org")
        self.new = os.path.join(self.md, "new")
        self.names = sorted(os.listdir(self.new))

    def assert_caught(self, what):
        bad = F.check(self.d.mail, self.ledger)
        self.assertTrue(any(what in b for b in bad), bad)

    def test_truncated_copy(self):
        p = os.path.join(self.new, self.names[0])
        with open(p, "r+b") as f:
            f.truncate(os.path.getsize(p) - 10)
        self.assert_caught(",S= does not match")

    def test_altered_copy(self):
        p = os.path.join(self.new, self.names[0])
        with open(p, "r+b") as f:
            f.seek(-3, os.SEEK_END)
            f.write(b"XYZ")
        self.assert_caught("differs from what was sent")

    def test_missing_copy(self):
        os.unlink(os.path.join(self.new, self.names[0]))
        self.assert_caught("250 but 0 copies")

    def test_duplicate_copy(self):
        name = self.names[0]
        shutil.copy(os.path.join(self.new, name),
                    os.path.join(self.new, "1.dup" + name[name.index(","):]))
        self.assert_caught("250 but 2 copies")

    def test_stray_tmp_file(self):
        with open(os.path.join(self.md, "tmp", "1.x.host"), "w") as f:
            f.write("half")
        self.assert_caught("tmp holds 1 files")
        self.assertEqual(F.check(self.d.mail, self.ledger, True), [])

    def test_copy_of_a_refused_message(self):
        msg_id = next(iter(self.ledger.msgs))
        body, outcomes = self.ledger.msgs[msg_id]
        outcomes["alice@example.org"] = F.TEMP
        self.assert_caught("4xx but 1 copies")

    def test_lost_after_dot_allows_one(self):
        msg_id = next(iter(self.ledger.msgs))
        self.ledger.msgs[msg_id][1]["alice@example.org"] = F.LOST_AFTER
        self.assertEqual(F.check(self.d.mail, self.ledger), [])


if __name__ == "__main__":
    sys.exit(F.main())
