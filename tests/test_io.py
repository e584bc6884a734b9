"""Checkpoints (.npz) and .safetensors: round trips, a hand-built file, and malformed files."""

import json
import struct

import numpy as np
import pytest

import minifm as mf
from minifm import io


def sample_state_dict():
    rng = np.random.default_rng(0)
    return {
        "embeddings.word_embeddings.weight": rng.standard_normal((5, 3)).astype(np.float32),
        "encoder.layer.0.output.dense.bias": rng.standard_normal(3),  # float64
        "half": np.array([1.5, -0.25], dtype=np.float16),
        "position_ids": np.arange(4, dtype=np.int64).reshape(1, 4),
        "counts": np.array([7, -8], dtype=np.int32),
        "bytes": np.array([0, 255], dtype=np.uint8),
        "mask": np.array([[True, False]]),
        "scalar": np.float32(2.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "file": np.ones(2),  # a name np.savez(**kwargs) could not take
    }


def assert_same_state(loaded, expected):
    assert list(loaded) == list(expected)
    for name, value in expected.items():
        value = np.asarray(value)
        assert loaded[name].dtype == value.dtype, name
        assert loaded[name].shape == value.shape, name
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)


# ---------------------------------------------------------------- .npz

def test_npz_round_trip_keeps_names_dtypes_and_order(tmp_path):
    state = sample_state_dict()
    io.save(state, tmp_path / "ckpt.npz")
    assert_same_state(io.load(tmp_path / "ckpt.npz"), state)


def test_npz_accepts_tensors_as_values(tmp_path):
    weight = mf.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    io.save({"w": weight}, str(tmp_path / "t.npz"))
    np.testing.assert_array_equal(io.load(tmp_path / "t.npz")["w"], weight.data)


def test_npz_requires_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz"):
        io.save({"w": np.zeros(2)}, tmp_path / "ckpt.bin")


@pytest.mark.parametrize("value, message", [
    ([1.0, 2.0], "NumPy array"),
    ("abc", "NumPy array"),
    (np.array([object()]), "dtype object"),
    (np.array(["a"]), "dtype <U1"),
])
def test_save_rejects_non_arrays(tmp_path, value, message):
    with pytest.raises(TypeError, match=f"'bad'.*{message}"):
        io.save({"bad": value}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=f"'bad'.*{message}"):
        io.save_safetensors({"bad": value}, tmp_path / "x.safetensors")


def test_save_rejects_non_string_keys(tmp_path):
    with pytest.raises(TypeError, match="keys must be non-empty strings"):
        io.save({3: np.zeros(2)}, tmp_path / "x.npz")


# ---------------------------------------------------------------- .safetensors by hand

def write_safetensors(path, header, data, pad=True):
    """Lay out a file exactly as the format says: u64 LE length, JSON header, data."""
    header_bytes = json.dumps(header).encode("utf-8")
    if pad:
        header_bytes += b" " * (-len(header_bytes) % 8)
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
    return path


def hand_built_file(tmp_path, pad=True):
    f16 = struct.pack("<3e", 1.0, -2.5, 0.5)  # 6 bytes: the F32 below is not 4-aligned
    # bfloat16 = top 16 bits of float32: 1.0 = 0x3F800000, -2.0 = 0xC0000000,
    # 0.5 = 0x3F000000, 3.0 = 0x40400000 (all exact: their low halves are zero)
    bf16 = struct.pack("<4H", 0x3F80, 0xC000, 0x3F00, 0x4040)
    i64 = struct.pack("<4q", 1, -2, 3, 2**40)
    f32 = struct.pack("<2f", 0.25, -1.5)
    header = {
        "__metadata__": {"format": "pt", "note": "built by hand"},
        "half": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
        "brain": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [6, 14]},
        "ids": {"dtype": "I64", "shape": [2, 2], "data_offsets": [14, 46]},
        "single": {"dtype": "F32", "shape": [2], "data_offsets": [46, 54]},
    }
    return write_safetensors(tmp_path / "hand.safetensors", header, f16 + bf16 + i64 + f32, pad)


