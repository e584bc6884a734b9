"""Saving and loading weights: our own checkpoints (.npz) and Hugging Face's .safetensors.

A model's weights are a *state dict*: a flat mapping from dotted parameter names
(``"encoder.layer.0.attention.self.query.weight"``) to NumPy arrays. This module
writes such a mapping to disk and reads it back, in two formats.

**.npz** is NumPy's own archive: a zip file holding one ``.npy`` file per array,
named after its key. We use it for minifm's checkpoints (``save`` / ``load``). It is
read with ``allow_pickle=False``, so opening a checkpoint can never run code.

**.safetensors** is the format the Hugging Face Hub uses for released models. It is
simple enough to read with NumPy alone, which is how a learner can load real BERT or
GPT-2 weights into a minifm model without installing torch. A file has three parts::

    byte 0          8                 8 + N                                 end
         +----------+-----------------+------------------------------------+
         |    N     |  header (JSON)  |  data: every tensor's raw bytes    |
         | uint64 LE|  N bytes, UTF-8 |  back to back, little-endian       |
         +----------+-----------------+------------------------------------+

The header is one JSON object. Each key is a tensor name and its value says how to cut
that tensor out of the data part::

    {"wte.weight": {"dtype": "F32", "shape": [50257, 768], "data_offsets": [0, 154389504]},
     "__metadata__": {"format": "pt"}}

``data_offsets`` are ``[begin, end)`` byte positions counted from the start of the
data part (not of the file), so ``end - begin`` must equal the number of elements
times the item size of ``dtype``. The optional ``"__metadata__"`` entry maps strings
to strings and describes no tensor. The writers of the format pad the header with
spaces so the data part starts at a multiple of 8 bytes, which keeps every array
aligned in memory.

BF16 ("brain float") has no NumPy dtype. It is simply the top 16 bits of a float32
(same sign and exponent, shorter mantissa), so we read the 16-bit patterns as uint16,
move them into the high half of a uint32, and view the result as float32: exact.
We can read BF16 but not write it.
"""

import json
import math
import os
import struct
import zipfile

import numpy as np

# safetensors dtype code -> NumPy dtype, always little-endian as the format requires.
SAFETENSORS_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),  # read as raw 16-bit patterns, widened to float32 by _bf16_to_float32
}
# (kind, itemsize) of a NumPy dtype -> the code we write; BF16 is read-only (NumPy has no bf16).
_CODE_OF_KIND = {(dt.kind, dt.itemsize): code
                 for code, dt in SAFETENSORS_DTYPES.items() if code != "BF16"}


def _as_array(name, value):
    """Return `value` as an ndarray; accept ndarrays, NumPy scalars and Tensor-likes (`.data`)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"state dict keys must be non-empty strings, got {name!r}")
    if isinstance(value, (np.ndarray, np.generic)):
        data = np.asarray(value)
    else:
        data = getattr(value, "data", value)  # a Tensor or Parameter holds its array in .data
    if not isinstance(data, np.ndarray):
        raise TypeError(f"state dict entry {name!r} must be a NumPy array (or a Tensor), "
                        f"got {type(value).__name__}")
    if data.dtype.kind not in "biuf":
        raise TypeError(f"state dict entry {name!r} has dtype {data.dtype}; "
                        "only bool, integer and floating-point arrays can be saved")
    return data


# ---------------------------------------------------------------- .npz checkpoints

def save(state_dict, path):
    """Write `state_dict` ({dotted.name: ndarray}) to `path`, which must end in ".npz".

    We refuse a path without the suffix instead of adding it (as ``np.savez`` would)
    so that the file lands exactly where the caller will later ``load`` it from.
    Names and dtypes are kept exactly; the arrays are stored uncompressed.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        raise ValueError(f"checkpoint path must end in '.npz', got {path!r}")
    arrays = {name: _as_array(name, value) for name, value in state_dict.items()}
    # An .npz is a zip of .npy files; writing it ourselves allows any key (even "file").
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(path):
    """Read a checkpoint written by `save`; returns {dotted.name: ndarray} in saved order."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


# ---------------------------------------------------------------- .safetensors

def _bf16_to_float32(bits):
    """Widen raw bfloat16 bit patterns (uint16) to float32: they are its top 16 bits."""
    widened = bits.astype(np.uint32)  # the one copy out of the file
    widened <<= 16
    return widened.view(np.float32)


def _check_entry(name, entry, data_size):
    """Validate one header entry; return (dtype code, shape, begin, end) or raise ValueError."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise ValueError(f"tensor {name!r}: header entry must hold 'dtype', 'shape' and "
                         f"'data_offsets', got {entry!r}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if code not in SAFETENSORS_DTYPES:
        raise ValueError(f"tensor {name!r}: unknown dtype {code!r}; "
                         f"supported: {', '.join(SAFETENSORS_DTYPES)}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise ValueError(f"tensor {name!r}: shape must be a list of non-negative ints, "
                         f"got {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int for o in offsets)):
        raise ValueError(f"tensor {name!r}: data_offsets must be [begin, end], got {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise ValueError(f"tensor {name!r}: data_offsets [{begin}, {end}] lie outside the "
                         f"data part, which holds {data_size} bytes")
    needed = math.prod(shape) * SAFETENSORS_DTYPES[code].itemsize
    if end - begin != needed:
        raise ValueError(f"tensor {name!r}: data_offsets [{begin}, {end}] cover {end - begin} "
                         f"bytes, but shape {shape} of {code} needs {needed}")
    return code, tuple(shape), begin, end


def _map_file(path):
    """Memory-map a file as a read-only uint8 array: bytes are read only when touched."""
    size = os.path.getsize(path)
    if size < 8:
        raise ValueError(f"{path!r} is {size} bytes long: too short for a safetensors file")
    # view(np.ndarray) so that arrays cut from it are plain ndarrays, not np.memmap
    return np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)


