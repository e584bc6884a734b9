"""BERT (Devlin et al. 2018): a bidirectional transformer encoder, pre-trained on unlabelled
text with two self-supervised tasks, then fine-tuned with one extra layer.

    input     [CLS] my dog is [MASK] [SEP] he likes play ##ing [SEP]
    segments    0    0   0   0    0     0    1    1    1     1     1
    embedding = word + position (learned) + segment, then LayerNorm and dropout
    encoder   = post-LN transformer layers, exact GELU, attention sees both directions
    heads     : MLM  - predict the original word at the masked positions
                NSP  - from [CLS]: is sentence B the real next sentence? (pooled: tanh(dense))
                fine-tuning: one Linear on the pooled [CLS] vector

Shape letters: B batch, T time, C hidden size, V vocabulary.

Parameter names follow Hugging Face's BERT checkpoints (`embeddings.word_embeddings`,
`pooler.dense`, ...) except inside the encoder layers, which are the shared
`TransformerLayer`; `hf_to_minifm_key` maps a checkpoint's names onto ours, so
`BertModel.from_pretrained(directory)` loads real weights, and `sentence_embeddings`
turns texts into unit vectors the way Sentence-Transformers does (mean over real tokens).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import nn
from ..attention import padding_mask
from ..data import pad_batch
from ..io import load_safetensors
from ..tensor import no_grad
from .transformer import ACTIVATIONS, TransformerLayer, check_activation, normal_init_


@dataclass
class BertConfig:
    """Field names are Hugging Face's, so a checkpoint's config.json reads straight in."""
    vocab_size: int = 1000
    hidden_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 512           # 4 x hidden_size, as in BERT
    max_position_embeddings: int = 128     # BERT: 512
    type_vocab_size: int = 2               # segments A and B (RoBERTa: 1)
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02        # std of the N(0, std) initial weights
    hidden_act: str = "gelu"               # exact GELU (HF); Google's TF code used the tanh form
    pad_token_id: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> "BertConfig":
        """Keep the keys we know (config.json files carry many more)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig, rng):
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C, rng=rng)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, C, rng=rng)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C, rng=rng)
        self.LayerNorm = nn.LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob, rng=rng)
        self.max_positions = config.max_position_embeddings

    def forward(self, ids, token_type_ids=None):
        B, T = ids.shape
        if T > self.max_positions:
            raise ValueError(f"BERT: sequence of {T} tokens is longer than max_position_embeddings "
                             f"({self.max_positions})")
        token_type_ids = np.zeros_like(ids) if token_type_ids is None else token_type_ids
        x = (self.word_embeddings(ids)                        # (B, T, C)
             + self.position_embeddings(np.arange(T))         # (T, C), broadcast over B
             + self.token_type_embeddings(token_type_ids))    # (B, T, C)
        return self.dropout(self.LayerNorm(x))


class BertPooler(nn.Module):
    """The sentence vector: tanh(dense(h_[CLS])), trained by NSP."""

    def __init__(self, config: BertConfig, rng):
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, rng=rng)

    def forward(self, hidden):
        return F.tanh(self.dense(hidden[:, 0]))  # (B, C)


class BertModel(nn.Module):
    """Embeddings -> N post-LN encoder layers -> (hidden states, pooled [CLS])."""

    def __init__(self, config: BertConfig, rng: np.random.Generator):
        check_activation(config.hidden_act)
        self.config = config
        self.embeddings = BertEmbeddings(config, rng)
        self.encoder = nn.ModuleList([
            TransformerLayer(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                             norm_first=False, activation=config.hidden_act, eps=config.layer_norm_eps,
                             dropout=config.hidden_dropout_prob,
                             attention_dropout=config.attention_probs_dropout_prob, rng=rng)
            for _ in range(config.num_hidden_layers)])
        self.pooler = BertPooler(config, rng)
        normal_init_(self, config.initializer_range, rng)
        self.embeddings.word_embeddings.weight.data[config.pad_token_id] = 0.0  # as HF: [PAD] starts at 0

    def forward(self, ids, token_type_ids=None, attention_mask=None, return_weights: bool = False):
        """ids (B, T) -> hidden (B, T, C), pooled (B, C) [, attention per layer].

        attention_mask: (B, T) boolean, True = a real token; default: ids != [PAD].
        """
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"BERT expects token ids of shape (B, T), got {ids.shape}")
        if attention_mask is None:
            mask = padding_mask(ids, self.config.pad_token_id)            # (B, 1, 1, T)
        else:
            mask = np.asarray(attention_mask, dtype=bool)[:, None, None, :]  # (B, 1, 1, T)
        x = self.embeddings(ids, token_type_ids)
        weights = []
        for layer in self.encoder:
            x = layer(x, mask, return_weights=return_weights)
            if return_weights:
                x, w = x
                weights.append(w)
        pooled = self.pooler(x)
        return (x, pooled, weights) if return_weights else (x, pooled)

    @classmethod
    def from_pretrained(cls, directory) -> "BertModel":
        """Load a Hugging Face BERT directory (config.json + model.safetensors)."""
        directory = Path(directory)
        config = BertConfig.from_dict(json.loads((directory / "config.json").read_text(encoding="utf-8")))
        model = cls(config, np.random.default_rng(0))
        state = {hf_to_minifm_key(k): v for k, v in load_safetensors(directory / "model.safetensors",
                                                                      dtype=np.float32).items()}
        state = {k: v for k, v in state.items() if k in dict(model._all_parameters(""))}
        model.load_state_dict(state)
        return model.eval()


