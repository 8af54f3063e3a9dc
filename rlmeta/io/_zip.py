"""Safe reading of ZIP archives (Inspect ``.eval`` logs), deflate and zstd members.

Python 3.11's :mod:`zipfile` cannot decompress ZIP method 93 (zstd), which Inspect
uses by default since v0.3.206, so zstd members are located through the local
file header and decompressed with the ``zstandard`` package.  Every member read
is checked first: no absolute or ``..`` paths, no encrypted members, sizes within
:class:`~rlmeta.io._common.Limits` (per member, in total, compression ratio), and
the CRC-32 of what was decompressed; decompression stops as soon as a member
produces more bytes than its header declared.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from ._common import DEFAULT_LIMITS, Limits, fail

__all__ = ["SafeZip", "ZSTD"]

ZSTD = 93
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_CHUNK = 1 << 20


_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_S_IFLNK = 0o120000


def _declared_entries(path: Any) -> int | None:
    """Number of entries the archive's end-of-central-directory record declares.

    Read from the last 64 KiB of the file, before :mod:`zipfile` builds one object per
    entry, so an archive listing millions of entries is refused cheaply.  None when no
    end record is found (zipfile then reports the archive as invalid).
    """
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        tail_len = min(size, _EOCD.size + 65535)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return None
    total = _EOCD.unpack_from(tail, at)[4]
    loc = at - _ZIP64_LOCATOR.size
    if total == 0xFFFF and loc >= 0 and tail[loc : loc + 4] == b"PK\x06\x07":
        offset = _ZIP64_LOCATOR.unpack_from(tail, loc)[2]
        with open(path, "rb") as fh:
            fh.seek(offset)
            rec = fh.read(_ZIP64_EOCD.size)
        if len(rec) == _ZIP64_EOCD.size and rec[:4] == b"PK\x06\x06":
            total = _ZIP64_EOCD.unpack(rec)[7]
    return total


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """A member stored as a Unix symbolic link (its data is a path, not a document)."""
    return info.create_system == 3 and (info.external_attr >> 16) & 0o170000 == _S_IFLNK


def _unsafe(name: str) -> bool:
    if not name or "\x00" in name:
        return True
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == ".." for p in parts)


class SafeZip:
    """A read-only view of a ZIP file that enforces :class:`Limits`.

    Parameters
    ----------
    path
        The archive.
    limits
        Size limits; the running total of bytes read is kept across members.
    """

    def __init__(self, path: Any, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = path
        self.limits = limits
        self._total = 0
        try:
            entries = _declared_entries(path)
        except OSError as exc:
            raise fail(path, f"cannot open the archive: {exc}") from None
        if entries is not None and entries > limits.max_members:
            raise fail(
                path,
                f"the archive lists {entries} members, over the limit of {limits.max_members} "
                "(raise it with limits=Limits(max_members=...))",
            )
        try:
            self._zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, struct.error) as exc:
            # zipfile raises more than BadZipFile on damaged central directories
            raise fail(
                path, f"not a valid ZIP archive ({exc}); an Inspect .eval log is a ZIP file"
            ) from None
        except OSError as exc:
            raise fail(path, f"cannot open the archive: {exc}") from None
        self._infos = {}
        try:
            for info in self._zf.infolist():
                if _unsafe(info.filename):
                    raise fail(
                        path, f"unsafe member path {info.filename!r} (absolute or containing '..')"
                    )
                if _is_symlink(info):
                    raise fail(
                        path, f"member {info.filename!r} is a symbolic link; links are not read"
                    )
                if info.filename in self._infos:
                    raise fail(
                        path,
                        f"member {info.filename!r} occurs twice; which copy is meant is ambiguous",
                    )
                self._infos[info.filename] = info
        except BaseException:
            self._zf.close()
            raise

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def names(self) -> list[str]:
        """Member names in archive order."""
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def _check(self, info: zipfile.ZipInfo) -> None:
        lim = self.limits
        name = info.filename
        if info.flag_bits & 0x1:
            raise fail(self.path, f"member {name!r} is encrypted; encrypted logs are not supported")
        if info.file_size > lim.max_member:
            raise fail(
                self.path,
                f"member {name!r} declares {info.file_size} bytes uncompressed, over the per-member "
                f"limit of {lim.max_member} bytes (raise it with limits=Limits(max_member=...))",
            )
        if self._total + info.file_size > lim.max_total_uncompressed:
            raise fail(
                self.path,
                f"reading member {name!r} would exceed the total uncompressed limit of "
                f"{lim.max_total_uncompressed} bytes (raise it with limits=Limits(max_total_uncompressed=...))",
            )
        if info.file_size > lim.ratio_floor and info.compress_size > 0:
            ratio = info.file_size / info.compress_size
            if ratio > lim.max_ratio:
                raise fail(
                    self.path,
                    f"member {name!r} has a compression ratio of {ratio:.0f}, over the limit of "
                    f"{lim.max_ratio:g} (a possible decompression bomb)",
                )

    def read(self, name: str) -> bytes:
        """Decompress one member, enforcing the limits and the CRC."""
        info = self._infos.get(name)
        if info is None:
            raise fail(self.path, f"the archive has no member {name!r}")
        self._check(info)
        if info.compress_type == ZSTD:
            data = self._read_zstd(info)
        elif info.compress_type in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
            zipfile.ZIP_BZIP2,
            zipfile.ZIP_LZMA,
        ):
            data = self._read_std(info)
        else:
            raise fail(
                self.path,
                f"member {name!r} uses unsupported ZIP compression method {info.compress_type}",
            )
        if len(data) != info.file_size:
            raise fail(
                self.path,
                f"member {name!r} decompressed to {len(data)} bytes, header says {info.file_size}",
            )
        if zlib.crc32(data) & 0xFFFFFFFF != info.CRC:
            raise fail(self.path, f"member {name!r} is corrupt (CRC-32 mismatch)")
        self._total += len(data)
        return data

    def _read_std(self, info: zipfile.ZipInfo) -> bytes:
        cap = info.file_size
        out = bytearray()
        try:
            with self._zf.open(info) as fh:
                while True:
                    block = fh.read(_CHUNK)
                    if not block:
                        break
                    out += block
                    if len(out) > cap:
                        raise fail(
                            self.path,
                            f"member {info.filename!r} is larger than its header declares",
                        )
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise fail(
                self.path, f"member {info.filename!r} is corrupt or truncated: {exc}"
            ) from None
        return bytes(out)

    def _raw_member(self, info: zipfile.ZipInfo) -> bytes:
        """The compressed bytes of a member, located through its local file header."""
        fp = self._zf.fp
        if fp is None:  # pragma: no cover - closed archive
            raise fail(self.path, "archive is closed")
        fp.seek(info.header_offset)
        head = fp.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise fail(self.path, f"member {info.filename!r}: bad local file header")
        fields = _LOCAL_HEADER.unpack(head)
        name_len, extra_len = fields[9], fields[10]
        fp.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
        raw = fp.read(info.compress_size)
        if len(raw) != info.compress_size:
            raise fail(self.path, f"member {info.filename!r} is truncated")
        return raw

    def _read_zstd(self, info: zipfile.ZipInfo) -> bytes:
        try:
            import zstandard
        except ImportError:  # pragma: no cover - zstandard is a dependency
            raise fail(self.path, "zstd-compressed members need the 'zstandard' package") from None
        raw = self._raw_member(info)
        cap = info.file_size
        out = bytearray()
        try:
            # Bounded reads: each read returns at most _CHUNK bytes, so a member whose header
            # lies about its size is stopped after one chunk past the declared size.
            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
                while True:
                    block = reader.read(_CHUNK)
                    if not block:
                        break
                    out += block
                    if len(out) > cap:
                        raise fail(
                            self.path,
                            f"member {info.filename!r} is larger than its header declares",
                        )
        except zstandard.ZstdError as exc:
            raise fail(self.path, f"member {info.filename!r}: corrupt zstd data ({exc})") from None
        return bytes(out)
