"""minifm.nn: parameter discovery, state dicts, modes, layers."""

import numpy as np
import pytest

import minifm as mf
import minifm.functional as F
from minifm import nn


class Block(nn.Module):
    def __init__(self, rng):
        self.dense = nn.Linear(4, 4, rng=rng)
        self.norm = nn.LayerNorm(4)
        self.drop = nn.Dropout(0.5, rng=rng)

    def forward(self, x):
        return self.norm(x + self.drop(F.gelu(self.dense(x))))


class TinyModel(nn.Module):
    def __init__(self, rng):
        self.embed = nn.Embedding(10, 4, rng=rng)
        self.layers = nn.ModuleList([Block(rng), Block(rng)])
        self.head = nn.Linear(4, 10, bias=False, rng=rng)
        self.head.weight = self.embed.weight  # tied, as BERT's decoder and GPT's lm_head

    def forward(self, ids):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


@pytest.fixture
def model():
    return TinyModel(np.random.default_rng(0))


def test_dotted_names_and_tied_weights(model):
    names = [n for n, _ in model.named_parameters()]
    assert names[:3] == ["embed.weight", "layers.0.dense.weight", "layers.0.dense.bias"]
    assert "head.weight" not in names  # a shared parameter is listed once
    assert "head.weight" in model.state_dict()  # but saved under each name, as in PyTorch
    assert model.num_parameters() == 10 * 4 + 2 * (4 * 4 + 4 + 4 + 4)


def test_state_dict_round_trip_keeps_ties(model):
    other = TinyModel(np.random.default_rng(1))
    other.load_state_dict(model.state_dict())
    ids = np.array([[1, 2, 3]])
    model.eval(), other.eval()
    np.testing.assert_allclose(other(ids).data, model(ids).data)
    assert other.head.weight is other.embed.weight


def test_load_state_dict_errors(model):
    state = model.state_dict()
    state["layers.0.dense.weight"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"layers.0.dense.weight has shape \(4, 5\) in the checkpoint"):
        model.load_state_dict(state)
    with pytest.raises(KeyError, match="missing"):
        model.load_state_dict({"embed.weight": np.zeros((10, 4))})
    missing, unexpected = model.load_state_dict({"embed.weight": np.zeros((10, 4)), "extra": 1}, strict=False)
    assert "head.weight" in missing and unexpected == ["extra"]


def test_train_eval_reaches_every_module(model):
    model.eval()
    assert not model.layers[1].drop.training
    ids = np.array([[1, 2]])
    np.testing.assert_array_equal(model(ids).data, model(ids).data)  # no dropout: deterministic
    model.train()
    assert model.layers[0].drop.training


def test_gradients_reach_every_parameter_and_check_out(model):
    model.astype(np.float64).eval()
    ids, targets = np.array([[1, 2, 3], [4, 4, 0]]), np.array([[2, 3, 4], [4, 0, 1]])
    assert mf.gradcheck(lambda *params: F.cross_entropy(model(ids), targets), model.parameters())
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_sequential_and_module_list():
    rng = np.random.default_rng(0)
    mlp = nn.Sequential(nn.Linear(2, 8, rng=rng), nn.ReLU(), nn.Linear(8, 3, rng=rng))
    assert len(mlp) == 3 and isinstance(mlp[-1], nn.Linear)
    assert mlp(mf.Tensor(np.ones((5, 2), dtype=np.float32))).shape == (5, 3)
    assert [n for n, _ in mlp.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "Linear(in_features=2, out_features=8, bias=True)" in repr(mlp)


def test_linear_init_matches_pytorch_bounds():
    layer = nn.Linear(100, 50, rng=np.random.default_rng(0))
    assert layer.weight.shape == (50, 100) and layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= 0.1 and np.abs(layer.weight.data).max() > 0.09


def test_layers_need_an_explicit_rng():
    with pytest.raises(TypeError, match="rng=np.random.default_rng"):
        nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"\[0, 1\), got 1.5"):
        nn.Dropout(1.5, rng=np.random.default_rng(0))


def test_norm_layers():
    x = mf.Tensor(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32) * 5 + 2)
    y = nn.LayerNorm(8)(x).data
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=-1), 1, atol=1e-3)
    z = nn.RMSNorm(8)(x).data
    np.testing.assert_allclose(np.sqrt((z * z).mean(axis=-1)), 1, atol=1e-3)
