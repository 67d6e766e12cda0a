"""A writer of the pickle stream Python 2 wrote for the official model files (no chumpy needed)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse


@dataclass(frozen=True)
class ChumpyArray:
    """An array to be written as a pickled ``chumpy.ch.Ch`` object."""

    x: np.ndarray


class Py2Pickler:
    """Writes the pickle stream Python 2 wrote for the official files (protocol 2).

    Supports dicts with str keys, str (as Python 2 byte strings), int, float, bool, None, tuples,
    lists, NumPy arrays (``numpy.core.multiarray._reconstruct`` with the raw bytes as a Python 2
    string), :class:`ChumpyArray` objects (``copy_reg._reconstructor`` of ``chumpy.ch.Ch`` with the
    array under ``'x'``) and ``scipy.sparse`` CSC matrices (``copy_reg._reconstructor`` of
    ``scipy.sparse.csc.csc_matrix`` with the attribute dictionary of old scipy versions).
    """

    def __init__(self) -> None:
        self.out = io.BytesIO()

    def dumps(self, obj: Any) -> bytes:
        """The protocol-2 pickle of ``obj`` (the writer is used once: it keeps its buffer)."""
        self.out.write(b"\x80\x02")
        self._write(obj)
        self.out.write(b".")
        return self.out.getvalue()

    def _global(self, module: str, name: str) -> None:
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def _reconstructor(self, module: str, name: str, state: dict[str, Any]) -> None:
        self._global("copy_reg", "_reconstructor")
        self._global(module, name)
        self._global("__builtin__", "object")
        self.out.write(b"N\x87R")  # (cls, object, None) -> REDUCE
        self._write(state)
        self.out.write(b"b")  # BUILD

    def _dtype(self, dtype: np.dtype) -> None:
        self._global("numpy", "dtype")
        self._write((dtype.str[1:] if dtype != np.dtype(object) else "O8", 0, 1))
        self.out.write(b"R")
        order = "|" if dtype.itemsize == 1 or dtype == np.dtype(object) else "<"
        flags = 63 if dtype == np.dtype(object) else 0
        self._write((3, order, None, None, None, -1, -1, flags))
        self.out.write(b"b")

    def _array(self, array: np.ndarray) -> None:
        self._global("numpy.core.multiarray", "_reconstruct")
        self._global("numpy", "ndarray")
        self._write((0,))
        self._write("b")
        self.out.write(b"\x87R")
        self.out.write(b"(")
        self._write(1)
        self._write(tuple(int(n) for n in array.shape))
        if array.dtype == np.dtype(object):
            self._dtype(array.dtype)
            self._write(False)
            self._write(list(array.ravel()))
        else:
            array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            self._dtype(array.dtype)
            self._write(False)
            self._write_bytes(array.tobytes())
        self.out.write(b"tb")

    def _write_bytes(self, data: bytes) -> None:
        if len(data) < 256:
            self.out.write(b"U" + bytes([len(data)]) + data)
        else:
            self.out.write(b"T" + struct.pack("<I", len(data)) + data)

    def _write_marked(self, items: list[Any] | tuple[Any, ...], opcode: bytes) -> None:
        """MARK, the items, then ``opcode``, which collects the items up to the mark."""
        self.out.write(b"(")
        for item in items:
            self._write(item)
        self.out.write(opcode)

    def _write(self, obj: Any) -> None:
        if isinstance(obj, ChumpyArray):
            self._reconstructor("chumpy.ch", "Ch", {"x": obj.x, "_cache": {}})
        elif isinstance(obj, scipy.sparse.csc_matrix):
            state = {"_shape": obj.shape, "maxprint": 50, "format": "csc", "data": obj.data,
                     "indices": obj.indices, "indptr": obj.indptr}  # fmt: skip
            self._reconstructor("scipy.sparse.csc", "csc_matrix", state)
        elif isinstance(obj, np.ndarray):
            self._array(obj)
        elif obj is None:
            self.out.write(b"N")
        elif isinstance(obj, bool):
            self.out.write(b"\x88" if obj else b"\x89")
        elif isinstance(obj, (int, np.integer)):
            obj = int(obj)
            if 0 <= obj < 256:
                self.out.write(b"K" + bytes([obj]))
            elif -(2**31) <= obj < 2**31:
                self.out.write(b"J" + struct.pack("<i", obj))
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                self.out.write(b"\x8a" + bytes([len(raw)]) + raw)
        elif isinstance(obj, float):
            self.out.write(b"G" + struct.pack(">d", obj))
        elif isinstance(obj, str):
            self._write_bytes(obj.encode("latin1"))
        elif isinstance(obj, tuple):
            if len(obj) == 0:
                self.out.write(b")")
            elif len(obj) <= 3:
                for item in obj:
                    self._write(item)
                self.out.write(b"\x85\x86\x87"[len(obj) - 1 : len(obj)])
            else:
                self._write_marked(obj, b"t")  # TUPLE
        elif isinstance(obj, list):
            self.out.write(b"]")
            if obj:
                self._write_marked(obj, b"e")  # APPENDS
        elif isinstance(obj, dict):
            self.out.write(b"}")
            if obj:
                self._write_marked([x for item in obj.items() for x in item], b"u")  # SETITEMS
        else:
            raise TypeError(f"cannot write {type(obj).__name__} in a Python 2 model pickle")

