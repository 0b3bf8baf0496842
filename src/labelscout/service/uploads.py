"""Datasets: uploads streamed to disk, archives unpacked safely, server folders registered.

Upload bodies are parsed as they arrive (python-multipart's streaming parser) and every
part goes straight into a file under the data directory, so an upload is never held in
memory and the size and file-count limits stop it the moment it crosses them. Archives
(zip, tar, tar.gz) are checked member by member *before* anything is unpacked: one
member with an absolute path, a ``..`` component, a link or a device refuses the whole
archive (zip-slip), as does an unpacked size or count over the limits (zip bombs).
"""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import AsyncIterator, Sequence

from ..runs.atomic import atomic_write_json
from ..sources.collection import SOURCE_KINDS, collect

__all__ = ["UploadRefused", "UploadLimits", "receive_upload", "register_path", "dataset_manifest", "safe_relative"]

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MANIFEST = "manifest.json"


class UploadRefused(Exception):
    """The upload or path is refused; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400, hint: str | None = None):
        super().__init__(message)
        self.message, self.status, self.hint = message, status, hint


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 20 * 1024**3  # per dataset, uploaded and unpacked
    max_files: int = 1_000_000


def safe_relative(name: str, what: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its folder, or :class:`UploadRefused`."""
    text = name.replace("\\", "/")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UploadRefused(f"{what} {name!r} is an absolute path; the whole upload is refused.",
                            hint="Archive and upload paths must be relative to the dataset root.")
    if any(part == ".." for part in path.parts):
        raise UploadRefused(f"{what} {name!r} climbs out of the dataset with '..'; the whole upload is refused.",
                            hint="Archive and upload paths must stay inside the dataset root.")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise UploadRefused(f"{what} {name!r} names no file.")
    return PurePosixPath(*parts)


def _is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


