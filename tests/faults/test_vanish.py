#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Faults: the client vanishes at every protocol step (after MAIL, after
some RCPTs, mid-DATA, just before and just after the final dot, mid-BDAT),
over TCP and the Unix socket, with small and large messages; lmtpd must
store exactly what it acknowledged and keep serving.

Usage: python3 tests/faults/test_vanish.py ./lmtpd
"""

import os
import random
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib as F        # noqa: E402


class TestVanish(F.FaultCase):

    def test_every_step(self):
        d = self.daemon().start()
        ledger = F.Ledger()
        rng = random.Random(6)
        rounds = F.scaled(4, 40)
        injected = 0
        for rnd in range(rounds):
            for step in F.STEPS:
                for unix in (False, True):
                    size = rng.choice((300, 4000, 300000))
                    msg_id = ledger.new_id("vanish")
                    body = F.make_body(msg_id, size)
                    rcpts = F.rcpt_set(rng, 5, rng.randint(1, 4))
                    F.send(d, ledger, rcpts, body, vanish=step,
                           bdat=(step == "mid_bdat" or rng.random() < 0.3),
                           unix=unix, msg_id=msg_id)
                    if step is not None:
                        injected += 1
                        self.assert_serving(d, "client vanishes")
        # A control: the same traffic without vanishing stores everything.
        self.verify("client vanishes", d, ledger, injected)
        oks = sum(1 for _, o in ledger.msgs.values() for v in o.values()
                  if v == F.OK)
        self.assertGreater(oks, 0)


if __name__ == "__main__":
    sys.exit(F.main())
