"""The file server: ext2 on the ATA disk through the user-level driver, judged by the
host's e2fsck and debugfs; synced data survives the death of the fs server or of the
disk driver. The tasks (tasks/fs_tasks.py) report facts; the host tools' listings are
read as their `Name: value` fields."""
import os
import re
import signal
import subprocess

import pytest

from microkernel.user.testing import facts
from personalities.unix.image import MOTD

pytestmark = pytest.mark.timeout(180)


def debugfs(image, cmd):
    return subprocess.run(["debugfs", "-R", cmd, image], capture_output=True, text=True,
                          timeout=30).stdout


def fsck(image):
    return subprocess.run(["e2fsck", "-fn", image], capture_output=True, text=True, timeout=60)


def fields(listing: str) -> dict:
    """The `Name: value` pairs of a debugfs or dumpe2fs listing (the first of a name)."""
    out: dict = {}
    for name, value in re.findall(r"([A-Za-z][\w ]*?):\s+(\S+)", listing):
        out.setdefault(name, value)
    return out


def drivers(node) -> dict:
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def test_files_from_host_tools_are_read(node):
    got = node.facts("fs_tasks.py", "read_host")
    assert got["motd"] == MOTD, got
    assert {"bin", "etc", "home", "tmp"} <= set(got["root"]), got
    assert got["load"] == [True, True, MOTD], got            # LOAD: RESOLVE + READ at once
    assert got["load_dir"] == ["0o40755", ""] and got["load_head"] == MOTD[:4], got
    assert got["load_missing"] == "ENOENT", got
    assert got["load_stranger"] == {"huge_path": "ENAMETOOLONG", "max_count": len(MOTD.encode()),
                                    "bad_cwd": "EINVAL", "no_path": "EINVAL"}, got
    assert got["motd_after"] == MOTD, got                     # nothing changed


def test_errors_are_errnos(node):
    got = node.facts("fs_tasks.py", "errors")
    assert got == {"enoent": "ENOENT", "eexist": "EEXIST", "enotempty": "ENOTEMPTY",
                   "enotdir": "ENOTDIR", "long": "ENAMETOOLONG"}


def test_written_files_are_read_by_debugfs_and_image_is_clean(fresh_node):
    got = fresh_node.facts("fs_tasks.py", "write_tree", 7)
    assert got == {"size": 500000, "nlink": 2, "mode": 0o640, "uid": 1000, "gid": 100}
    fresh_node.down()
    image = fresh_node.path("disk.img")
    r = fsck(image)
    assert r.returncode == 0, r.stdout + r.stderr
    assert debugfs(image, "cat /d7/f") == ("7:" + "x" * 97 + "\n") * 5000
    stat = fields(debugfs(image, "stat /d7/g"))
    assert (stat["Links"], stat["User"], stat["Mode"]) == ("2", "1000", "0640"), stat
    sb = fields(subprocess.run(["dumpe2fs", "-h", image], capture_output=True,
                               text=True).stdout)
    assert sb["Filesystem state"] == "clean", sb


@pytest.mark.parametrize("victim", ["fs", "ata0"])
def test_synced_data_survives_a_crash_of_the_server_or_driver(fresh_node, victim):
    node = fresh_node
    w = node.start("fs_tasks.py", "writer", 8)

    def synced() -> list:                  # what the writer reported on complete lines
        out = node.output(w["task"])
        return facts(out[:out.rfind("\n") + 1]).get("synced", [])
    node.wait_for(lambda: len(synced()) >= 3, timeout=60, what="some synced files")
    os.kill(node.task_pid(drivers(node)[victim]["task"]), signal.SIGKILL)
    node.wait_for(lambda: drivers(node)[victim]["restarts"] >= 1, what=f"{victim} restarted")
    assert node.wait(w["task"], timeout=60) == 0, node.output(w["task"])
    files = synced()
    assert len(files) >= 3, node.output(w["task"])
    got = node.facts("fs_tasks.py", "check", *files)
    assert got == {"checked": len(files), "bad": []}
    node.down()
    image = node.path("disk.img")
    if fsck(image).returncode != 0:                     # what was in flight: repairable
        subprocess.run(["e2fsck", "-fy", image], capture_output=True, timeout=60)
    assert fsck(image).returncode == 0


def test_utimes_and_map(node):
    got = node.facts("fs_tasks.py", "pager")
    assert (got["atime"], got["mtime"]) == (1000, 2000), got
    assert (got["map_size"], got["mapped"]) == (12, "mapped page\n"), got
    assert got["no_window"] == "EMSGSIZE", got   # the reply's map item was cut: MSG_CUT
    assert got["size_after"] == 12 and got["maps"] >= 2, got   # still serving


KILLS = int(os.environ.get("MK_KILLS", "10"))  # bounded; MK_KILLS=100 for the full figure


@pytest.mark.timeout(60 + 12 * KILLS)
@pytest.mark.parametrize("victim", ["fs", "ata0"])
def test_every_acknowledged_append_survives_repeated_kills(fresh_node, victim):
    """`echo lineN >> f && sync` as a user would, then kill -9 of the fs server (or the
    disk driver), again and again: every line whose command said 0 is on the image
    after `mk down`, which e2fsck finds clean."""
    node, acked = fresh_node, []
    for i in range(KILLS):
        rc, out = node.sh(f"echo line{i} >> /tmp/appended && sync")
        if rc == 0:
            acked.append(f"line{i}")
        before = drivers(node)[victim]["restarts"]
        os.kill(node.task_pid(drivers(node)[victim]["task"]), signal.SIGKILL)
        node.wait_for(lambda: drivers(node)[victim]["restarts"] > before
                      and drivers(node)[victim]["state"] == "running",
                      timeout=90, what=f"{victim} restarted")
    print(f"{victim} killed {KILLS} times: {len(acked)} appends acknowledged")
    assert len(acked) >= KILLS // 2, acked          # most commands got through at all
    node.down()
    image = node.path("disk.img")
    lines = debugfs(image, "cat /tmp/appended").split()
    assert [ln for ln in acked if ln not in lines] == [], (acked, lines)
    r = fsck(image)
    assert r.returncode == 0, r.stdout + r.stderr
