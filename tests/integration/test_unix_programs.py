"""The everyday /bin programs against the host's: each command line of SAME runs on
the node (mk's sh and /bin) and on the host (/bin/sh with coreutils, LC_ALL=C) over
the same files, and must print the same standard output and end with the same
status. Lines whose answer is the node's own (errors, owners, umask, the x bit, a
full disk) are in OWN with what the node must say. Cases run in a few `sh -c`
scripts, for a node boot and a process start are what cost."""
from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from personalities.unix.image import build

from conftest import TestNode

pytestmark = pytest.mark.timeout(120)

FIXTURE = r"""
printf 'banana\napple\ncherry\napple\n10\n9\n100\n' > fruits
printf 'a:b:c\nd:e:f\ng\n' > colon
printf 'one two three\nfour  five six\n' > words
printf 'hello world\nhello there\nfoo bar\nhellos\n' > hello
printf 'x\n' > x
printf '\000\001abc\n\377\200zz' > bin
printf 'b 2\na 10\nc 1\nd 1\n' > pairs
mkdir -p tree/sub/deep && printf '1\n' > tree/a.txt && printf '2\n' > tree/sub/b.txt
printf '3\n' > tree/sub/deep/c.log
"""

SAME = [
    # sort, uniq
    "sort fruits", "sort -r fruits", "sort -n fruits", "sort -u fruits", "sort -rn fruits",
    "sort -t: -k2 colon", "sort -k2 -n pairs", "sort -k2,2n -k1 pairs", "sort fruits words",
    "sort -f hello fruits", "sort nosuch", "cp fruits f2 && sort -o f2 f2 && cat f2",
    "sort fruits | uniq", "sort fruits | uniq -c", "sort fruits | uniq -d",
    "sort fruits | uniq -u", "uniq fruits",
    # seq, printf
    "seq 5", "seq 2 4", "seq 1 3 10", "seq 5 -2 1", "seq -w 8 10", "seq -s , 3",
    "seq 0.5 0.5 2", "seq 3 1", "seq -s: 1 3",
    "printf '%s-%d\\n' a 1 b 2", "printf '%5.2f|%x|%o|%c\\n' 3.14159 255 8 z",
    "printf '%-4s|\\n' ab", "printf 'x%sy\\n'",
    # tee
    "echo hi | tee t1 t2; cat t1 t2", "echo more | tee -a t1 >/dev/null; cat t1",
    # cut
    "cut -d: -f2 colon", "cut -d: -f1,3 colon", "cut -d: -s -f2 colon",
    "cut -c2-4 words", "cut -c-3 words", "cut -d' ' -f2- words", "cut -c3- hello",
    # tr
    "tr a-z A-Z < hello", "tr -d l < hello", "tr -s l < hello", "echo 'a  b   c' | tr -s ' '",
    "tr '[:lower:]' '[:upper:]' < words", "echo hello | tr el ip", "echo abc | tr abc x",
    "echo 'a b' | tr ' ' '\\n'", "tr -ds l o < hello",
    # sed
    "sed s/hello/bye/ hello", "sed -n 2p hello", "sed 1d hello", "sed -n /foo/p hello",
    "sed s/o/0/g hello", "sed -e s/l/L/2 hello", "sed 2,3d hello", "sed -n '$p' hello",
    "sed 's/\\(h\\)ello/\\1i/' hello", "sed -E 's/(w|t)/[\\1]/g' hello",
    "sed '/there/,$d' hello", "sed -n '2!p' hello", "sed = x", "sed 2q hello",
    "sed 's/o/&&/' hello", "sed 's|l|_|g' hello", "sed -e 1d -e 3d hello",
    "sed '1,/foo/s/^/> /' hello", "sed 's/x*$/!/' x", "sed -n '/hello/{p}' hello || true",
    "sed 's/a\\+/A/' fruits", "sed y/abc/xyz/ hello",
    "sed -n '2{p;p}' hello", "sed '/foo/!s/o/O/' hello", "sed '/foo/,/x/{s/^/+/;}' hello",
    "sed -n '/hello/=' hello",
    # find, xargs
    "find tree | sort", "find tree -name '*.txt' | sort", "find tree -type d | sort",
    "find tree -type f -name 'c*'", "find tree -maxdepth 1 | sort", "find nosuch",
    "printf 'a b\\nc\\n' | xargs", "printf 'a b c d e\\n' | xargs -n 2",
    "printf '1\\n2\\n' | xargs -I X echo [X]", "echo x | xargs false",
    "echo x | xargs nosuchprog", "printf '\"a b\" c\\n' | xargs -n 1",
    # ln, chmod, stat, rmdir
    "ln -s x lnk && cat lnk && stat -c '%F %N' lnk", "ln x hard && stat -c %h x hard",
    "ln x hard", "ln -sf fruits lnk && cat lnk | head -n 1",
    "chmod 600 x && stat -c '%a %A' x", "chmod u+x,g+r x && stat -c %a x",
    "chmod a=r x && stat -c %a x", "chmod o+w,a-x x && stat -c %a x",
    "chmod 644 x && stat -c %a x", "chmod 6 nosuch",
    "ln -s nowhere tree/dangling; chmod -R go-r tree; stat -c %a tree/a.txt tree/sub",
    "stat -c '%n %s %F %h' fruits x", "stat -L -c %s lnk",
    "mkdir -p e/f/g && rmdir -p e/f/g && ls -d e", "mkdir e2 && touch e2/f && rmdir e2",
    # basename, dirname, date
    "basename /a/b/c.txt .txt", "basename /a/b/", "basename /", "basename c.txt c.txt",
    "dirname /a/b/c", "dirname a", "dirname /", "dirname a/b/", "dirname //a",
    "date -u +%Y", "date +%Y-%m",
    # od
    "od -c bin", "od bin", "od -x bin", "od -b x", "od -A x -c x", "od -A n -c x",
    "printf '%040d' 0 | od -c", "od -d pairs",
    # cp -r, ls -d -R
    "cp -r tree tree2 && find tree2 | sort", "cp -r tree tree2 && find tree2 | sort",
    "cp -r tree tree2/ && ls tree2", "cp tree t3",
    "ln -s a.txt tree/l && cp -r tree tree4 && stat -c '%F %N' tree4/l && cat tree4/l",
    "ls -d tree", "ls -R tree", "ls -a tree", "ls -1 tree", "ls -d tree/* fruits",
    "ls -ld tree tree/sub fruits | sed 's/.* //'", "(cd tree && ls -ld) | sed 's/.* //'",
    "ls -dR tree", "ls -ld tree | cut -c1",
    "ls nosuch fruits",
    # grep
    "grep -w hello hello", "grep -o l hello", "grep -ow 'hel*o' hello",
    "grep -w hell hello", "grep -c hello hello", "grep -n o hello", "grep -v hello hello",
    "grep 'l\\+o' hello", "grep -E 'l+o[sw]' hello", "grep -F 'a.b' hello",
    "grep -e foo -e there hello", "grep -i HELLO hello", "grep -l hello hello fruits",
    "grep hello hello nosuch", "grep -r 2 tree | sort", "grep -rl . tree | sort",
    "grep -rc x tree | sort", "grep -Rl 1 tree | sort", "grep '[[:digit:]]' fruits", "grep -q apple fruits",
    # head, tail
    "tail -n +2 fruits", "tail -n +9 fruits", "head -n -2 fruits", "head -n -20 fruits",
    "head -c 5 fruits", "tail -c 4 fruits", "head -3 fruits", "tail -2 fruits",
    "head -n 2 fruits hello", "tail -n 0 fruits", "head -c +3 fruits",
    # env, wc, which
    "env X=1 sh -c 'echo $X'", "env -i A=b env", "X=2 env | grep '^X='",
    "wc -l fruits hello", "wc -w < words", "env nosuchprog",
]

