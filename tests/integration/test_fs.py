"""The file server: ext2 on the ATA disk through the user-level driver, judged by the
host's e2fsck and debugfs; synced data survives the death of the fs server or of the
disk driver."""
import os
import re
import signal
import subprocess

import pytest

pytestmark = pytest.mark.timeout(180)


def debugfs(image, cmd):
    return subprocess.run(["debugfs", "-R", cmd, image], capture_output=True, text=True,
                          timeout=30).stdout


def fsck(image):
    return subprocess.run(["e2fsck", "-fn", image], capture_output=True, text=True, timeout=60)


def pid(node, task):
    return {t["task"]: t["pid"] for t in node.control({"op": "ps"})["tasks"]}[task]


def test_files_from_host_tools_are_read(node):
    status, out = node.run("fs_tasks.py", "read_host")
    assert status == 0, out
    assert "motd Welcome to mk" in out
    assert "'bin'" in out and "'etc'" in out and "'home'" in out and "'tmp'" in out


def test_errors_are_errnos(node):
    status, out = node.run("fs_tasks.py", "errors")
    assert status == 0, out
    for line in ("enoent ENOENT", "eexist EEXIST", "enotempty ENOTEMPTY", "enotdir ENOTDIR",
                 "long ENAMETOOLONG"):
        assert line in out


def test_written_files_are_read_by_debugfs_and_image_is_clean(fresh_node):
    status, out = fresh_node.run("fs_tasks.py", "write_tree", 7)
    assert status == 0, out
    assert "wrote 500000 2 0o640 1000 100" in out
    fresh_node.down()
    image = fresh_node.path("disk.img")
    r = fsck(image)
    assert r.returncode == 0, r.stdout + r.stderr
    assert debugfs(image, "cat /d7/f").startswith("7:" + "x" * 97)
    stat = debugfs(image, "stat /d7/g")
    assert re.search(r"Links: 2", stat) and "User:  1000" in stat and "Mode:  0640" in stat
    assert "clean" in subprocess.run(["dumpe2fs", "-h", image], capture_output=True,
                                     text=True).stdout


@pytest.mark.parametrize("victim", ["fs", "ata0"])
def test_synced_data_survives_a_crash_of_the_server_or_driver(fresh_node, victim):
    node = fresh_node
    w = node.start("fs_tasks.py", "writer", 8)
    node.wait_for(lambda: node.output(w["task"]).count("synced") >= 3, timeout=60,
                  what="some synced files")
    drv = {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}[victim]
    os.kill(pid(node, drv["task"]), signal.SIGKILL)
    node.wait_for(lambda: {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}
                  [victim]["restarts"] >= 1, what=f"{victim} restarted")
    assert node.wait(w["task"], timeout=60) == 0
    synced = [ln.split()[1] for ln in node.output(w["task"]).splitlines()
              if ln.startswith("synced ")]
    assert len(synced) >= 3
    status, out = node.run("fs_tasks.py", "check", *synced)
    assert status == 0, out
    assert f"checked {len(synced)} bad 0" in out
    node.down()
    image = node.path("disk.img")
    if fsck(image).returncode != 0:                     # what was in flight: repairable
        subprocess.run(["e2fsck", "-fy", image], capture_output=True, timeout=60)
    assert fsck(image).returncode == 0


def test_utimes_and_map(node):
    status, out = node.run("fs_tasks.py", "pager")
    assert status == 0, out
    assert "utimes 1000 2000" in out
    assert "map 12 b'mapped page\\n'" in out
    assert "no window EMSGSIZE" in out          # the reply's map item was cut: MSG_CUT
    assert "still serving 12 True" in out
