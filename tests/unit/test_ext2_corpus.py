"""servers.ext2 on the e2fsprogs test images (ext2_corpus.py runs each one): nothing
crashes, no listing or file differs from what debugfs reads, what cannot be read is EIO
(pointers past the device among it), read-only and refused images are left byte for
byte, writes never make e2fsck's verdict worse, every clean image that is supported
mounts read-write, and docs/ext2.md's table says what each image does."""
import pathlib
import re

import pytest

from ext2_corpus import CORPUS, images, judge, table

pytestmark = [pytest.mark.skipif(not images(), reason=f"no image corpus in {CORPUS}"),
              pytest.mark.timeout(600)]

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "ext2.md"
PAST_THE_DEVICE = {"f_lotsbad", "f_messy_inode"}     # a file's pointer beyond the disk


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    work = tmp_path_factory.mktemp("corpus")
    return {r.name: r for r in (judge(gz, work) for gz in images())}


def test_every_image_mounts_or_is_refused_with_a_reason(rows):
    assert len(rows) == len(images())
    for r in rows.values():
        assert r.mount in ("rw", "ro", "refused"), r
        assert (r.mount == "rw") == (r.why == ""), r


def test_nothing_crashes_and_nothing_reads_wrong(rows):
    assert {n: r.crash for n, r in rows.items() if r.crash} == {}
    assert {n: r.wrong for n, r in rows.items() if r.wrong} == {}


def test_what_cannot_be_read_is_eio(rows):
    errnos = set().union(*(r.errnos for r in rows.values()))
    assert errnos <= {"EIO", "ENOENT"}              # ENOENT: stat of an unused inode
    for name in PAST_THE_DEVICE:
        assert rows[name].errnos == {"EIO"} and rows[name].files_eio, rows[name]


def test_only_read_write_mounts_change_an_image(rows):
    assert [n for n, r in rows.items() if r.mount != "rw" and not r.unchanged] == []


def test_writes_never_make_e2fsck_worse(rows):
    written = {n: r for n, r in rows.items() if r.mount == "rw"}
    assert len(written) >= 10 and all(r.wrote for r in written.values())
    worse = {n: (r.before, r.after) for n, r in written.items()
             if r.after is not None and r.after.worse_than(r.before)}
    assert worse == {}


def test_clean_images_that_are_supported_mount_read_write(rows):
    """The check is no stricter than e2fsck: what it finds clean is written."""
    clean = [r for r in rows.values() if r.before.text() == "clean"]
    assert len(clean) >= 10
    assert [r.name for r in clean if r.mount == "ro"] == []


def test_docs_table_is_what_each_image_does(rows):
    text = DOC.read_text()
    documented = dict(re.findall(r"^\| (f_\S+) \| (rw|ro|refused) \|", text, re.M))
    assert documented == {n: r.mount for n, r in rows.items()}, \
        "regenerate it: python tests/unit/ext2_corpus.py\n" + table(list(rows.values()))