STRICT = ("basename cat chmod clear cp cut date df dirname du env find grep head id ln "
          "kill ls mkdir more mv od ps pwd rm rmdir sed seq sort stat sync tail tee touch tr "
          "uname uniq wc which xargs").split()
OWN = [
    # same file, trailing slash, errors that name the right file
    ("echo data > same; cp same same; echo $?; cat same", "cp: 'same' and 'same' are the same file\n1\ndata\n"),
    ("cp same ./same; echo $?; cat same", "cp: 'same' and './same' are the same file\n1\ndata\n"),
    ("mv same same; echo $?; cat same", "mv: 'same' and 'same' are the same file\n1\ndata\n"),
    ("ln same hl; cp same hl; echo $?", "cp: 'same' and 'hl' are the same file\n1\n"),
    ("cp same nodir/; echo $?; ls nodir", "cp: nodir/: Not a directory\n1\n"
     "ls: nodir: No such file or directory\n"),
    ("mv same nodir/; echo $?; cat same", "mv: nodir/: Not a directory\n1\ndata\n"),
    ("cat nosuch same", "cat: nosuch: No such file or directory\ndata\n"),
    ("cp tree cpd; echo $?", "cp: -r not specified; omitting directory 'tree'\n1\n"),
    ("cp nosuch there", "cp: nosuch: No such file or directory\n"),
    ("cp same no/where; mv same no/where; ln same no/where; ln -s same no/where; "
     "ln nosuch x2", "cp: no/where: No such file or directory\n"
     "mv: no/where: No such file or directory\nln: no/where: No such file or directory\n"
     "ln: no/where: No such file or directory\nln: nosuch: No such file or directory\n"),
    ("cp -r tree tree/sub; echo $?; ls tree/sub", "cp: cannot copy a directory, 'tree', "
     "into itself, 'tree/sub/tree'\n1\nb.txt\ndeep\n"),
    # every program refuses an option it does not know, with status 2
    (f"for p in {' '.join(STRICT)}; do /bin/$p -Q x >/dev/null 2>&1; echo -n \"$? \"; done; "
     "echo", "2 " * len(STRICT) + "\n"),
    ("sort -z fruits", "sort: invalid option -- 'z'\nusage: sort [-fnru] [-o FILE] "
     "[-t SEP] [-k N[,M][fnr]]... [FILE...]\n"),
    ("ls --color", "ls: unrecognized option '--color'\nusage: ls [-1adlR] [PATH...]\n"),
    ("head -n x fruits", "head: invalid number of lines: 'x'\nusage: head [-n [-]N | -c N] "
     "[FILE...]\n"),
    # umask, modes, the x bit, owner names
    ("umask; touch m1; mkdir m2; stat -c '%a %A' m1 m2",
     "0022\n644 -rw-r--r--\n755 drwxr-xr-x\n"),
    ("umask 077; touch m3; mkdir m4; stat -c %a m3 m4; umask", "600\n700\n0077\n"),
    ("umask 9", "sh: N: umask: 9: invalid or unsupported mode (octal only)\n"),
    ("printf '#!/bin/sh\\necho ran\\n' > scr; ./scr; echo $?; chmod +x scr; ./scr",
     "sh: N: ./scr: Permission denied\n126\nran\n"),
    ("ls -l fruits | cut -d' ' -f1-5", "-rw-r--r-- 1 root root 35\n"),
    ("ls -l tree | sed 1q", "total 2\n"),
    ("id; id -un; id -g", "uid=0(root) gid=0(root) groups=0(root)\nroot\n0\n"),
    ("which sh ls nosuch; echo $?", "/bin/sh\n/bin/ls\n1\n"),
    ("du -s tree; du tree", "6\ttree\n2\ttree/sub/deep\n4\ttree/sub\n6\ttree\n"),
    ("clear | od -c | sed 1q", "0000000 033   [   H 033   [   2   J 033   [   3   J\n"),
    ("ln -s /etc/motd ml && ls -l ml | sed 's/.* ml/ml/'", "ml -> /etc/motd\n"),
    ("more fruits | wc -l", "7\n"),
]
RUNS = itertools.count()