async def receive_upload(body: AsyncIterator[bytes], content_type: str, dataset_dir: Path, limits: UploadLimits) -> None:
    """Stream a multipart body into ``dataset_dir/files``; archives are unpacked there.

    Only parts named ``file`` with a filename are kept. On any refusal the folder is
    removed, so a refused upload leaves nothing behind."""
    from python_multipart import MultipartParser
    from python_multipart.multipart import parse_options_header

    ctype, opts = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in opts:
        raise UploadRefused("Uploads are multipart/form-data with one or more fields named 'file'.", status=415)
    files_dir = dataset_dir / "files"
    incoming = dataset_dir / ".incoming"
    files_dir.mkdir(parents=True)
    incoming.mkdir()
    state: dict = {"headers": {}, "field": b"", "value": b"", "out": None, "bytes": 0, "count": 0, "archives": [], "error": None}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        field_name = disp.get(b"name", b"").decode()
        filename = disp.get(b"filename")
        state["headers"] = {}
        if field_name != "file" or filename is None:
            state["out"] = None
            return
        rel = safe_relative(filename.decode("utf-8", "replace"), "Uploaded file")
        state["count"] += 1
        if state["count"] > limits.max_files:
            raise UploadRefused(f"The upload has more than {limits.max_files} files.", status=413,
                                hint="Upload fewer files per dataset, or raise --max-upload-files on the server.")
        if _is_archive(rel.name):
            target = incoming / f"{len(state['archives']):04d}-{rel.name}"
            state["archives"].append(target)
        else:
            target = files_dir / rel
            if target.exists():
                raise UploadRefused(f"The upload names {str(rel)!r} twice.")
            target.parent.mkdir(parents=True, exist_ok=True)
        state["out"] = open(target, "wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["out"] is None:
            return
        state["bytes"] += end - start
        if state["bytes"] > limits.max_bytes:
            raise UploadRefused(f"The upload is larger than the limit of {limits.max_bytes} bytes.", status=413,
                                hint="Split it into several datasets, register a server folder, or raise --max-upload-bytes.")
        state["out"].write(data[start:end])

    def on_part_end() -> None:
        if state["out"] is not None:
            state["out"].close()
            state["out"] = None

    parser = MultipartParser(opts[b"boundary"], {
        "on_header_field": on_header_field, "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end})
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        if state["count"] == 0:
            raise UploadRefused("The upload has no file: send one or more multipart fields named 'file'.")
        for archive in state["archives"]:
            _unpack(archive, files_dir, limits, already=(state["bytes"], state["count"]))
    except BaseException:
        if state["out"] is not None:
            state["out"].close()
        shutil.rmtree(dataset_dir, ignore_errors=True)
        raise
    shutil.rmtree(incoming, ignore_errors=True)


def _unpack(archive: Path, dest: Path, limits: UploadLimits, already: tuple[int, int]) -> None:
    """Check every member, then unpack; refuse the whole archive on the first bad member."""
    name = archive.name.split("-", 1)[1]
    members = _zip_members(archive, name) if name.lower().endswith(".zip") else _tar_members(archive, name)
    total = sum(size for _, size in members)
    if total > limits.max_bytes:
        raise UploadRefused(f"Archive {name!r} unpacks to {total} bytes, over the limit of {limits.max_bytes}.", status=413)
    if len(members) + already[1] > limits.max_files:
        raise UploadRefused(f"Archive {name!r} holds {len(members)} files, over the limit of {limits.max_files}.", status=413)
    for rel, _ in members:
        if (dest / rel).exists():
            raise UploadRefused(f"Archive {name!r} holds {str(rel)!r}, which the upload already has.")
    if name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                target = dest / safe_relative(info.filename, f"Archive {name!r} member")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    else:
        with tarfile.open(archive) as tf:
            for info in tf:
                if not info.isfile():
                    continue
                target = dest / safe_relative(info.name, f"Archive {name!r} member")
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(info)
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)


def _zip_members(archive: Path, name: str) -> list[tuple[PurePosixPath, int]]:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise UploadRefused(f"{name!r} is not a readable zip archive ({exc}).") from None
    out = []
    with zf:
        for info in zf.infolist():
            rel = safe_relative(info.filename, f"Archive {name!r} member")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UploadRefused(f"Archive {name!r} member {info.filename!r} is a symbolic link; the whole upload is refused.",
                                    hint="Archives may hold regular files and folders only.")
            if not info.is_dir():
                out.append((rel, info.file_size))
    return out


def _tar_members(archive: Path, name: str) -> list[tuple[PurePosixPath, int]]:
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError as exc:
        raise UploadRefused(f"{name!r} is not a readable tar archive ({exc}).") from None
    out = []
    with tf:
        for info in tf:
            rel = safe_relative(info.name, f"Archive {name!r} member")
            if info.issym() or info.islnk():
                raise UploadRefused(f"Archive {name!r} member {info.name!r} is a link; the whole upload is refused.",
                                    hint="Archives may hold regular files and folders only.")
            if not (info.isfile() or info.isdir()):
                raise UploadRefused(f"Archive {name!r} member {info.name!r} is not a regular file; the whole upload is refused.")
            if info.isfile():
                out.append((rel, info.size))
    return out


def register_path(path: str, allowed_roots: Sequence[Path]) -> Path:
    """The real path of a server-side folder, if it lies under one of ``allowed_roots``."""
    if not allowed_roots:
        raise UploadRefused("This server registers no server-side paths.", status=403,
                            hint="Start it with --allowed-root DIR to allow folders under DIR.")
    real = Path(os.path.realpath(path))
    for root in allowed_roots:
        if real == Path(os.path.realpath(root)) or real.is_relative_to(os.path.realpath(root)):
            if not real.is_dir():
                raise UploadRefused(f"{path!r} is not a folder on the server.", status=404)
            return real
    raise UploadRefused(f"{path!r} is outside the folders this server allows ({', '.join(map(str, allowed_roots))}).",
                        status=403, hint="Register a folder under an allowed root, or upload the files.")


def dataset_manifest(root: Path, out_dir: Path) -> dict:
    """Scan ``root``: the samples, every other file with the reason it is not one, the
    size. Written to ``out_dir/manifest.json`` and returned."""
    from ..errors import InputError

    try:
        col = collect(root)
        samples = list(col.images) + list(col.videos)
    except InputError:
        col, samples = None, []
    sample_set = set(samples)
    known = sorted(set().union(*SOURCE_KINDS.values()))
    skipped, size = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            rel = p.relative_to(root).as_posix()
            try:
                size += p.stat().st_size
            except OSError:
                pass
            if rel in sample_set:
                continue
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                reason = "hidden file"
            elif col is not None and any(rel.startswith(d.rstrip("/") + "/") for d in col.summary().get("skipped_run_folders", [])):
                reason = "inside a labelscout run folder"
            else:
                reason = f"not an image or video (supported: {' '.join(known)})"
            skipped.append({"file": rel, "reason": reason})
    manifest = {"root": str(root), "files": samples, "images": len(col.images) if col else 0,
                "videos": len(col.videos) if col else 0, "skipped": skipped, "size_bytes": size}
    atomic_write_json(out_dir / MANIFEST, manifest)
    return manifest


def new_dataset_id() -> str:
    return uuid.uuid4().hex