@pytest.mark.parametrize("pad", [True, False])
def test_load_hand_built_safetensors(tmp_path, pad):
    tensors = io.load_safetensors(hand_built_file(tmp_path, pad))
    assert list(tensors) == ["half", "brain", "ids", "single"]  # metadata is not a tensor
    assert tensors["half"].dtype == np.float16
    np.testing.assert_array_equal(tensors["half"], [1.0, -2.5, 0.5])
    assert tensors["brain"].dtype == np.float32
    np.testing.assert_array_equal(tensors["brain"], [[1.0, -2.0], [0.5, 3.0]])
    assert tensors["ids"].dtype == np.int64
    np.testing.assert_array_equal(tensors["ids"], [[1, -2], [3, 2**40]])
    assert tensors["single"].dtype == np.float32
    np.testing.assert_array_equal(tensors["single"], [0.25, -1.5])
    tensors["single"][0] = 9.0  # returned arrays are ordinary, writable copies


def test_load_safetensors_metadata_and_dtype_cast(tmp_path):
    path = hand_built_file(tmp_path)
    assert io.safetensors_metadata(path) == {"format": "pt", "note": "built by hand"}
    tensors = io.load_safetensors(path, dtype=np.float32)
    assert tensors["half"].dtype == np.float32  # floats are cast ...
    np.testing.assert_array_equal(tensors["half"], [1.0, -2.5, 0.5])
    assert tensors["ids"].dtype == np.int64  # ... integers are left alone
    with pytest.raises(ValueError, match="floating-point dtype"):
        io.load_safetensors(path, dtype=np.int32)


def test_safetensors_round_trip(tmp_path):
    state = sample_state_dict()
    path = tmp_path / "model.safetensors"
    io.save_safetensors(state, path, metadata={"format": "np"})
    expected = {name: state[name] for name in io.load_safetensors(path)}  # file order
    assert set(expected) == set(state)
    assert_same_state(io.load_safetensors(path), expected)
    assert io.safetensors_metadata(path) == {"format": "np"}


def test_save_safetensors_layout(tmp_path):
    path = tmp_path / "layout.safetensors"
    io.save_safetensors({"b": np.ones(3, np.float16), "a": np.ones(2, np.float64)}, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0  # header padded with spaces so the data starts 8-aligned
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert "__metadata__" not in header
    assert header["a"] == {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}
    assert header["b"] == {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]}
    assert len(raw) == 8 + n + 22


@pytest.mark.parametrize("state, metadata, error, message", [
    ({"__metadata__": np.zeros(1)}, None, ValueError, "reserved"),
    ({"w": np.zeros(1, np.complex64)}, None, TypeError, "complex64"),
    ({"w": np.zeros(1)}, {"step": 3}, TypeError, "metadata"),
])
def test_save_safetensors_rejects(tmp_path, state, metadata, error, message):
    with pytest.raises(error, match=message):
        io.save_safetensors(state, tmp_path / "x.safetensors", metadata=metadata)


# ---------------------------------------------------------------- malformed files

F32_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("header, data, message", [
    ({"w": {**F32_ENTRY, "dtype": "Q42"}}, bytes(8), "'w'.*unknown dtype 'Q42'"),
    ({"w": {**F32_ENTRY, "data_offsets": [0, 16]}}, bytes(8), "'w'.*outside the data part"),
    ({"w": {**F32_ENTRY, "data_offsets": [4, 2]}}, bytes(8), "'w'.*outside the data part"),
    ({"w": {**F32_ENTRY, "shape": [3]}}, bytes(8), "'w'.*cover 8 bytes.*needs 12"),
    ({"w": {**F32_ENTRY, "shape": [-2]}}, bytes(8), "'w'.*shape"),
    ({"w": {**F32_ENTRY, "data_offsets": [0]}}, bytes(8), "'w'.*data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2]}}, bytes(8), "'w'.*must hold"),
    ([1, 2], b"", "JSON object"),
])
def test_malformed_header_entries(tmp_path, header, data, message):
    path = write_safetensors(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match=message):
        io.load_safetensors(path)


def test_header_length_beyond_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(ValueError, match="header length 1000 runs past the end"):
        io.load_safetensors(path)


def test_header_not_json(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 4) + b"{oops")
    with pytest.raises(ValueError, match="not valid UTF-8 JSON"):
        io.load_safetensors(path)


def test_file_too_short(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match="too short"):
        io.load_safetensors(path)
