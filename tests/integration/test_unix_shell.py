"""Programs from /bin on the ext2 image, run by /bin/sh: exec, files, the shell.

Each test runs `sh -c CMD` as a process spawned by the Unix server (its fds 1 and 2
captured) and checks the output and the exit status: what the shell prints is the
feature under test here. The libc tests spawn a function of tasks/unix_file_tasks.py and
assert on the facts it reported."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)


def test_echo_and_exit_status(node):
    assert node.sh("echo hello world") == (0, "hello world\n")
    assert node.sh("exit 3") == (3, "")
    assert node.sh("false") == (1, "")
    assert node.sh("nosuch; echo $?") == (0, "sh: 1: nosuch: not found\n127\n")


def test_ls_cat_and_the_image(node):
    code, out = node.sh("ls /; cat /etc/motd")
    assert code == 0
    assert out.split("\n")[:6] == ["bin", "etc", "home", "lost+found", "root", "tmp"]
    assert "Welcome to mk" in out
    code, out = node.sh("ls -l /bin/sh /bin")
    lines = out.splitlines()
    assert lines[0].startswith("-rwxr-xr-x") and lines[0].endswith(" /bin/sh")
    for prog in ("cat", "echo", "grep", "ls", "sh", "wc"):
        assert any(ln.endswith(" " + prog) for ln in lines)


def test_redirections(node):
    cmd = ("cd /tmp && echo one > f && echo two >> f && cat < f && wc -l f; "
           "ls /nonexistent 2> err; cat err; echo to-err 1>&2 2> /dev/null; "
           "echo gone > /dev/null; cat f nosuch > both 2>&1; cat both")
    code, out = node.sh(cmd)
    assert out.splitlines() == [
        "one", "two", "2 f", "ls: /nonexistent: No such file or directory",
        "to-err", "one", "two", "cat: nosuch: No such file or directory"]
    assert code == 0


def test_pipelines(node):
    assert node.sh("echo a b c | wc -w") == (0, "3\n")
    assert node.sh("cat /etc/passwd | grep user | wc -l") == (0, "1\n")
    assert node.sh("ls /bin | head -n 2 | tail -n 1") == (0, "cat\n")
    assert node.sh("echo x | false") == (1, "")
    assert node.sh("false | echo y") == (0, "y\n")


def test_lists_and_conditionals(node):
    assert node.sh("false && echo no; true && echo yes; false || echo or") == (0, "yes\nor\n")
    assert node.sh("grep -q nothing /etc/motd || echo missing") == (0, "missing\n")


def test_variables_quoting_and_export(node):
    cmd = ("X=hi; echo $X \"$X there\" '$X' ${X}s \\$X; Y='a  b'; echo [$Y] \"[$Y]\"; "
           "export Z=1; env | grep ^Z=; W=2 env | grep ^W=; env | grep -c ^W=; "
           "echo $# $0")
    code, out = node.sh(cmd)
    assert out.splitlines() == ["hi hi there $X his $X", "[a b] [a  b]", "Z=1", "W=2", "0",
                                "0 sh"]
    assert code == 0


def test_files_programs(node):
    cmd = ("mkdir -p /tmp/t/a/b && touch /tmp/t/a/f && cp /etc/motd /tmp/t/m && "
           "mv /tmp/t/m /tmp/t/a/b && ls /tmp/t/a /tmp/t/a/b && grep -c mk /tmp/t/a/b/m && "
           "rm /tmp/t/a/f && rm -r /tmp/t && ls /tmp/t; echo $?")
    code, out = node.sh(cmd)
    assert out.splitlines() == ["/tmp/t/a:", "b", "f", "", "/tmp/t/a/b:", "m", "1",
                                "ls: /tmp/t: No such file or directory", "2"]


def test_cd_pwd_and_globbing(node):
    assert node.sh("cd /bin; pwd; echo c*; echo /etc/m*; echo 'c*' nomatch*") == \
        (0, "/bin\ncat chmod clear cp cut\n/etc/motd\nc* nomatch*\n")
    assert node.sh("cd /nonexistent") == (1, "sh: 1: cd: /nonexistent: No such file or directory\n")


def test_background_jobs_wait_and_kill(node):
    code, out = node.sh("sleep 0.2 & echo started; wait; echo waited")
    assert (code, out) == (0, "started\nwaited\n")
    code, out = node.sh("sleep 5 & kill $!; wait $!; echo $?")
    assert (code, out) == (0, "143\n")
    code, out = node.sh("sh -c 'kill -9 $$'; echo $?")
    assert out == "137\n"


def test_stdin_of_the_session(node):
    assert node.sh("cat; wc -l", stdin="typed\nlines\n") == (0, "typed\nlines\n0\n")
    assert node.sh("head -n 1", stdin="first\nsecond\n") == (0, "first\n")


def test_a_script_file_and_sh_reading_stdin(node):
    cmd = ("echo 'echo from script $1' > /tmp/s.sh; echo 'exit 4' >> /tmp/s.sh; "
           "sh /tmp/s.sh arg; echo $?")
    assert node.sh(cmd) == (0, "from script arg\n4\n")
    assert node.sh("sh", stdin="echo piped\nexit 6\n") == (6, "piped\n")


def test_ps_kill_uname_df(node):
    code, out = node.sh("ps")
    rows = out.splitlines()
    assert rows[0].split() == ["PID", "PPID", "PGRP", "STATE", "CMD"]
    assert any(r.split()[-1] == "init" and r.split()[0] == "1" for r in rows)
    assert any(r.split()[-1] == "ps" for r in rows) and any(r.split()[-1] == "sh" for r in rows)
    assert node.sh("uname; uname -a") == (0, f"mk\nmk {node.name} 0.1 L4 V2 Unix personality "
                                             "i486\n")
    code, out = node.sh("df")
    assert code == 0 and out.splitlines()[1].startswith("/dev/ata0") and out.endswith(" /\n")
    assert node.sh("kill -l | grep -c TERM; kill 99999")[1] == \
        "1\nkill: (99999): No such process\n"


def test_exec_errors(node):
    code, out = node.sh("/etc/motd; echo $?; /tmp; echo $?; cp /etc/motd /tmp/motd; "
                        "chmod +x /tmp/motd; /tmp/motd; echo $?")
    assert out.splitlines() == ["sh: 1: /etc/motd: Permission denied", "126",
                                "sh: 1: /tmp: Permission denied", "126",
                                "sh: 1: /tmp/motd: Exec format error", "126"]


PROGRAM = """#!mk
from personalities.unix import libc


