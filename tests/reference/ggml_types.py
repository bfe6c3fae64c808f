#!/usr/bin/env python3
"""Writes the ggml type table as the ggml library itself reports it (through
ctypes, from the libggml-base that llama-cpp-python ships; the number of
ids from the ggml.h installed beside it), for
tests/test_gguf.c to compare tessera's table (core/gguf/ggml_types.c) against.

    /opt/tsr-venv/bin/python tests/reference/ggml_types.py > tests/reference/ggml-types.txt

One line per id from 0 to GGML_TYPE_COUNT - 1:
    ID NAME BLOCK_ELEMS BLOCK_BYTES      a type ggml defines (name lowercased)
    ID -                                 an id ggml has removed
"""
import ctypes
import pathlib
import re
import sys

import llama_cpp

PACKAGE = pathlib.Path(llama_cpp.__file__).parent
LIB = PACKAGE / "lib" / "libggml-base.so"
HEADER = PACKAGE.parent / "include" / "ggml.h"


def main() -> None:
    ggml = ctypes.CDLL(str(LIB))
    ggml.ggml_blck_size.restype = ctypes.c_int64
    ggml.ggml_blck_size.argtypes = [ctypes.c_int]
    ggml.ggml_type_size.restype = ctypes.c_size_t
    ggml.ggml_type_size.argtypes = [ctypes.c_int]
    ggml.ggml_type_name.restype = ctypes.c_char_p
    ggml.ggml_type_name.argtypes = [ctypes.c_int]
    # GGML_TYPE_COUNT is an enum value, not a symbol: read it from the header.
    match = re.search(r"GGML_TYPE_COUNT\s*=\s*(\d+)", HEADER.read_text())
    if not match:
        sys.exit("%s: no GGML_TYPE_COUNT" % HEADER)
    for type_id in range(int(match.group(1))):
        elems = ggml.ggml_blck_size(type_id)
        if elems == 0:  # a removed id
            print("%d -" % type_id)
        else:
            name = ggml.ggml_type_name(type_id).decode().lower()
            print("%d %s %d %d" % (type_id, name, elems, ggml.ggml_type_size(type_id)))


if __name__ == "__main__":
    main()
