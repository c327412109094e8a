"""A small safetensors reader and writer in pure Python (no numpy, no torch needed).

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}, then the tensors' bytes, little-endian and row-major, with offsets
relative to the end of the header. ae writes its checkpoints and its peer files in it.

    tensors, metadata = st_lite.load("peer_ae.safetensors")
    tensors["encoder.0.weight"].shape      # [512, 784]
    tensors["encoder.0.weight"].values()   # a flat list of Python floats
    tensors["encoder.0.weight"].to_torch() # a torch tensor, when torch is installed

load_for_torch() uses the `safetensors` package when it is installed and this reader otherwise.
"""
import json
import struct

# Bytes per element of every dtype the format defines.
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}
# struct codes of the dtypes Python can unpack itself.
_STRUCT_CODES = {
    "BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "F16": "e",
    "I32": "i", "U32": "I", "F32": "f", "I64": "q", "U64": "Q", "F64": "d",
}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


class Entry:
    """One tensor: its name, dtype (as the spec spells it), shape and raw little-endian bytes."""

    def __init__(self, name, dtype, shape, data):
        if dtype not in DTYPE_SIZES:
            raise ValueError(f"tensor '{name}': unknown dtype {dtype!r}")
        shape = [int(d) for d in shape]
        if any(d < 0 for d in shape):
            raise ValueError(f"tensor '{name}': negative dimension in shape {shape}")
        want = DTYPE_SIZES[dtype] * numel(shape)
        if len(data) != want:
            raise ValueError(f"tensor '{name}': {len(data)} bytes for {dtype} {shape} ({want} expected)")
        self.name, self.dtype, self.shape, self.data = name, dtype, shape, bytes(data)

    def numel(self):
        return numel(self.shape)

    def values(self):
        """The elements as a flat list of Python numbers (dtypes struct can unpack)."""
        if self.dtype not in _STRUCT_CODES:
            raise ValueError(f"tensor '{self.name}': {self.dtype} cannot be unpacked without numpy")
        return list(struct.unpack(f"<{self.numel()}{_STRUCT_CODES[self.dtype]}", self.data))

    def to_torch(self, device=None):
        import torch  # only when asked for

        dtypes = {
            "BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
            "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32,
            "F32": torch.float32, "I64": torch.int64, "F64": torch.float64,
        }
        if self.dtype not in dtypes:
            raise ValueError(f"tensor '{self.name}': torch has no {self.dtype}")
        if self.numel() == 0:
            t = torch.empty(self.shape, dtype=dtypes[self.dtype])
        else:
            # frombuffer reads the host's byte order; the format's is little-endian.
            if struct.pack("=H", 1) != struct.pack("<H", 1):
                raise ValueError("to_torch: big-endian hosts are not supported")
            t = torch.frombuffer(bytearray(self.data), dtype=dtypes[self.dtype]).reshape(self.shape)
        return t.to(device) if device is not None else t

    def __eq__(self, other):
        return (isinstance(other, Entry) and self.name == other.name and self.dtype == other.dtype
                and self.shape == other.shape and self.data == other.data)

    def __repr__(self):
        return f"Entry({self.name!r}, {self.dtype}, {self.shape})"


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def parse(blob, name="<bytes>"):
    """(dict name -> Entry in file order, metadata dict) from the bytes of a file."""
    if len(blob) < 8:
        raise ValueError(f"{name}: {len(blob)} bytes, too short for the 8-byte header length")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > _MAX_HEADER or 8 + header_len > len(blob):
        raise ValueError(f"{name}: header length {header_len} does not fit the file's {len(blob)} bytes")
    try:
        header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{name}: the header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError(f"{name}: __metadata__ must map strings to strings")
    body = memoryview(blob)[8 + header_len:]
    spans = []
    for tname, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            raise ValueError(f"{name}: tensor '{tname}' lacks dtype, shape or data_offsets")
        begin, end = info["data_offsets"]
        if not (0 <= begin <= end <= len(body)):
            raise ValueError(f"{name}: tensor '{tname}' spans [{begin}, {end}) of a {len(body)}-byte buffer")
        spans.append((begin, end, tname, info))
    # The tensors must tile the buffer exactly, without gaps or overlaps (the spec's rule).
    spans.sort(key=lambda s: (s[0], s[1]))
    at = 0
    tensors = {}
    for begin, end, tname, info in spans:
        if begin != at:
            raise ValueError(f"{name}: tensor '{tname}' starts at {begin}, expected {at}")
        tensors[tname] = Entry(tname, info["dtype"], info["shape"], body[begin:end])
        at = end
    if at != len(body):
        raise ValueError(f"{name}: {len(body) - at} bytes after the last tensor")
    return tensors, dict(metadata)


def load(path):
    """(dict name -> Entry in file order, metadata dict) of a safetensors file."""
    with open(path, "rb") as f:
        return parse(f.read(), path)


def dumps(entries, metadata=None):
    """The bytes of a safetensors file holding `entries` (Entry objects) in order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    names = set()
    for e in entries:
        if e.name in names or e.name == "__metadata__":
            raise ValueError(f"dumps: duplicate or reserved tensor name '{e.name}'")
        names.add(e.name)
        header[e.name] = {"dtype": e.dtype, "shape": e.shape,
                          "data_offsets": [offset, offset + len(e.data)]}
        offset += len(e.data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the buffer starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(e.data for e in entries)


def save(path, entries, metadata=None):
    with open(path, "wb") as f:
        f.write(dumps(entries, metadata))


def load_for_torch(path, device=None):
    """(dict name -> torch tensor, metadata dict): with the safetensors package when installed."""
    try:
        from safetensors import safe_open
    except ImportError:
        safe_open = None
    if safe_open is not None:
        out = {}
        with safe_open(path, framework="pt") as f:
            metadata = dict(f.metadata() or {})
            for k in f.keys():
                out[k] = f.get_tensor(k)
        if device is not None:
            out = {k: v.to(device) for k, v in out.items()}
        return out, metadata
    entries, metadata = load(path)
    return {k: e.to_torch(device) for k, e in entries.items()}, metadata