def batches(cases, n: int):
    size = (len(cases) + n - 1) // n
    return [cases[i:i + size] for i in range(0, len(cases), size)]


def script(cmds, quiet: bool) -> str:
    """FIXTURE, then each command, its output ended by `@@ INDEX STATUS`."""
    err = " 2>/dev/null" if quiet else " 2>&1"
    body = "".join(f"{{ {c}\n}}{err}; printf '\\n@@ {i} %s\\n' $?\n"
                   for i, c in enumerate(cmds))
    return FIXTURE + body


def split(out: str, n: int) -> list[tuple[str, int]]:
    """(output, status) of each of n commands of `script`."""
    parts = re.split(r"\n@@ (\d+) (\d+)\n", out)
    got = [(parts[3 * k], int(parts[3 * k + 2])) for k in range(len(parts) // 3)]
    assert len(got) == n, out[-2000:]
    return got


def on_node(node, cmds, quiet: bool) -> list[tuple[str, int]]:
    work = f"/tmp/progs{next(RUNS)}"
    code, out = node.sh(f"mkdir {work} && cd {work} && {{\n{script(cmds, quiet)}\n}}")
    return split(out, len(cmds))


def on_host(cmds) -> list[tuple[str, int]]:
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["/bin/sh", "-c", script(cmds, True)], cwd=d, capture_output=True,
                           env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": d,
                                "TZ": "UTC"}, timeout=60)
        return split(r.stdout.decode(errors="surrogateescape"), len(cmds))


