"""Loading the toy world and cutting it into batches.

The toy world (`data/toy_world/`, made by `python data/make_toy_world.py`) holds:

- documents: short stories on six topics, each a list of sentences in order;
- spam: labelled messages (1 = spam, 0 = not spam);
- names: two-word city and person names whose halves depend on each other.

Every lesson reads its text from here, turns it into token ids with a tokenizer, and
feeds the model with the batching helpers below:

- `pad_batch` makes one rectangular (B, T) array from sequences of different lengths,
  plus the attention mask that tells the model which positions are real tokens;
- `minibatches` yields the index arrays of one epoch;
- `balanced_subset` picks a few labelled examples with the classes balanced, for the
  "only 32 labels" experiments;
- `random_windows` and `consecutive_windows` cut fixed-length (B, T) windows from one
  long token stream: random ones to train a language model, back-to-back ones to
  evaluate it on every token once.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "toy_world"   # <repo root>/data/toy_world
REGENERATE = "python data/make_toy_world.py"


@dataclass
class Document:
    """One story of the toy world: its id, its topic and its sentences in order."""
    id: int
    topic: str
    sentences: list[str]


@dataclass(frozen=True)
class Name:
    """A two-word name, e.g. Name("city", "new", "york"); `text` is "new york"."""
    kind: str      # "city" or "person"
    first: str
    second: str

    @property
    def text(self) -> str:
        return f"{self.first} {self.second}"


# ---------------------------------------------------------------------------------
# Finding and reading the files
# ---------------------------------------------------------------------------------

def data_dir() -> Path:
    """The folder of the toy world (DATA_DIR), with a clear error if it is missing."""
    if not DATA_DIR.is_dir():
        raise FileNotFoundError(f"the toy world is missing: no folder {DATA_DIR}. "
                                f"Regenerate it from the repository root with: {REGENERATE}")
    return DATA_DIR


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _read_jsonl(name: str) -> list[dict]:
    path = data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}. Regenerate the toy world with: {REGENERATE}")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------

def load_documents(split: str = "train") -> list[Document]:
    """The stories of one split ("train", "valid" or "test")."""
    _check_split(split)
    return [Document(row["id"], row["topic"], row["sentences"]) for row in _read_jsonl(f"docs_{split}.jsonl")]


def load_spam(split: str = "train") -> tuple[list[str], np.ndarray]:
    """Messages and their labels (int64, 1 = spam, 0 = not spam)."""
    _check_split(split)
    rows = _read_jsonl(f"spam_{split}.jsonl")
    return [row["text"] for row in rows], np.array([row["label"] for row in rows], dtype=np.int64)


def load_topic_labels(split: str = "train") -> tuple[list[str], np.ndarray, list[str]]:
    """Each document as one text, its topic id (int64) and the topic names.

    Topic ids index `topic_names`, the sorted topics of the training split, so the
    ids mean the same in every split.
    """
    _check_split(split)
    topic_names = sorted({doc.topic for doc in load_documents("train")})
    docs = load_documents(split)
    texts = [" ".join(doc.sentences) for doc in docs]
    labels = np.array([topic_names.index(doc.topic) for doc in docs], dtype=np.int64)
    return texts, labels, topic_names


def load_names(kind: str | None = None) -> list[Name]:
    """The two-word names of the world: kind "city", "person" or None for both."""
    if kind not in (None, "city", "person"):
        raise ValueError(f"kind must be 'city', 'person' or None, got {kind!r}")
    path = data_dir() / "names.json"
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}. Regenerate the toy world with: {REGENERATE}")
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    names = ([Name("city", *pair) for pair in table["cities"]]
             + [Name("person", *pair) for pair in table["people"]])
    return [name for name in names if kind is None or name.kind == kind]


def corpus_sentences(split: str = "train") -> list[str]:
    """Every sentence of the split's documents, in order: the text to train a tokenizer on."""
    return [sentence for doc in load_documents(split) for sentence in doc.sentences]


# ---------------------------------------------------------------------------------
# Batching
# ---------------------------------------------------------------------------------

