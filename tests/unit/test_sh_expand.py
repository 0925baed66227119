"""The shell's expansions without a process: parameters and their operators, field
splitting, quote removal, globbing in every component (over a temporary directory),
arithmetic, patterns, printf, test and read's splitting. The shell is
personalities.unix.sh's, over the host's system calls (sh_host.HostSys); command
substitution is a stub here (the peer suite runs the real one)."""
import os
import sys

import pytest

from personalities.unix.sh import expand
from personalities.unix.sh.arith import evaluate
from personalities.unix.sh.errors import ShellError
from personalities.unix.sh.execute import Shell
from personalities.unix.sh.parser import parse
from personalities.unix.sh.pattern import glob, match, strip
from personalities.unix.sh.printf import printf
from personalities.unix.sh.regular import _split_fields
from personalities.unix.sh.testcmd import test as run_test

sys.path.insert(0, os.path.dirname(__file__))
from sh_host import HostSys  # noqa: E402


@pytest.fixture
def sh():
    s = Shell(HostSys, "sh", ["a b", "c"], {"HOME": "/home/u", "E": "", "V": "val"})
    s.substitute = lambda body: "sub  out"
    return s


def fields(sh, text):
    """The fields of the words of `echo TEXT`, without the echo."""
    return expand.fields(sh, parse("echo " + text).items[0][0].first.cmds[0].words)[1:]


def test_parameters_and_quotes(sh):
    assert fields(sh, "$V ${V}x \"$V y\" '$V' \\$V") == ["val", "valx", "val y", "$V", "$V"]
    assert fields(sh, "$1 \"$1\" $# $0") == ["a", "b", "a b", "2", "sh"]
    assert fields(sh, "$E \"$E\" ''$E $nope") == ["", ""]


def test_at_and_star(sh):
    assert fields(sh, '"$@"') == ["a b", "c"]
    assert fields(sh, '"x$@y"') == ["xa b", "cy"]
    assert fields(sh, "$@ $*") == ["a", "b", "c", "a", "b", "c"]
    assert fields(sh, '"$*"') == ["a b c"]
    sh.positional = []
    assert fields(sh, '"$@" $@ "$*"') == [""]


def test_parameter_operators(sh):
    assert fields(sh, "${nope:-d e} \"${nope:-d e}\" ${E:-empty} ${E-unset}") == \
        ["d", "e", "d e", "empty"]
    assert fields(sh, "${V:+alt} ${E:+alt} ${E+set}") == ["alt", "set"]
    assert fields(sh, "${new:=made}") == ["made"] and sh.vars["new"] == "made"
    assert fields(sh, "${#V} ${#nope}") == ["3", "0"]
    sh.vars["f"] = "/a/b.tar.gz"
    assert fields(sh, "${f##*/} ${f#*/} ${f%.*} ${f%%.*} ${f#\"/a\"}") == \
        ["b.tar.gz", "a/b.tar.gz", "/a/b.tar", "/a/b", "/b.tar.gz"]
    with pytest.raises(ShellError, match="nope: parameter null or not set"):
        fields(sh, "${nope:?}")
    with pytest.raises(ShellError, match="nope: custom"):
        fields(sh, "${nope?custom}")


def test_nounset(sh):
    sh.options.add("u")
    assert fields(sh, "${nope-ok} $#") == ["ok", "2"]
    with pytest.raises(ShellError, match="nope: parameter not set"):
        fields(sh, "$nope")


def test_field_splitting_by_ifs(sh):
    sh.vars.update(IFS=":", x="a::b:", y=" a ")
    assert fields(sh, "$x") == ["a", "", "b"]
    assert fields(sh, "$y") == [" a "]
    sh.vars.update(IFS=" :", x=" a : b  c:")
    assert fields(sh, "$x") == ["a", "b", "c"]
    sh.vars["IFS"] = ""
    assert fields(sh, "$x") == [" a : b  c:"]


def test_tilde_command_substitution_and_arithmetic(sh):
    assert fields(sh, "~ ~/x a~ '~' ~root") == ["/home/u", "/home/u/x", "a~", "~", "/root"]
    assert fields(sh, "$(x) \"$(x)\" `y`") == ["sub", "out", "sub  out", "sub", "out"]
    sh.vars["n"] = "4"
    assert fields(sh, "$((n * (2 + 1))) $((n += 1))") == ["12", "5"] and sh.vars["n"] == "5"


def test_strings_and_patterns_keep_quoting(sh):
    w = parse("x '*'$V\"?\"[a]").items[0][0].first.cmds[0].words[1]
    assert expand.string(sh, w) == "*val?[a]"
    assert expand.pattern(sh, w) == "\\*val\\?[a]"