def main(argv, envp):
    print("mine", argv[1:], libc.getcwd())
    return 9
"""


def test_a_user_program_written_into_bin(node):
    assert node.sh("cat > /bin/mine; chmod +x /bin/mine; cd /tmp; mine a b; echo $?",
                   stdin=PROGRAM) == \
        (0, "mine ['a', 'b'] /tmp\n9\n")


def test_file_calls_of_libc(node):
    r = node.spawn("unix_file_tasks.py", "p_files")
    assert r["cwd"] == "/tmp/pf" and r["wrote"] == 10, r
    assert r["seek"] == [2, "234", 5, 9, "9", ""], r
    assert r["fstat"] == {"regular": True, "mode": 0o640, "size": 10}, r
    assert (r["links"], r["appended_size"], r["listdir"]) == (2, 12, ["f", "h"]), r
    assert r["readdir"] == [".", "..", "f", "h"] and r["f_type"] == 1, r
    assert r["errors"] == {"enoent": "ENOENT", "eexist": "EEXIST", "eisdir": "EISDIR",
                           "enotdir": "ENOTDIR", "enotempty": "ENOTEMPTY",
                           "ebadf": "EBADF"}, r
    assert "pf" not in r["tmp_after"], r


def test_execve_keeps_pid_and_fds(node):
    """The exec'd shell has the parent's pid, the dup'd fd, not the close-on-exec one."""
    r = node.spawn("unix_file_tasks.py", "p_exec")
    assert r["shell_said"] == f"{r['child']}\n", r                # echo $$: the same pid
    [line] = r["lines"]                           # the close-on-exec fd is gone
    assert line.startswith("sh: 1: ") and line.endswith(": Bad file descriptor"), r
    assert r["shell"] == 2, r                     # a failed redirection: status 2
    assert r["exec_motd"] == "EACCES", r          # no x bit (checked before the #!)


def test_a_session_task_ends_with_the_shells_status(node):
    """What `mk sh -c` can start through root: the shell's status is the task's."""
    t = node.root({"op": "run", "entry": "personalities.unix.session:main",
                   "args": ["capture", "-", "-c", "echo hi from $0; exit 3"]})
    assert node.wait(t["task"], timeout=30) == 3
    assert node.output(t["task"]) == "hi from sh\n"
