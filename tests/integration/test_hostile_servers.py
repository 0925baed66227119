"""The servers are as trustworthy as the kernel: a stranger (an ordinary task) is
refused every operation its protocol reserves for others, and nothing changes; root
takes no map items; a flood at root, the name server and the pager does not stop the
node. Task code: tasks/hostile_tasks.py."""
import pytest

from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(120)


def test_a_stranger_is_refused_what_it_may_not_ask_and_nothing_changes(node):
    got = node.facts("hostile_tasks.py", "forbidden")
    print(f"hostile: {len(got['answers'])} operations tried, "
          f"{sum(a != 'accepted' for a in got['answers'].values())} refused")
    assert got["answers"] == {
        "names ASSIGN": "EPERM", "names REMOVE": "EPERM", "pager FORGET": "EPERM",
        "pager COPY": "EPERM", "root DRIVER_HELLO": "ENODEV", "root MEMORY 2**30": "EINVAL",
        "fs UMOUNT": "EPERM", "tty INPUT": "EPERM", "timer DUE": "EPERM",
        "unix WORKER_DONE": "EPERM", "unix OPEN": "EPERM"}, got
    assert got["names_kept"] and got["page_kept"], got
    assert node.sh("cat /etc/motd")[0] == 0            # fs still mounted, names intact


def test_root_takes_no_map_items(node):
    got = node.facts("hostile_tasks.py", "map_into_root")
    assert got["result"] in ("MSG_CUT", "MAP_FAILED") and got["page_kept"], got
    assert node.sh("echo fine") == (0, "fine\n")


def test_a_flood_at_the_core_servers_does_not_stop_the_node(node):
    got = node.facts("hostile_tasks.py", "flood", 4, timeout=60)
    print(f"flood: {got['flooded']} requests at root, names, pager in 4 s; "
          f"meanwhile {got['pages']} fresh pages, {got['lookups']} lookups")
    assert min(got["flooded"]) > 50, got              # the flood was real
    assert got["pages"] > 20 and got["lookups"] > 20, got    # and memory kept flowing
    assert node.sh("echo alive") == (0, "alive\n")


def test_running_out_of_memory_faults_the_task_not_the_pager(fresh_node):
    node = fresh_node
    status, out = node.run("hostile_tasks.py", "hog", 64, timeout=90)   # a 16 MiB node
    got = facts(out)
    assert got["faulted"] and got["pages"] < 64 * 256, got
    print(f"memory hog: {got['pages']} pages, then its MemoryFault (exit status {status})")
    assert node.root({"op": "health"})["lost"] == {}            # the pager lives
    again = node.facts("fuzz_repro_tasks.py", "normal")                # its pages came back
    assert again["words"] == [42], again
