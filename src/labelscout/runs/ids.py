"""Sample ids in text files: one id per line, escaped where a line could not hold it.

An id is a file path (``train/cat/0001.jpg``), and a file name may hold anything but '/'
and NUL: a newline, a carriage return, bytes that are not UTF-8 (Python gives those to
us as the surrogates ``\\udc80``..``\\udcff``, PEP 383), leading spaces, a leading '#'.
Written raw, such an id would split across lines, be stripped, be read as a comment, or
make the UTF-8 encoder fail. So ids are written the way git writes unusual paths
(``core.quotePath``):

* an ordinary id is written as it is (all of CIFAR, every ASCII path, any valid UTF-8
  name without control characters): ``train/cat/0001.jpg``;
* any other id is written in double quotes with backslash escapes:
  ``"new\\nline.jpg"``, ``"caf\\xe9.jpg"`` (the raw byte 0xE9 of a Latin-1 name),
  ``" leading space.jpg"``, ``"#hash.jpg"``, ``"\\"quoted\\".jpg"``.

Escapes inside quotes: ``\\\\`` ``\\"`` ``\\n`` ``\\r`` ``\\t``, ``\\xHH`` for the byte HH of
the file name (HH < 80: that ASCII control character; HH >= 80: a byte that is not
UTF-8), ``\\uXXXX`` for any other character a line cannot hold (line separators such as
U+2028, lone surrogates). An id is quoted when it contains any of those, starts or ends
with white space, starts with '"' or '#', or is empty; so the quoted form is never
ambiguous with a raw id, and ``decode_id(encode_id(s)) == s`` for every string ``s``.

Reading is lenient about files people write by hand: lines are stripped, blank lines and
lines starting with '#' are skipped, and bytes that are not UTF-8 are kept as the
surrogates the scanner gives the same file name (so a list made with ``ls`` matches).

The same escaping applies to the text cells of the CSVs labelscout writes
(selection.csv, issues.csv), so every id round-trips through every output file.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Iterable

from ..errors import InputError
from ..sources.scan import require_input_file

__all__ = ["encode_id", "decode_id", "needs_quoting", "format_id_lines", "parse_id_lines", "read_id_file",
           "read_text_lenient", "ID_FILE_COLUMNS"]

#: columns of a CSV that hold sample ids, in order of preference
ID_FILE_COLUMNS = ("id", "path", "filename", "filenames", "file")

# Characters that end a line for str.splitlines() or that a text file cannot hold.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_NAMED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNNAMED = {v: k for k, v in _NAMED.items()}


def _must_escape(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or o == 0x7F or ch in _LINE_BREAKS or 0xD800 <= o <= 0xDFFF


def needs_quoting(sid: str) -> bool:
    """Whether ``sid`` cannot be written raw on a line and read back unchanged."""
    if not sid or sid != sid.strip() or sid[0] in '"#\ufeff':
        return True
    return any(_must_escape(ch) for ch in sid)


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if not _must_escape(ch):
        return ch
    if o < 0x80:  # ASCII control character: its own byte
        return f"\\x{o:02x}"
    if 0xDC80 <= o <= 0xDCFF:  # a file-name byte that is not UTF-8 (PEP 383 surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return f"\\u{o:04x}"


def encode_id(sid: str) -> str:
    """The line-safe form of ``sid``: itself when ordinary, else quoted with escapes."""
    if not needs_quoting(sid):
        return sid
    return '"' + "".join(_escape_char(ch) for ch in sid) + '"'


_ESCAPE = re.compile(r'\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))', re.DOTALL)


def _unescape(m: re.Match) -> str:
    hx, ux, other = m.groups()
    if hx is not None:
        b = int(hx, 16)
        return chr(b) if b < 0x80 else chr(0xDC00 + b)
    if ux is not None:
        return chr(int(ux, 16))
    if "\\" + other in _UNNAMED:
        return _UNNAMED["\\" + other]
    return "\\" + other  # an unknown escape in a hand-written file stays as written


def decode_id(text: str) -> str:
    """The id a line (already stripped) or a CSV cell stands for: see the module docs."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return _ESCAPE.sub(_unescape, text[1:-1])
    return text


def format_id_lines(ids: Iterable[str]) -> str:
    """Text of an id file: one encoded id per line, each ending in '\\n'."""
    return "".join(encode_id(i) + "\n" for i in ids)


def read_text_lenient(path: Path) -> str:
    """The text of ``path`` as UTF-8; a leading BOM is dropped, other bytes are kept as surrogates."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text[1:] if text.startswith("\ufeff") else text


def parse_id_lines(text: str, *, comments: bool = True) -> list[str]:
    """Ids of the lines of ``text`` (split on '\\n' only): stripped, blank lines skipped,
    '#' lines skipped when ``comments``, quoted lines decoded."""
    out = []
    for line in text.split("\n"):
        s = line.strip()
        if not s or (comments and s.startswith("#")):
            continue
        out.append(decode_id(s))
    return out


def read_id_file(path: str | Path, *, what: str = "ids file") -> list[str]:
    """Ids from a text file (one per line) or a CSV with an id column (e.g. selection.csv)."""
    path = Path(path)
    require_input_file(path, what, hint="Give a file with one sample id per line, or a CSV with an id column.")
    text = read_text_lenient(path)
    if path.suffix.lower() in (".csv", ".tsv") and text.strip():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        header = next(reader, [])
        lower = [h.strip().lower() for h in header]
        col = next((lower.index(c) for c in ID_FILE_COLUMNS if c in lower), None)
        if col is None:
            raise InputError(f"{path} has no id column; its columns are {header[:8]}.",
                             hint=f"Name the id column one of {', '.join(ID_FILE_COLUMNS)}.")
        return [decode_id(row[col].strip()) for row in reader if len(row) > col and row[col].strip()]
    return parse_id_lines(text)