class BertMLMHead(nn.Module):
    """dense -> GELU -> LayerNorm -> decoder tied to the word embeddings, plus its own bias."""

    def __init__(self, config: BertConfig, word_embeddings: nn.Parameter, rng):
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, rng=rng)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder_weight = word_embeddings  # tied: the same Parameter object, (V, C)
        self.bias = nn.Parameter(np.zeros(config.vocab_size, dtype=np.float32))
        self.activation = config.hidden_act

    def forward(self, hidden):
        h = self.LayerNorm(ACTIVATIONS[self.activation](self.dense(hidden)))  # (B, T, C)
        return F.linear(h, self.decoder_weight, self.bias)                  # (B, T, V)


class BertForPreTraining(nn.Module):
    """BERT with its two pre-training heads: masked LM and next-sentence prediction."""

    def __init__(self, config: BertConfig, rng: np.random.Generator):
        self.bert = BertModel(config, rng)
        self.mlm = BertMLMHead(config, self.bert.embeddings.word_embeddings.weight, rng)
        self.nsp = nn.Linear(config.hidden_size, 2, rng=rng)
        normal_init_(self.mlm, config.initializer_range, rng)
        normal_init_(self.nsp, config.initializer_range, rng)

    def forward(self, ids, token_type_ids=None, attention_mask=None):
        """-> MLM logits (B, T, V), NSP logits (B, 2)."""
        hidden, pooled = self.bert(ids, token_type_ids, attention_mask)
        return self.mlm(hidden), self.nsp(pooled)


def sentence_embeddings(model: BertModel, tokenizer, texts) -> np.ndarray:
    """One vector per text, as Sentence-Transformers makes them: (S, C), each of length 1.

    The mean of the last hidden states over the real tokens (padding left out), scaled
    to unit length, so that a dot product of two of them is their cosine similarity.
    `tokenizer` is a WordPieceTokenizer; each text is encoded as [CLS] text [SEP].
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError(f"sentence_embeddings expects a non-empty list of texts, got {texts!r}")
    ids, real = pad_batch([tokenizer.encode_pair(text)[0] for text in texts], tokenizer.pad_id)
    with no_grad():
        hidden = model(ids, attention_mask=real)[0].data                   # (S, T, C)
    means = (hidden * real[..., None]).sum(1) / real.sum(1, keepdims=True)  # (S, C)
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def pretraining_loss(mlm_logits, mlm_targets, nsp_logits=None, nsp_labels=None):
    """BERT's loss: MLM cross-entropy on the chosen positions (-100 elsewhere) + NSP's."""
    loss = F.cross_entropy(mlm_logits, mlm_targets)
    if nsp_logits is not None:
        loss = loss + F.cross_entropy(nsp_logits, nsp_labels)
    return loss


class BertForSequenceClassification(nn.Module):
    """Fine-tuning: dropout, then one Linear layer on the pooled [CLS] vector."""

    def __init__(self, config: BertConfig, num_labels: int, rng: np.random.Generator, bert: BertModel = None):
        self.bert = bert if bert is not None else BertModel(config, rng)
        self.dropout = nn.Dropout(config.hidden_dropout_prob, rng=rng)
        self.classifier = nn.Linear(config.hidden_size, num_labels, rng=rng)
        normal_init_(self.classifier, config.initializer_range, rng)

    def forward(self, ids, token_type_ids=None, attention_mask=None):
        _, pooled = self.bert(ids, token_type_ids, attention_mask)
        return self.classifier(self.dropout(pooled))  # (B, num_labels)


# Hugging Face name -> ours, applied in order. Only the inside of a layer differs.
_HF_RENAMES = [
    (r"^(bert|model)\.", ""),
    (r"\.gamma$", ".weight"), (r"\.beta$", ".bias"),              # old TF-converted checkpoints
    (r"^encoder\.layer\.(\d+)\.", r"encoder.\1."),
    (r"attention\.self\.(query|key|value)", r"attention.\1"),
    (r"attention\.output\.dense", "attention.output"),
    (r"attention\.output\.LayerNorm", "attention_norm"),
    (r"intermediate\.dense", "ffn.up"),
    (r"(\d+)\.output\.dense", r"\1.ffn.down"),
    (r"(\d+)\.output\.LayerNorm", r"\1.ffn_norm"),
    (r"^cls\.predictions\.transform\.", "mlm."),
    (r"^cls\.predictions\.decoder\.weight$", "mlm.decoder_weight"),  # tied to the word embeddings
    (r"^cls\.predictions\.decoder\.bias$", "mlm.bias"),
    (r"^cls\.predictions\.bias", "mlm.bias"),
    (r"^cls\.seq_relationship\.", "nsp."),
]


def hf_to_minifm_key(key: str) -> str:
    """'encoder.layer.3.attention.self.query.weight' -> 'encoder.3.attention.query.weight'."""
    for pattern, replacement in _HF_RENAMES:
        key = re.sub(pattern, replacement, key)
    return key
