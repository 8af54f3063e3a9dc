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
            self._zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise fail(
                path, f"not a valid ZIP archive ({exc}); an Inspect .eval log is a ZIP file"
            ) from None
        except OSError as exc:
            raise fail(path, f"cannot open the archive: {exc}") from None
        self._infos = {}
        for info in self._zf.infolist():
            if _unsafe(info.filename):
                raise fail(
                    path, f"unsafe member path {info.filename!r} (absolute or containing '..')"
                )
            self._infos[info.filename] = info

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
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
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
