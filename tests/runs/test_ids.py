"""Id files: every id, whatever its file name holds, is written on one line and read back unchanged."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelscout.errors import InputError
from labelscout.results import Issues, Selection
from labelscout.runs.ids import decode_id, encode_id, format_id_lines, parse_id_lines, read_id_file

# any text: newlines, control characters, line separators, lone surrogates (file-name bytes
# that are not UTF-8, as os.fsdecode gives them), quotes, backslashes, leading '#'
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=24)
id_lists = st.lists(any_text, max_size=30)


@given(any_text)
def test_encode_decode_round_trip(sid):
    enc = encode_id(sid)
    assert decode_id(enc) == sid
    assert "\n" not in enc and "\r" not in enc and len(enc.splitlines()) <= 1
    assert enc == enc.strip()
    enc.encode("utf-8")  # strict: a surrogate would raise


@given(id_lists)
def test_id_lines_round_trip(ids):
    text = format_id_lines(ids)
    assert text.count("\n") == len(ids)
    assert parse_id_lines(text) == ids


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters='"#\\'), min_size=1)
       | st.sampled_from(["train/cat/0001.jpg", "clip.mp4#frame=12", "猫/照片 1.jpg", "a b/c.png", "50%.jpg"]))
def test_ordinary_ids_are_written_as_they_are(sid):
    assert encode_id(sid) == sid


@pytest.mark.parametrize("sid,written", [
    ("new\nline.jpg", '"new\\nline.jpg"'),
    ("caf" + os.fsdecode(b"\xe9") + ".jpg", '"caf\\xe9.jpg"'),
    (" leading.jpg", '" leading.jpg"'),
    ("#hash.jpg", '"#hash.jpg"'),
    ('"quoted".jpg', '"\\"quoted\\".jpg"'),
    ("back\\slash\n.jpg", '"back\\\\slash\\n.jpg"'),
    ("sep\u2028.jpg", '"sep\\u2028.jpg"'),
    ("bell\x07.jpg", '"bell\\x07.jpg"'),
])
def test_documented_escapes(sid, written):
    assert encode_id(sid) == written and decode_id(written) == sid


@given(id_lists.map(lambda ids: list(dict.fromkeys(ids))))
def test_selection_files_read_back_through_read_id_file(tmp_path_factory, ids):
    folder = tmp_path_factory.mktemp("ids")
    sel = Selection(ids, np.arange(len(ids)), np.zeros(len(ids)), ["r"] * len(ids))
    (folder / "selection.txt").write_bytes(sel.to_txt().encode("utf-8"))
    (folder / "selection.csv").write_bytes(sel.to_csv().encode("utf-8"))
    assert read_id_file(folder / "selection.txt") == ids
    assert read_id_file(folder / "selection.csv") == ids
    issues = Issues.from_rows("outlier", ids, [0.5] * len(ids), [True] * len(ids), [{"nn": i} for i in ids])
    back = Issues.from_csv(issues.to_csv().encode("utf-8").decode("utf-8"))
    assert back.ids == ids and [e["nn"] for e in back.evidence] == ids


def test_hand_written_file_with_raw_bytes_matches_scanned_names(tmp_path):
    """A list made with `ls` (raw Latin-1 bytes, CRLF, a BOM, comments) names the same ids the scanner gives."""
    name = b"caf\xe9.jpg"
    (tmp_path / "ids.txt").write_bytes(b"\xef\xbb\xbf# labeled so far\r\n" + name + b"\r\n\r\n  plain.jpg  \n")
    assert read_id_file(tmp_path / "ids.txt") == [os.fsdecode(name), "plain.jpg"]


@pytest.mark.parametrize("make,match", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.mkdir(), p)[1], "is a folder, not a file"),
    (lambda p: (os.mkfifo(p), p)[1], "FIFO"),
])
def test_bad_id_file_paths_are_named(tmp_path, make, match):
    path = make(tmp_path / "ids.txt")
    with pytest.raises(InputError, match=match):
        read_id_file(path, what="--exclude file")


def test_csv_without_id_column(tmp_path):
    (tmp_path / "x.csv").write_text("name,score\na,1\n")
    with pytest.raises(InputError, match="no id column"):
        read_id_file(tmp_path / "x.csv")
