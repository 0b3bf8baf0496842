"""Folder scanning: deterministic, recursive, case-insensitive, skips run folders and hidden files."""
from __future__ import annotations

import pytest

from labelscout.errors import InputError
from labelscout.sources.collection import collect
from labelscout.sources.labels import labels_from_csv, labels_from_folders, resolve_labels
from labelscout.sources.scan import RUN_MARKER


def _touch(root, *rels):
    for r in rels:
        p = root / r
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_scan_is_sorted_recursive_and_case_insensitive(tmp_path):
    _touch(tmp_path, "b/2.PNG", "a/1.jpg", "a/deep/3.Jpeg", "c.txt", ".hidden/4.jpg", "a/.5.jpg", "run/x.jpg", "run/" + RUN_MARKER)
    col = collect(tmp_path)
    assert col.images == ["a/1.jpg", "a/deep/3.Jpeg", "b/2.PNG"]
    assert col.scan.ignored_extensions == {".txt": 1}
    assert col.scan.skipped_dirs == ["run"]


def test_single_file_source(tmp_path):
    _touch(tmp_path, "one.webp")
    col = collect(tmp_path / "one.webp")
    assert col.root == tmp_path and col.images == ["one.webp"]


@pytest.mark.parametrize("setup,match", [
    (lambda p: None, "the folder is empty"),
    (lambda p: _touch(p, "a.txt", "b.csv"), "found only"),
])
def test_nothing_usable_is_explained(tmp_path, setup, match):
    setup(tmp_path)
    with pytest.raises(InputError, match=match):
        collect(tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        collect(tmp_path / "nope")


def test_labels_from_folders():
    assert labels_from_folders(["cat/1.jpg", "dog/2.jpg"]) == ["cat", "dog"]
    assert labels_from_folders(["1.jpg", "dog/2.jpg"]) is None  # not every sample is in a folder
    assert labels_from_folders(["cat/1.jpg", "cat/2.jpg"]) is None  # one folder is not a class layout
    assert resolve_labels("none", ["cat/1.jpg", "dog/2.jpg"]) == (None, "none")


def test_labels_from_csv_variants(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("\ufefffilename,category\ncat/1.jpg,A\n")
    assert labels_from_csv(f, ["cat/1.jpg", "dog/2.jpg"]) == ["A", None]
    f.write_text("id,foo\ncat/1.jpg,A\n")
    with pytest.raises(InputError, match="label column"):
        labels_from_csv(f, ["cat/1.jpg"])
    assert labels_from_csv(f, ["cat/1.jpg"], column="foo") == ["A"]
