#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs every fault file (tests/faults/test_*.py) in one process, so that
the suite ends with one table of faults injected against invariant
violations and one "N passed, M failed" line.

Usage: python3 tests/faults/run.py ./lmtpd [unittest args]
Environment: FAULT_SCALE=ci (default, the sizes .ci/run uses) or full.
"""

import glob
import importlib
import os
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import faultlib as F        # noqa: E402


def load_cases():
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        mod = importlib.import_module(os.path.basename(path)[:-3])
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and issubclass(obj, unittest.TestCase) \
                    and obj.__module__ == mod.__name__:
                globals()[name] = obj


load_cases()

if __name__ == "__main__":
    sys.stdout.write("fault suite, scale %s\n" % F.SCALE)
    sys.exit(F.main())
