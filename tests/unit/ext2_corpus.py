"""The e2fsprogs image corpus (../shared/testdata/e2fsprogs-images) against servers.ext2:
each image is mounted as the fs server would (read-write if it is safe), every directory
is listed and every file read and compared with debugfs, a mount read-write is written
to, and e2fsck -fn judges the image before and after. `judge` gives one Row per image;
`python tests/unit/ext2_corpus.py` prints the table that docs/ext2.md holds.
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import gzip
import hashlib
import os
import pathlib
import re
import stat as st
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from servers.ext2 import ROOT_INO, Ext2, FileDevice, FsError  # noqa: E402
from servers.ext2.host import tool  # noqa: E402

CORPUS = pathlib.Path(os.environ.get("MK_E2FS_IMAGES",
                                     ROOT.parent / "shared/testdata/e2fsprogs-images"))
FSCK_TIMEOUT = 5.0                        # e2fsck loops on one image (f_misstable)
APPENDS = 20                              # existing files appended to on a rw mount
PROBE = b"written by mk's ext2\n"
_LS = re.compile(r"^/(\d+)/\d+/\d+/\d+/(.*)/\d*/$")


def images() -> list[pathlib.Path]:
    """The corpus's compressed images, by name."""
    return sorted(CORPUS.glob("*.img.gz")) if CORPUS.is_dir() else []


@dataclasses.dataclass
class Verdict:
    """What e2fsck -fn says: its exit status (None: it ran out of time) and the problems
    it asked to fix, by kind (numbers blanked)."""
    rc: int | None
    problems: collections.Counter

    def worse_than(self, before: "Verdict") -> bool:
        if self.rc is None or before.rc is None:
            return self.rc is None and before.rc is not None
        sev = lambda rc: (rc & 8) * 2 + (rc & 4)                      # noqa: E731
        return sev(self.rc) > sev(before.rc) or bool(self.problems - before.problems)

    def text(self) -> str:
        if self.rc is None:
            return "gives up (time)"
        n = sum(self.problems.values())
        if self.rc & 8:
            return f"fails ({n} problem{'s' * (n != 1)})" if n else "fails"
        return "clean" if not n and not self.rc & 4 else f"{n} problem{'s' * (n != 1)}"


