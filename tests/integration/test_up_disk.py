"""`mk up --disk PATH`: a node boots an existing ext2 image; one the file server cannot
mount fails `mk up` with the reason in one line, non-zero, and nothing left running."""
import gzip
import os
import shutil
import subprocess
import sys

import psutil
import pytest

from personalities.unix.image import build

pytestmark = pytest.mark.timeout(120)

IMAGES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata",
                      "e2fsprogs-images")
MKE2FS = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
DEBUGFS = shutil.which("debugfs") or "/sbin/debugfs"


def mk(home: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


def _processes_of(home: str) -> list:
    """The host processes whose command line names the node folders of `home`."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        if any(home in part for part in p.info["cmdline"] or ()):
            out.append(p)
    return out


def test_up_disk_boots_a_given_image_and_a_fresh_mke2fs_one(mk_home, tmp_path):
    """A root image with a file added by the host's debugfs boots, and `mk sh` sees the
    file; a bare mke2fs image boots too, and `mk sh` there is one line, no traceback."""
    img = str(tmp_path / "root.img")
    build(img, 8 << 20)
    (tmp_path / "marker").write_text("from the given image\n")
    subprocess.run([DEBUGFS, "-w", "-R", f"write {tmp_path / 'marker'} marker", img],
                   check=True, capture_output=True)
    up = mk(mk_home, "up", "--disk", img)
    assert up.returncode == 0, up.stderr
    try:
        sh = mk(mk_home, "sh", "-c", "cat /marker")
        assert (sh.returncode, sh.stdout) == (0, "from the given image\n"), sh.stderr
        assert not os.path.exists(os.path.join(mk_home, "local", "disk.img"))
    finally:
        mk(mk_home, "down")
    subprocess.run(["e2fsck", "-fn", img], check=True, capture_output=True)

    bare = str(tmp_path / "bare.img")
    with open(bare, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run([MKE2FS, "-q", "-t", "ext2", "-F", bare], check=True)
    up = mk(mk_home, "up", "--disk", bare)
    assert up.returncode == 0, up.stderr
    try:
        assert mk(mk_home, "status", "--node", "local").returncode == 0    # ready
        sh = mk(mk_home, "sh", "-c", "ls /")               # no /bin/sh there
        said = (sh.stdout + sh.stderr).strip().splitlines()
        assert sh.returncode != 0 and len(said) == 1, said
        assert "No such file or directory" in said[0] and "Traceback" not in said[0]
    finally:
        mk(mk_home, "down")


def test_up_disk_that_cannot_be_mounted_fails_with_the_reason(mk_home, tmp_path):
    """f_badroot of the e2fsprogs suite (its root inode is a file): `mk up` exits 1 with
    the fs server's reason as its last line, and no process of the node is left."""
    src = os.path.join(IMAGES, "f_badroot.img.gz")
    if not os.path.exists(src):
        pytest.skip("the e2fsprogs test images are not here")
    img = str(tmp_path / "badroot.img")
    with gzip.open(src) as f, open(img, "wb") as out:
        shutil.copyfileobj(f, out)
    before = (tmp_path / "badroot.img").read_bytes()
    up = mk(mk_home, "up", "--disk", img)
    assert up.returncode == 1
    last = up.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: node 'local' failed to boot: fs: cannot mount the disk: "
                           "corrupt root inode"), up.stderr
    assert "Traceback" not in up.stderr
    assert _processes_of(mk_home) == []
    assert "local: down" in mk(mk_home, "status").stdout
    sh = mk(mk_home, "sh", "-c", "ls")
    assert sh.returncode != 0 and "Traceback" not in sh.stderr
    assert sh.stderr.strip() == "Error: node 'local' is not running (mk up --node local)"
    assert (tmp_path / "badroot.img").read_bytes() == before    # refused: left untouched


def test_up_disk_refuses_what_is_no_image_and_a_cluster(mk_home, tmp_path):
    missing = mk(mk_home, "up", "--disk", str(tmp_path / "nothing.img"))
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1] == \
        f"Error: no disk image {tmp_path / 'nothing.img'}"
    both = mk(mk_home, "up", "--nodes", "2", "--disk", str(tmp_path / "nothing.img"))
    assert both.returncode != 0
    assert both.stderr.strip() == "Error: --nodes and --disk do not go together"
    assert _processes_of(mk_home) == []