def test_globbing_in_every_component(sh, tmp_path, monkeypatch):
    for p in ("d1/x/f", "d2/x/g", "d2/y/h", "e/x/.hid", "top"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_text("")
    monkeypatch.chdir(tmp_path)
    assert fields(sh, "d*/x/*") == ["d1/x/f", "d2/x/g"]
    assert fields(sh, "*/?/[fh]") == ["d1/x/f", "d2/y/h"]
    assert fields(sh, "*/") == ["d1/", "d2/", "e/"]
    assert fields(sh, "e/x/* e/x/.*") == ["e/x/*", "e/x/.hid"]
    assert fields(sh, "'d*'/x \"*\"") == ["d*/x", "*"]
    assert glob(str(tmp_path) + "/d[12]/x", os.listdir) == [
        f"{tmp_path}/d1/x", f"{tmp_path}/d2/x"]
    sh.options.add("f")
    assert fields(sh, "d*") == ["d*"]


@pytest.mark.parametrize("expr, value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / -2", -3), ("-7 % 3", -1), ("2 << 3", 16),
    ("5 > 3 && 2 > 3", 0), ("0 || 4", 1), ("!0", 1), ("~5", -6), ("1 ? 2 : 3", 2),
    ("0 ? 2 : 0 ? 3 : 4", 4), ("010 + 0x10", 24), ("x = 5, 0", None), ("3 != 3", 0),
    ("1 << 63", -(1 << 63)), ("9223372036854775807 + 1", -(1 << 63)), ("5 & 3 | 8 ^ 1", 9),
])
def test_arithmetic(expr, value):
    class Vars(dict):
        def assign(self, k, v):
            self[k] = v
    if value is None:
        with pytest.raises(ShellError):
            evaluate(expr, Vars())
        return
    assert evaluate(expr, Vars()) == value


def test_arithmetic_variables_and_errors():
    class Vars(dict):
        def assign(self, k, v):
            self[k] = v
    v = Vars(a="3", b="a + 1", e="", h="0x1f")
    assert evaluate("a * b + e + h + nope", v) == 3 * 4 + 31
    assert evaluate("c = a += 2", v) == 5 and v["a"] == "5" and v["c"] == "5"
    for bad in ("1 / 0", "1 +", "(1", "08", "a b", "1 ? 2"):
        with pytest.raises(ShellError):
            evaluate(bad, v)


def test_patterns():
    assert match("*.c", "a.c") and not match("*.c", "a.h")
    assert match("[!a]?", "bx") and not match("[!a]?", "ax") and match("[^a]x", "bx")
    assert match("[[:digit:]]*", "1abc") and match("[a-c]", "b") and match("[]]", "]")
    assert match("\\*", "*") and not match("\\*", "x") and match("[", "[")
    assert strip("aabbcc", "*b", "#") == "bcc" and strip("aabbcc", "*b", "##") == "cc"
    assert strip("aabbcc", "b*", "%") == "aab" and strip("aabbcc", "b*", "%%") == "aa"


def test_printf():
    assert printf("%s|%-3s|%3s|%.1s\n", ["a", "b", "c", "de"]) == ("a|b  |  c|d\n", [])
    assert printf("%d %x %o %c %%\n", ["-3", "255", "8", "xyz"]) == ("-3 ff 10 x %\n", [])
    assert printf("%s,", ["1", "2", "3"]) == ("1,2,3,", [])
    assert printf("%b|%s\n", ["a\\tb\\c", "gone"]) == ("a\tb", [])
    assert printf("%d\n", ["x1"]) == ("0\n", ["x1: invalid number"])
    assert printf("\\101\\n%5.1f\n", ["2.25"]) == ("A\n  2.2\n", [])


class Files:
    """test's view of files: two of them, over HostSys's signatures."""

    @staticmethod
    def stat(path):
        modes = {"/dir": 0o040755, "/file": 0o100644, "/empty": 0o100000}
        if path not in modes:
            raise OSError(2, "No such file or directory")
        return os.stat_result((modes[path], 1, 0, 1, 0, 0, 0 if path == "/empty" else 5,
                               0, 0, 0))

    lstat = stat

    @staticmethod
    def isatty(fd):
        return False

    @staticmethod
    def write(fd, data):
        return len(data)


@pytest.mark.parametrize("args, status", [
    ([], 1), ([""], 1), (["x"], 0), (["-n", ""], 1), (["-z", ""], 0), (["!", "x"], 1),
    (["a", "=", "a"], 0), (["a", "!=", "a"], 1), (["2", "-lt", "10"], 0),
    (["10", "-le", "2"], 1), (["x", "-eq", "1"], 2), (["-d", "/dir"], 0),
    (["-f", "/dir"], 1), (["-s", "/empty"], 1), (["-e", "/nope"], 1), (["-x", "/dir"], 0),
    (["-w", "/empty"], 1), (["!", "-f", "/file"], 1), (["(", "x", ")"], 0),
    (["-f", "/file", "-a", "-d", "/dir"], 0), (["-f", "/nope", "-o", "!", "-d", "/file"], 0),
    (["(", "-f", "/file", ")", "-a", "x", "=", "y"], 1), (["-q", "x"], 2), (["-t", "1"], 1),
])
def test_test(args, status):
    assert run_test(Files, args) == status


def test_brackets_want_their_close():
    assert run_test(Files, ["x", "]"], "[") == 0
    assert run_test(Files, ["x"], "[") == 2


def test_reads_splitting():
    assert _split_fields("  a b  c  ", " \t\n", 2) == ["a", "b  c"]
    assert _split_fields("a:b:c", ":", 2) == ["a", "b:c"]
    assert _split_fields("a::b", ":", 3) == ["a", "", "b"]
    assert _split_fields("only", " ", 3) == ["only"]
