#!/usr/bin/env python3
"""Dumps a GGUF file's header, metadata and tensor table as read by the `gguf`
PyPI package (llama.cpp's own Python reader), in the text form that
tests/test_gguf.c prints from tessera's reader and compares line by line.

    /opt/tsr-venv/bin/python tests/reference/gguf_dump.py MODEL.gguf > tests/reference/smollm2-gguf.txt

Format, one item per line:
    version V / tensor_count N / kv_count N / alignment A / data_offset D
    key OFFSET NAME TYPE VALUE            scalars; strings quoted, bytes outside
                                          printable ASCII (and " \\) as \\xNN
    key OFFSET NAME array[ELEM] COUNT [first 8 items]
    tensor NAME TYPE [DIMS] offset O file_offset F bytes B
Floats: float32 as %.9g, float64 as %.17g (C's printf and Python's % agree).
"""
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType

FIRST_ITEMS = 8


def quote(raw: bytes) -> str:
    out = []
    for b in raw:
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


def scalar(vtype, part) -> str:
    if vtype == GGUFValueType.STRING:
        return quote(bytes(part))
    value = part[0]
    if vtype == GGUFValueType.BOOL:
        return "true" if value else "false"
    if vtype == GGUFValueType.FLOAT32:
        return "%.9g" % float(np.float32(value))
    if vtype == GGUFValueType.FLOAT64:
        return "%.17g" % float(value)
    return "%d" % int(value)


def type_name(vtype) -> str:
    return vtype.name.lower()


def main() -> None:
    reader = GGUFReader(sys.argv[1])
    fields = reader.fields
    keys = [k for k in fields if not k.startswith("GGUF.")]
    out = [
        "version %d" % int(fields["GGUF.version"].parts[-1][0]),
        "tensor_count %d" % int(fields["GGUF.tensor_count"].parts[-1][0]),
        "kv_count %d" % len(keys),
        "alignment %d" % reader.alignment,
        "data_offset %d" % reader.data_offset,
    ]
    for name in keys:
        field = fields[name]
        vtype = field.types[0]
        if vtype != GGUFValueType.ARRAY:
            out.append("key %d %s %s %s" % (field.offset, name, type_name(vtype),
                                             scalar(vtype, field.parts[field.data[0]])))
            continue
        elem = field.types[1] if len(field.types) > 1 else GGUFValueType.UINT8
        if len(field.types) > 2:
            sys.exit("%s: nested arrays are not dumped" % name)
        count = int(field.parts[4][0])
        items = [scalar(elem, field.parts[i]) for i in field.data[:FIRST_ITEMS]]
        out.append("key %d %s array[%s] %d [%s]" % (field.offset, name, type_name(elem),
                                                    count, ", ".join(items)))
    for t in reader.tensors:
        dims = ", ".join("%d" % d for d in t.shape)
        out.append("tensor %s %s [%s] offset %d file_offset %d bytes %d" % (
            t.name, t.tensor_type.name.lower(), dims, t.data_offset - reader.data_offset,
            t.data_offset, t.n_bytes))
    print("\n".join(out))


if __name__ == "__main__":
    main()
