#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/: small valid files of each format and
a few edge cases (absurd sizes, truncation, wrong types). Hand-made; no real data set is copied.
Run from anywhere: python3 tests/fuzz/make_corpus.py"""
import gzip
import io
import json
import os
import struct
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# --- IDX: magic 00 00 <type> <ndims>, big-endian uint32 dims, big-endian values -----------------
def idx(code, dims, values, fmt):
    return bytes([0, 0, code, len(dims)]) + struct.pack(">%dI" % len(dims), *dims) + \
        struct.pack(">%d%s" % (len(values), fmt), *values)


images = idx(0x08, [2, 3, 3], list(range(0, 180, 10)), "B")
put("idx", "u8_images.idx", images)
put("idx", "u8_labels.idx", idx(0x08, [5], [0, 1, 2, 9, 7], "B"))
put("idx", "i8.idx", idx(0x09, [4], [-128, -1, 0, 127], "b"))
put("idx", "i16.idx", idx(0x0B, [2, 2], [-32768, -1, 256, 32767], "h"))
put("idx", "i32.idx", idx(0x0C, [3], [-(1 << 24), 0, 1 << 24], "i"))
put("idx", "f32_4d.idx", idx(0x0D, [1, 2, 1, 2], [0.5, -1.25, 3e38, -0.0], "f"))
put("idx", "f64.idx", idx(0x0E, [2], [1e-300, -2.5], "d"))
put("idx", "u8_images.idx.gz", gz(images))
put("idx", "absurd_dims.idx", bytes([0, 0, 0x08, 4]) + b"\xff\xff\xff\xff" * 4)
put("idx", "zero_dim.idx", bytes([0, 0, 0x08, 2]) + struct.pack(">II", 0, 3))
put("idx", "truncated.idx", images[:-3])

# --- CSV: the first byte picks the options (bits 0-1 delimiter sniffed / ; / tab / space; bits 2-3
# header auto/yes/no; bits 4-5 label none / name "label" / index 0 / index 2; bit 6 one line
# skipped; bit 7 the decimal mark ',') ---------------------------------------------------------------
put("csv", "header_label_name.csv", b"\x10" + b"a,b,label\n1,2.5,0\n-3,4e2,1\n")
put("csv", "no_header_index0.csv", b"\x28" + b"7,0.1,0.2\n3,0.3,0.4\n")
put("csv", "semicolon_quoted.csv", b"\x01" + b'"x;1";y\n# comment\n\n1;2\n"3";4\n')
put("csv", "tab_crlf_bom.csv", b"\x02" + b"\xef\xbb\xbfa\tb\r\n1\t2\r\n3\t4\r\n")
put("csv", "space_label2.csv", b"\x37" + b"a b c\n1 2 3\n4 5 6\n")
put("csv", "edges.csv", b"\x00" + b"a,b\n1e39,nan\n+-1,\"\n")
put("csv", "ragged.csv", b"\x00" + b"1,2,3\n4,5\n")
put("csv", "decimal_comma.csv", b"\x90" + b"a;b;label\n-5,79539;1,5;0\n2;3,25;1\n")
put("csv", "decimal_comma_split.csv", b"\x00" + b"value\n-5,79539\n2,5\n")
put("csv", "cr_pipes_title.csv", b"\x40" + b"title\ra|b\r1|2\r3|4\r")

# --- NPY: \x93NUMPY, version, header length, a Python dict literal padded to 64 bytes --------------
def npy(descr, shape, payload, version=1, fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", dims)
    prefix = 10 if version == 1 else 12
    total = (prefix + len(header) + 1 + 63) // 64 * 64
    header = header + " " * (total - prefix - len(header) - 1) + "\n"
    length = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + length + header.encode() + payload


put("npy", "f32_2x3.npy", npy("<f4", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)))
put("npy", "i8_v2.npy", npy("<i8", [4], struct.pack("<4q", -1, 0, 1, 1 << 24), version=2))
put("npy", "u1_v3.npy", npy("|u1", [2, 2], bytes([0, 128, 255, 7]), version=3))
put("npy", "f8_big_endian_scalar.npy", npy(">f8", [], struct.pack(">d", -2.5)))
put("npy", "i4_be.npy", npy(">i4", [3], struct.pack(">3i", -5, 0, 5)))
put("npy", "i1_empty.npy", npy("|i1", [0, 5], b""))
put("npy", "fortran.npy", npy("<f4", [1, 1], struct.pack("<f", 1), fortran=True))
put("npy", "absurd_shape.npy", npy("<f4", [1 << 40, 1 << 40], b""))
put("npy", "int_too_big.npy", npy("<i8", [1], struct.pack("<q", (1 << 24) + 1)))

# --- NPZ: a zip of .npy files as np.savez (stored) and np.savez_compressed (deflated) write it;
# the first byte picks the key (bit 0: "x", else the only array) ----------------------------------
def npz(arrays, compression=zipfile.ZIP_STORED, force_zip64=True):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as z:
        for name, data in arrays:
            info = zipfile.ZipInfo(name + ".npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compression
            with z.open(info, "w", force_zip64=force_zip64) as f:
                f.write(data)
    return out.getvalue()


x = npy("<f4", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6))
y = npy("<i8", [2], struct.pack("<2q", 0, 1))
put("npz", "one_stored.npz", b"\x00" + npz([("arr_0", x)]))
put("npz", "one_deflated.npz", b"\x00" + npz([("arr_0", x)], zipfile.ZIP_DEFLATED))
put("npz", "two_by_key.npz", b"\x01" + npz([("x", x), ("y", y)], force_zip64=False))
put("npz", "two_no_key.npz", b"\x00" + npz([("x", x), ("y", y)]))
put("npz", "sparse_keys.npz",
    b"\x00" + npz([(k, y) for k in ("format", "shape", "data", "indices", "indptr")]))
put("npz", "truncated.npz", b"\x00" + npz([("arr_0", x)])[:-30])
put("npz", "empty.npz", b"\x00" + b"PK\x05\x06" + bytes(18))

# --- safetensors: 8-byte little-endian header length, JSON header, buffer --------------------------
def st(header, buffer):
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + buffer


w = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
put("safetensors", "f32_i64_meta.safetensors", st(
    {"__metadata__": {"format": "ae", "step": "10"},
     "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "step": {"dtype": "I64", "shape": [1], "data_offsets": [24, 32]}},
    w + struct.pack("<q", 10)))
put("safetensors", "empty.safetensors", st({}, b""))
put("safetensors", "scalars.safetensors", st(
    {"u": {"dtype": "U8", "shape": [], "data_offsets": [0, 1]},
     "d": {"dtype": "F64", "shape": [1], "data_offsets": [1, 9]},
     "i": {"dtype": "I32", "shape": [1, 1], "data_offsets": [9, 13]},
     "h": {"dtype": "BF16", "shape": [0, 3], "data_offsets": [13, 13]}},
    b"\x07" + struct.pack("<d", 0.25) + struct.pack("<i", -3)))
put("safetensors", "overlap.safetensors", st(
    '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
    '"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}', bytes(6)))
put("safetensors", "absurd_shape.safetensors", st(
    '{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', bytes(8)))
put("safetensors", "absurd_offsets.safetensors", st(
    '{"w":{"dtype":"U8","shape":[1099511627776],"data_offsets":[0,1099511627776]}}', bytes(8)))
put("safetensors", "absurd_header_length.safetensors", struct.pack("<Q", 1 << 62) + b"{}")
put("safetensors", "duplicate.safetensors", st(
    '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
    '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', bytes(2)))

# --- gzip: single and concatenated members, empty payload, truncated, a small bomb -----------------
put("gzip", "text.gz", gz(b"ae gzip seed\n" * 4))
put("gzip", "two_members.gz", gz(b"first ") + gz(b"second"))
put("gzip", "empty_payload.gz", gz(b""))
put("gzip", "truncated.gz", gz(bytes(range(256)))[:-6])
put("gzip", "zeros_1mb.gz", gz(bytes(1 << 20)))

# --- config: the JSON of `ae train --config` ------------------------------------------------------
put("config", "dae.json", json.dumps({
    "model": {"kind": "dae", "hidden": [256, 64], "code": 16, "activation": "relu",
              "noise": "masking", "noise_level": 0.3, "tied": True},
    "data": {"path": "data/mnist", "normalize": "min_max", "validation": 0.1},
    "train": {"epochs": 5, "batch_size": 128, "optimizer": "adamw", "lr": 0.001,
              "lr_schedule": "cosine", "clip_norm": 1.0},
    "seed": 3, "device": "cpu"}, indent=1))
put("config", "vae.json", json.dumps({
    "model": {"kind": "vae", "hidden": [400], "code": 2, "beta": 1.5,
              "beta_schedule": "warmup", "beta_warmup": 500, "dtype": "float64"},
    "train": {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr": 0.01}}))
put("config", "sparse_csv.json", json.dumps({
    "model": {"kind": "sparse", "penalty": "kl_sparsity", "sparsity_target": 0.05},
    "data": {"path": "x.csv", "format": "csv", "label_column": "label", "header": "yes",
             "delimiter": ";", "limit": 1000}}))
put("config", "empty.json", "{}")
put("config", "wrong_types.json", '{"train": {"lr": "fast", "epochs": -1}, "model": {"hidden": 3}}')
put("config", "unknown_field.json", '{"model": {"kind": "ae", "depth": 3}}')