def _read_header(raw, path):
    """Parse the length prefix and JSON header from the file's bytes `raw` (a uint8 array)."""
    (header_size,) = struct.unpack("<Q", raw[:8].tobytes())
    if header_size > raw.size - 8:
        raise ValueError(f"{path!r}: header length {header_size} runs past the end of the "
                         f"file ({raw.size} bytes)")
    try:
        header = json.loads(raw[8:8 + header_size].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path!r}: header is not valid UTF-8 JSON ({error})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path!r}: header must be a JSON object, got {type(header).__name__}")
    return header, 8 + header_size


def load_safetensors(path, dtype=None):
    """Read a .safetensors file into {name: ndarray}, using NumPy only.

    The file is memory-mapped and each tensor is copied out of it once, so the
    returned arrays are ordinary writable arrays and the mapping is released when
    this function returns. BF16 tensors come back as float32. With ``dtype`` (e.g.
    ``np.float32``) every floating-point tensor is cast to it; integer and bool
    tensors keep their dtype, so an int64 ``position_ids`` buffer stays int64. The
    ``__metadata__`` entry is not returned (read it with ``safetensors_metadata``).
    """
    path = os.fspath(path)
    target = None if dtype is None else np.dtype(dtype)
    if target is not None and target.kind != "f":
        raise ValueError(f"dtype must be a floating-point dtype, got {target}")
    raw = _map_file(path)
    header, data_start = _read_header(raw, path)
    data = raw[data_start:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        code, shape, begin, end = _check_entry(name, entry, data.size)
        array = data[begin:end].view(SAFETENSORS_DTYPES[code]).reshape(shape)
        if code == "BF16":
            array = _bf16_to_float32(array)  # already a fresh copy
        keep = array.dtype.newbyteorder("=")  # native byte order, same precision
        if target is not None and array.dtype.kind == "f":
            keep = target
        tensors[name] = array.astype(keep, copy=code != "BF16")  # copy off the file
    return tensors


def safetensors_metadata(path):
    """Return the optional string-to-string "__metadata__" entry of a .safetensors file."""
    path = os.fspath(path)
    header, _ = _read_header(_map_file(path), path)
    return dict(header.get("__metadata__") or {})


def save_safetensors(state_dict, path, metadata=None):
    """Write `state_dict` ({name: ndarray}) as a .safetensors file that other tools can read.

    Supports float64/32/16, signed and unsigned 8- to 64-bit integers and bool (no BF16:
    NumPy has no such dtype). `metadata`, if given, must map strings to strings. Tensors
    are stored largest item size first, then by name, so each starts aligned.
    """
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise TypeError(f"metadata must be a dict of str to str, got {metadata!r}")
    arrays = {}
    for name, value in state_dict.items():
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved for the metadata entry; rename the tensor")
        array = _as_array(name, value)
        if (array.dtype.kind, array.dtype.itemsize) not in _CODE_OF_KIND:
            raise TypeError(f"tensor {name!r}: dtype {array.dtype} has no safetensors code")
        arrays[name] = array
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))

    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name in order:
        array = arrays[name]
        code = _CODE_OF_KIND[(array.dtype.kind, array.dtype.itemsize)]
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # pad so the data part starts 8-aligned

    with open(os.fspath(path), "wb") as file:
        file.write(struct.pack("<Q", len(header_bytes)))
        file.write(header_bytes)
        for name in order:
            array = arrays[name]
            little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            file.write(little.reshape(-1).view(np.uint8).data)  # raw bytes, no extra copy
