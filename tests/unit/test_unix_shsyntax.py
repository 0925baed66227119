"""The shell's lexer and parser (personalities/unix/shsyntax.py)."""
import pytest

from personalities.unix.shsyntax import ShellError, lex, parse


def words(cmd):
    return ["".join(t for _, t, _ in w) for w in cmd["words"]]


def test_pipelines_lists_and_background():
    items = parse(lex("a | b c && d || e; f &"))
    (andor1, bg1), (andor2, bg2) = items
    assert not bg1 and bg2
    assert [conn for conn, _ in andor1] == [None, "&&", "||"]
    assert [words(c) for c in andor1[0][1]] == [["a"], ["b", "c"]]
    assert words(andor2[0][1][0]) == ["f"]


def test_redirections_with_and_without_fd_numbers():
    [(andor, _)] = parse(lex("cmd < in > out 2>> err 2>&1"))
    redirs = [(fd, op, "".join(t for _, t, _ in w)) for fd, op, w in andor[0][1][0]["redirs"]]
    assert redirs == [(0, "<", "in"), (1, ">", "out"), (2, ">>", "err"), (2, ">&", "1")]


def test_quotes_and_parameters():
    [(andor, _)] = parse(lex("""echo 'a $X' "b $X c" d\\ e ${Y}z $?"""))
    segs = andor[0][1][0]["words"]
    assert segs[1] == [("lit", "a $X", True)]
    assert segs[2] == [("lit", "b ", True), ("var", "X", True), ("lit", " c", True)]
    assert segs[3] == [("lit", "d", False), ("lit", " ", True), ("lit", "e", False)]
    assert segs[4] == [("var", "Y", False), ("lit", "z", False)]
    assert segs[5] == [("var", "?", False)]


def test_assignments_before_the_command():
    [(andor, _)] = parse(lex("A=1 B='x y' env"))
    cmd = andor[0][1][0]
    assert [n for n, _ in cmd["assign"]] == ["A", "B"] and words(cmd) == ["env"]


def test_comments_newlines_and_empty_commands():
    items = parse(lex("# nothing\n\n a ;; b\n"))
    assert [words(a[0][1][0]) for a, _ in items] == [["a"], ["b"]]


@pytest.mark.parametrize("bad", ["a |", "&& b", "echo 'open", 'echo "open', "cat <", "& x"])
def test_syntax_errors(bad):
    with pytest.raises(ShellError):
        parse(lex(bad))