@pytest.mark.skipif(not shutil.which("sed") or not shutil.which("od"), reason="no coreutils")
@pytest.mark.parametrize("part", range(3))
def test_programs_match_the_hosts(node, part):
    cmds = batches(SAME, 3)[part]
    mine, host = on_node(node, cmds, True), on_host(cmds)
    wrong = [(c, m, h) for c, m, h in zip(cmds, mine, host) if m != h]
    assert not wrong, "\n".join(f"{c!r}: node {m!r} host {h!r}" for c, m, h in wrong)


def test_programs_say_what_is_wrong(node):
    cmds = [c for c, _ in OWN]
    got = [re.sub(r"^sh: \d+:", "sh: N:", out, flags=re.M) for out, _ in
           on_node(node, cmds, False)]
    wrong = [(c, g, want) for (c, want), g in zip(OWN, got) if g != want]
    assert not wrong, "\n".join(f"{c!r}: got {g!r} want {w!r}" for c, g, w in wrong)


@pytest.fixture
def small_node(mk_home):
    """A node on a 2 MiB disk, quick to fill."""
    node = TestNode(f"full{os.getpid()}", mk_home)
    os.makedirs(node.dir, mode=0o700)
    build(node.path("disk.img"), 2 << 20)
    node.up()
    yield node
    node.down()


def test_a_full_disk_is_named_not_a_traceback(small_node):
    code, out = small_node.sh(
        "cd /tmp; printf '%065536d' 0 > c; cat c c c c c c c c > m; "
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24; do "
        "cat m >> big || break; done; echo hi > f; echo \"echo $?\"; cp c c2; "
        "echo \"cp $?\"; df | tail -n 1 | tr -s ' ' | cut -d' ' -f5")
    assert "Traceback" not in out, out
    assert out.splitlines() == [
        "cat: write error: No space left on device",
        "sh: 1: write error: No space left on device", "echo 1",
        "cp: c2: No space left on device", "cp 1", "100%"], out


def test_more_pages_on_a_terminal(node):
    with node.pty("com2") as com2:
        t = node.start("unix_tasks.py", "tty_shell", "com2")
        com2.read_until(b"$ ")
        com2.type(b"seq 30 | more\r")
        page = com2.read_until(b"--More--")
        assert b"\r\n23\r\n--More--" in page and b"24" not in page, page
        com2.type(b"\r")                                # the reply comes from fd 2
        rest = com2.read_until(b"$ ")
        assert b"24\r\n" in rest and rest.endswith(b"30\r\n$ "), rest
        com2.type(b"seq 30 | more\r")
        com2.read_until(b"--More--")
        com2.type(b"q\r")
        assert b"24" not in com2.read_until(b"$ ")
        com2.type(b"exit\r")
        assert node.wait(t["task"], timeout=20) == 0