def pad_batch(sequences, pad_id: int, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack token-id sequences of different lengths into one (B, T) batch.

    T is the longest length, capped at max_len if given (longer sequences are cut).
    Returns ids (B, T) int64, filled with pad_id after each sequence's end, and
    attention_mask (B, T) bool, True where there is a real token.
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch needs at least one sequence, got an empty batch")
    if not isinstance(pad_id, (int, np.integer)) or isinstance(pad_id, bool):
        raise TypeError(f"pad_id must be an integer token id, got {pad_id!r}")
    if max_len is not None and (not isinstance(max_len, (int, np.integer)) or max_len < 1):
        raise ValueError(f"max_len must be a positive integer or None, got {max_len!r}")
    arrays = []
    for i, seq in enumerate(sequences):
        array = np.asarray(seq)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"sequence {i} must be a 1-D list of integer ids, got shape {array.shape} "
                            f"and dtype {array.dtype}")
        arrays.append(array.astype(np.int64))
    T = max(len(a) for a in arrays)
    if max_len is not None:
        T = min(T, int(max_len))
    if T == 0:
        raise ValueError("every sequence in the batch is empty: nothing to pad")
    ids = np.full((len(arrays), T), pad_id, dtype=np.int64)      # (B, T)
    attention_mask = np.zeros((len(arrays), T), dtype=bool)      # (B, T)
    for row, array in enumerate(arrays):
        length = min(len(array), T)
        ids[row, :length] = array[:length]
        attention_mask[row, :length] = True
    return ids, attention_mask


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None = None,
                shuffle: bool = True, drop_last: bool = False):
    """Index arrays that cover range(n) once, batch_size at a time: one epoch.

    With shuffle=True the order is a fresh permutation from rng (required then).
    drop_last=True skips a last batch smaller than batch_size. Bad arguments fail here,
    at the call, not later when the batches are first read.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if shuffle and not isinstance(rng, np.random.Generator):
        raise TypeError(f"shuffle=True needs rng, a np.random.Generator, got {rng!r}")
    order = rng.permutation(n) if shuffle else np.arange(n)
    end = n - n % batch_size if drop_last else n
    return (order[start:start + batch_size] for start in range(0, end, batch_size))


def _check_stream(stream, length: int) -> np.ndarray:
    stream = np.asarray(stream)
    if stream.ndim != 1:
        raise ValueError(f"a token stream must be 1-D, got shape {stream.shape}")
    if not isinstance(length, (int, np.integer)) or not 1 <= length <= len(stream):
        raise ValueError(f"window length must be an integer from 1 to {len(stream)} (the stream's length), "
                         f"got {length!r}")
    return stream


def random_windows(stream, length: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """batch_size windows of `length` tokens from a 1-D stream, each starting at a random
    place (uniform over 0 .. len(stream) - length - 1): a (batch_size, length) array."""
    stream = _check_stream(stream, length)
    if length == len(stream):
        raise ValueError(f"window length {length} leaves no room to move in a stream of {len(stream)} tokens")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {rng!r}")
    starts = rng.integers(0, len(stream) - length, batch_size)   # (B,)
    return stream[starts[:, None] + np.arange(length)]           # (B, T)


def consecutive_windows(stream, length: int) -> np.ndarray:
    """The stream cut into back-to-back windows of `length` tokens, (N, length); a tail
    shorter than `length` is dropped. Scoring every window scores each token once."""
    stream = _check_stream(stream, length)
    return stream[:len(stream) // length * length].reshape(-1, length)


def balanced_subset(labels, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (sorted, int64) of n examples whose classes are as balanced as possible.

    Each class gets n // K examples (K classes), the remainder goes one each to randomly
    chosen classes, and a class too small for its share gives the rest to the others.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if not isinstance(n, (int, np.integer)) or not 0 <= n <= len(labels):
        raise ValueError(f"n must be an integer from 0 to {len(labels)} (the number of labels), got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {rng!r}")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    classes = rng.permutation(np.unique(labels))            # random order: who gets the remainder
    available = {c: np.flatnonzero(labels == c) for c in classes}
    share = dict.fromkeys(classes, 0)
    remaining = n
    while remaining > 0:  # deal one example at a time to every class that still has some
        for c in classes:
            if remaining > 0 and share[c] < len(available[c]):
                share[c] += 1
                remaining -= 1
    chosen = [rng.choice(available[c], size=share[c], replace=False) for c in classes]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
