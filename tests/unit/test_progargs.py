"""personalities/unix/progargs.py, the option parsing and messages every /bin program
shares: getopt's forms, options after operands, `--`, a command's own options left
alone, and an unknown option said with the usage and status 2 (never ignored)."""
import pytest

from personalities.unix import libc, progargs
from personalities.unix.progargs import bre, count_and_paths, options


@pytest.fixture
def said(monkeypatch):
    """What the programs write to fd 2."""
    out = []
    monkeypatch.setattr(libc, "write", lambda fd, data: out.append((fd, bytes(data))))
    return out


def test_getopt_forms_and_operands():
    assert options("p", ["-ab", "x", "-n5", "-n", "6", "y"], "abn:", "u") == \
        ({"a": True, "b": True, "n": "6"}, ["x", "y"])
    assert options("p", ["-a", "--", "-b", "-"], "ab", "u") == ({"a": True}, ["-b", "-"])
    assert options("p", ["-e", "x", "-ey"], "e:", "u", many="e") == ({"e": ["x", "y"]}, [])
    assert options("env", ["-i", "ls", "-l"], "i", "u", stop_at_operand=True) == \
        ({"i": True}, ["ls", "-l"])


@pytest.mark.parametrize("args, why", [
    (["-z"], "p: invalid option -- 'z'"), (["--color"], "p: unrecognized option '--color'"),
    (["-n"], "p: option requires an argument -- 'n'")])
def test_a_bad_option_is_said_with_the_usage_and_status_2(said, args, why):
    with pytest.raises(SystemExit) as e:
        options("p", args, "an:", "p [-a] [-n N]")
    assert e.value.code == 2
    assert said == [(2, f"{why}\n".encode()), (2, b"usage: p [-a] [-n N]\n")]


def test_counts_of_head_and_tail(said):
    assert count_and_paths("head", ["-3", "f"], "u") == ("n", "3", ["f"])
    assert count_and_paths("head", ["-n", "-2"], "u", "nc") == ("n", "-2", [])
    assert count_and_paths("tail", ["-n", "+4", "f"], "u") == ("n", "+4", ["f"])
    assert count_and_paths("head", ["-c", "7"], "u", "nc") == ("c", "7", [])
    with pytest.raises(SystemExit):
        count_and_paths("head", ["-n", "x"], "u")


def test_fail_names_the_file_and_the_reason(said):
    assert progargs.fail("cat", "f", FileNotFoundError(2, "No such file or directory")) == 1
    assert said == [(2, b"cat: f: No such file or directory\n")]


def test_basic_expressions_as_pythons():
    assert bre(r"\(a\)\{2\}b+c?[[:digit:]]", False) == r"(a){2}b\+c\?[0-9]"
    assert bre(r"(a)+|b", True) == r"(a)+|b"
