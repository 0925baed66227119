"""The test helpers shipped in microkernel.user.testing."""
import enum
import time

import pytest

from microkernel.user.testing import facts, report, wait_until


def test_reported_facts_are_read_back_from_prose(capsys):
    class Code(enum.Enum):
        TIMEOUT = 1
    print("some prose")
    report(words=(42, 0), ok=True, code=Code.TIMEOUT, data=b"abc", raw=b"\xff")
    print("more prose")
    report(ok=False)
    got = facts(capsys.readouterr().out)
    assert got == {"words": [42, 0], "ok": False, "code": "TIMEOUT", "data": "abc",
                   "raw": "ff"}


def test_wait_until_returns_the_first_true_value():
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.05 and "done", 5) == "done"


def test_wait_until_says_what_it_waited_for():
    with pytest.raises(AssertionError, match="the moon"):
        wait_until(lambda: False, 0.05, "the moon")