def fsck(path) -> Verdict:
    try:
        r = subprocess.run([tool("e2fsck"), "-fn", str(path)], capture_output=True,
                           timeout=FSCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Verdict(None, collections.Counter())
    problems, para = collections.Counter(), []
    for line in r.stdout.decode(errors="replace").splitlines():
        if not line.strip() or line.startswith("Pass "):
            para = []
            continue
        para.append(line)
        if "? no" in line:
            text = " ".join(para).split("differences:")[0]
            problems[re.sub(r"\d+", "N", text)] += 1
            para = []
    return Verdict(r.returncode, problems)


@dataclasses.dataclass
class Row:
    name: str
    mount: str = ""                       # rw, ro or refused
    why: str = ""
    dirs: int = 0                         # listed, and the same as debugfs lists them
    dirs_eio: int = 0
    files: int = 0                        # read, and the same as debugfs reads them
    files_eio: int = 0
    wrong: list = dataclasses.field(default_factory=list)     # listings or data differing
    errnos: set = dataclasses.field(default_factory=set)      # what failed reads answered
    crash: str = ""                       # an exception other than FsError
    wrote: str = ""
    before: Verdict | None = None
    after: Verdict | None = None          # None: the image is byte for byte unchanged
    unchanged: bool = True
    seconds: float = 0.0


def unpack(gz: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    out = dst / gz.name[:-3]
    out.write_bytes(gzip.decompress(gz.read_bytes()))
    return out


def _digest(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def judge(gz: pathlib.Path, work: pathlib.Path) -> Row:
    """Mount, list, read, compare, write (if read-write) and fsck one image."""
    t0 = time.monotonic()
    row, img = Row(gz.name[:-len(".img.gz")]), unpack(gz, work)
    row.before, digest = fsck(img), _digest(img)
    try:
        with FileDevice(img) as dev:
            try:
                fs = Ext2(dev)
            except FsError as e:
                row.mount, row.why = "refused", e.strerror
            else:
                row.mount = "ro" if fs.readonly else "rw"
                row.why = fs.ro_reason or ""
                expect = {}
                try:
                    listed, data = walk(fs, row)
                    compare(img, listed, data, row)
                    if row.mount == "rw":
                        expect = write(fs, data, row)
                finally:
                    fs.close()
                if expect:
                    verify(img, expect, row)
    except Exception as e:                                # the rule: never
        row.crash = f"{type(e).__name__}: {e}"[:200]
    row.unchanged = _digest(img) == digest
    if not row.unchanged:
        row.after = fsck(img)
    img.unlink()
    row.seconds = time.monotonic() - t0
    return row


def walk(fs, row: Row):
    """Every directory listed a page at a time, every regular file read: ({dir: {(name,
    ino)}}, {ino: (bytes, dir, name)}); failures counted in `row`."""
    listed, data, todo, seen = {}, {}, [ROOT_INO], set()
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.add(d)
        try:
            entries, cookie = [], 0
            while True:
                page, cookie = fs.readdir_page(d, cookie, 30)
                entries += page
                if not cookie:
                    break
        except FsError as e:
            row.dirs_eio += 1
            row.errnos.add(errno.errorcode[e.errno])
            continue
        listed[d] = {(os.fsencode(n), i) for n, i, _ in entries}
        for n, ino, _ in entries:
            if n in (".", "..") or ino in data:
                continue
            try:
                s = fs.stat(ino)
                if st.S_ISDIR(s.mode):
                    todo.append(ino)
                elif st.S_ISREG(s.mode):
                    data[ino] = (fs.read(ino, 0, s.size), d, n)
            except FsError as e:
                row.files_eio += 1
                row.errnos.add(errno.errorcode[e.errno])
    return listed, data


def _debugfs(img, requests: list[str]) -> list[bytes | None]:
    """What debugfs prints for each request (one run of debugfs -f), None if missing."""
    script = img.with_suffix(".requests")
    script.write_text("\n".join(requests) + "\n")
    out = subprocess.run([tool("debugfs"), "-f", str(script), str(img)],
                         capture_output=True).stdout
    heads = [b"debugfs: %s\n" % r.encode() for r in requests]
    bodies, pos = [], 0
    for k, head in enumerate(heads):
        start = out.find(head, pos)
        if start < 0:
            bodies.append(None)
            continue
        start += len(head)
        end = out.find(heads[k + 1], start) if k + 1 < len(heads) else -1
        pos = len(out) if end < 0 else end
        bodies.append(out[start:pos])
    return bodies


def _listing(text: bytes | None) -> set | None:
    """The (name, inode) pairs of a debugfs `ls -p`, empty slots left out."""
    if text is None:
        return None
    out = set()
    for line in text.decode("latin-1").splitlines():
        m = _LS.match(line)
        if m and m[1] != "0":
            out.add((m[2].encode("latin-1"), int(m[1])))
    return out


def compare(img, listed: dict, data: dict, row: Row) -> None:
    """Each listing and file as debugfs (`ls -p`, `cat`) has it, or counted wrong."""
    bodies = _debugfs(img, [f"ls -p <{d}>" for d in listed] + [f"cat <{i}>" for i in data])
    for (d, names), theirs in zip(listed.items(), bodies):
        if names == _listing(theirs):
            row.dirs += 1
        else:
            row.wrong.append(f"directory {d}")
    for (ino, (ours, _, _)), theirs in zip(data.items(), bodies[len(listed):]):
        if ours == theirs:
            row.files += 1
        else:
            row.wrong.append(f"file {ino}")


def write(fs, data: dict, row: Row) -> dict[str, bytes]:
    """New files in a new directory (one past the direct blocks), a rename, an unlink, a
    symlink; appends to existing files, a truncation, an unlink of one. ENOSPC, EIO and
    EROFS end it politely. What debugfs should then read: {request path: bytes}."""
    done, expect = [], {}
    inos = sorted(data)
    try:
        d = fs.mkdir(ROOT_INO, "mk-probe")
        big = fs.create(d, "big")
        fs.write(big, 0, PROBE * 2000)
        expect["/mk-probe/big"] = PROBE * 2000
        small = fs.create(d, "small")
        fs.write(small, 0, PROBE)
        fs.rename(d, "small", d, "renamed")
        fs.unlink(d, "renamed")
        fs.symlink(d, "link", "big")
        done.append("new files")
        for ino in inos[:APPENDS]:
            fs.write(ino, len(data[ino][0]), PROBE)
            expect[f"<{ino}>"] = data[ino][0] + PROBE
        if inos[APPENDS:]:
            ino = inos[APPENDS]
            fs.truncate(ino, len(data[ino][0]) // 3)
            expect[f"<{ino}>"] = data[ino][0][:len(data[ino][0]) // 3]
        if inos[APPENDS + 1:]:
            _, where, name = data[inos[-1]]
            fs.unlink(where, name)
        done.append(f"{min(len(inos), APPENDS)} appends")
    except FsError as e:
        if e.errno not in (errno.ENOSPC, errno.EIO, errno.EROFS):
            raise
        done.append(errno.errorcode[e.errno])
        expect.clear()
    row.wrote = ", ".join(done)
    return expect


def verify(img, expect: dict[str, bytes], row: Row) -> None:
    """What was written reads back through debugfs."""
    for (p, want), theirs in zip(expect.items(), _debugfs(img, [f"cat {p}" for p in expect])):
        if theirs != want:
            row.wrong.append(f"written {p}")


def table(rows: list[Row]) -> str:
    """The markdown table docs/ext2.md shows."""
    out = ["| image | mount | files read = debugfs (EIO) | directories (EIO) | "
           "e2fsck before | after | why read-only or refused |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        after = "unchanged" if r.after is None else r.after.text()
        out.append(f"| {r.name} | {r.mount} | {r.files} ({r.files_eio}) | {r.dirs} "
                   f"({r.dirs_eio}) | {r.before.text()} | {after} | "
                   f"{r.why.replace(' (run e2fsck)', '').replace('|', '/')} |")
    return "\n".join(out)


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for gz in images():
            rows.append(judge(gz, pathlib.Path(tmp)))
            print(rows[-1], file=sys.stderr)
        print(table(rows))
