"""Tokenizers: turning text into integer ids and back.

A model never sees letters, only integers. A tokenizer fixes a vocabulary (a list of
strings; a string's position in the list is its id) and two maps: `encode` cuts text
into vocabulary entries and returns their ids, `decode` turns ids back into text.

Two tokenizers live here, sharing everything but how they cut text:

* `CharTokenizer`: every character is one token. Tiny vocabulary, long sequences.
* `WordPieceTokenizer`: BERT's subword scheme. Frequent words are single tokens, rare
  words are spelled with pieces (`unaffable` -> `un ##aff ##able`, where `##` marks a
  piece that continues a word). Its vocabulary is learned from a corpus with `train`,
  or read from a real BERT `vocab.txt` with `from_vocab_file`.

Special tokens. `[PAD] [UNK] [CLS] [SEP] [MASK]` get ids 0..4 in every vocabulary we
build (a real BERT file puts them elsewhere, so ids are always looked up by name).
Models add their own specials (T5's `<extra_id_0>`, BART's `<s>`, ...) with
`add_special_tokens`; they go at the end of the vocabulary, and when one appears in
text passed to `encode` it is kept whole, never cut into pieces.
"""

import json
import re
import unicodedata
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

PAD = "[PAD]"    # fills short sequences up to the batch length
UNK = "[UNK]"    # stands for anything the vocabulary cannot spell
CLS = "[CLS]"    # first token of a BERT input; its final state summarises the input
SEP = "[SEP]"    # ends a segment
MASK = "[MASK]"  # hides a token for masked language modelling
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)

# Punctuation that decode glues to the previous word ("york ," -> "york,").
_NO_SPACE_BEFORE = frozenset(".,?!;:")


def _check_text(text, name="text"):
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")


# ---------------------------------------------------------------------------------
# The shared base: vocabulary, special tokens, encode / decode
# ---------------------------------------------------------------------------------

class Tokenizer:
    """Vocabulary and special-token handling shared by every tokenizer.

    A subclass only says how to cut plain text into tokens (`_tokenize_text`) and how
    to glue tokens back into text (`_join_tokens`).
    """

    def __init__(self, tokens):
        self._id_to_token = list(tokens)
        self._token_to_id = {tok: i for i, tok in enumerate(self._id_to_token)}
        missing = [tok for tok in SPECIAL_TOKENS if tok not in self._token_to_id]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            self._token_to_id[tok] for tok in SPECIAL_TOKENS)
        self._special_tokens = list(SPECIAL_TOKENS)
        self._update_special_pattern()

    @property
    def vocab_size(self):
        return len(self._id_to_token)

    @property
    def special_ids(self):
        """Sorted ids of all special tokens: the five base ones and any added later."""
        return np.array(sorted(self._token_to_id[t] for t in self._special_tokens), dtype=np.int64)

    @property
    def special_tokens(self):
        return list(self._special_tokens)

    def token_to_id(self, token):
        """Id of `token`; a string outside the vocabulary maps to [UNK]'s id."""
        _check_text(token, "token")
        return self._token_to_id.get(token, self.unk_id)

    def id_to_token(self, i):
        """The vocabulary string with id `i`."""
        self._check_ids([i])
        return self._id_to_token[int(i)]

    def add_special_tokens(self, tokens):
        """Append special tokens at the end of the vocabulary and return their ids.

        A token already in the vocabulary keeps its id and is from now on special.
        """
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"add_special_tokens expects a list of str such as ['<s>', '</s>'], "
                            f"got {type(tokens).__name__}")
        ids = []
        for tok in tokens:
            if not tok or any(ch.isspace() for ch in tok):
                raise ValueError(f"a special token must be non-empty and without whitespace, "
                                 f"got {tok!r}")
            if tok not in self._token_to_id:
                self._token_to_id[tok] = len(self._id_to_token)
                self._id_to_token.append(tok)
            if tok not in self._special_tokens:
                self._special_tokens.append(tok)
            ids.append(self._token_to_id[tok])
        self._update_special_pattern()
        return ids

    def _update_special_pattern(self):
        # Longest first: when one special starts another ("<s>" and "<s>_2"), the regex
        # must try the longer one first or it would cut "<s>_2" into "<s>" + "_2".
        alternatives = sorted(self._special_tokens, key=len, reverse=True)
        self._special_pattern = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
        self._special_set = frozenset(self._special_tokens)
        self._vocab_changed()

    def _vocab_changed(self):
        """Hook for subclasses that cache results depending on the vocabulary."""

    def tokenize(self, text):
        """Cut `text` into vocabulary strings; special tokens in the text stay whole."""
        _check_text(text)
        tokens = []
        # split() with a capturing group alternates: plain text, special, plain text, ...
        for k, chunk in enumerate(self._special_pattern.split(text)):
            if k % 2 == 1:
                tokens.append(chunk)
            elif chunk:
                tokens.extend(self._tokenize_text(chunk))
        return tokens

    def encode(self, text):
        """Token ids of `text` (no [CLS]/[SEP] added; see `encode_pair` for that)."""
        return [self._token_to_id.get(tok, self.unk_id) for tok in self.tokenize(text)]

    def decode(self, ids, skip_special_tokens=False):
        """Text for a sequence of ids; optionally leave out the special tokens."""
        ids = self._check_ids(ids)
        tokens = [self._id_to_token[i] for i in ids.tolist()]
        if skip_special_tokens:
            tokens = [tok for tok in tokens if tok not in self._special_set]
        return self._join_tokens(tokens)

    def encode_pair(self, a, b=None, max_len=None):
        """BERT's input `[CLS] A [SEP] B [SEP]` and its segment ids (token_type_ids).

        Segment id 0 covers [CLS], A and the first [SEP]; 1 covers B and the last [SEP].
        With `max_len`, tokens are dropped from the end of the longer side (B on a tie)
        until the whole input fits, as BERT's `truncate_seq_pair` does.
        """
        ids_a = self.encode(a)
        ids_b = [] if b is None else self.encode(b)
        n_special = 2 if b is None else 3
        if max_len is not None:
            if max_len < n_special:
                raise ValueError(f"max_len={max_len} is too short: the {n_special} special "
                                 f"tokens alone need max_len >= {n_special}")
            while len(ids_a) + len(ids_b) > max_len - n_special:
                (ids_a if len(ids_a) > len(ids_b) else ids_b).pop()
        ids = [self.cls_id] + ids_a + [self.sep_id]
        token_type_ids = [0] * len(ids)
        if b is not None:
            ids += ids_b + [self.sep_id]
            token_type_ids += [1] * (len(ids_b) + 1)
        return ids, token_type_ids

    def _check_ids(self, ids):
        ids = np.asarray(ids)
        if ids.size == 0:
            return ids.astype(np.int64).reshape(-1)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be a 1-D sequence of ints, got shape {ids.shape} "
                            f"and dtype {ids.dtype}")
        bad = ids[(ids < 0) | (ids >= self.vocab_size)]
        if bad.size:
            raise ValueError(f"token id {int(bad[0])} is outside the vocabulary of size "
                             f"{self.vocab_size} (valid ids 0..{self.vocab_size - 1})")
        return ids

    def _tokenize_text(self, text):
        raise NotImplementedError

    def _join_tokens(self, tokens):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


# ---------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------

class CharTokenizer(Tokenizer):
    """One token per character; characters outside the alphabet become [UNK]."""

    def __init__(self, alphabet):
        """`alphabet`: a str or an iterable of single characters, e.g. "abc"."""
        chars = list(alphabet)
        if not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise TypeError("alphabet must be a str or an iterable of single characters")
        super().__init__(list(SPECIAL_TOKENS) + sorted(set(chars)))

    @classmethod
    def train(cls, texts):
        """The alphabet is every character seen in `texts`."""
        chars = set()
        for text in _iter_texts(texts):
            chars.update(text)
        return cls(chars)

    def _tokenize_text(self, text):
        return [ch if ch in self._token_to_id else UNK for ch in text]

    def _join_tokens(self, tokens):
        return "".join(tokens)


def _iter_texts(texts):
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str, got a single str")
    for k, text in enumerate(texts):
        _check_text(text, f"texts[{k}]")
        yield text


# ---------------------------------------------------------------------------------
# BERT's basic tokenizer: clean, lower-case, strip accents, split words and punctuation
# ---------------------------------------------------------------------------------

def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    # Tab, newline and carriage return count as whitespace, not as control characters.
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    # BERT counts every non-alphanumeric printable ASCII character as punctuation
    # ("$", "^", "`" are symbols to Unicode), plus everything Unicode calls punctuation.
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(ch):
    # CJK ideographs are written without spaces, so BERT makes each one its own word.
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class _CharTable(dict):
    """A `str.translate` table that classifies each character once, the first time it
    is met. Afterwards translate runs at C speed: a per-character Python loop over the
    corpus would make training several times slower."""

    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def __missing__(self, code_point):
        self[code_point] = out = self.rule(chr(code_point))
        return out


def _cleanup_rule(ch):
    if ch in "\x00\ufffd" or _is_control(ch):
        return ""       # dropped
    if _is_whitespace(ch):
        return " "
    if _is_cjk(ch):
        return f" {ch} "
    return ch


_CLEANUP = _CharTable(_cleanup_rule)
_DROP_MARKS = _CharTable(lambda ch: "" if unicodedata.category(ch) == "Mn" else ch)
_PUNCTUATION_APART = _CharTable(lambda ch: f" {ch} " if _is_punctuation(ch) else ch)


def remove_accents(text):
    """'Héllo' -> 'Hello': decompose (NFD) so accents become separate marks, drop them."""
    return unicodedata.normalize("NFD", text).translate(_DROP_MARKS)


def basic_tokenize(text, lowercase=True, strip_accents=None):
    """Split text into words the way BERT's BasicTokenizer does.

    'Héllo, World!' -> ['hello', ',', 'world', '!'] with lowercase=True.
    Steps: drop control characters, turn any whitespace into a space and put spaces
    around CJK ideographs; optionally lower-case and strip accents
    (`strip_accents=None` means "exactly when lower-casing", as in BERT); put spaces
    around every punctuation character; split on whitespace.
    """
    _check_text(text)
    if strip_accents is None:
        strip_accents = lowercase
    text = text.translate(_CLEANUP)
    if lowercase:
        text = text.lower()
    if strip_accents:
        text = remove_accents(text)
    return text.translate(_PUNCTUATION_APART).split()


# ---------------------------------------------------------------------------------
# Learning a WordPiece vocabulary
# ---------------------------------------------------------------------------------

def _spell(word):
    """'tom' -> ['t', '##o', '##m']: the first character plain, the rest continuations."""
    return [word[0]] + ["##" + ch for ch in word[1:]]


def _merge_symbols(a, b):
    return a + b[2:]  # b always carries "##": it continues a word


def _replace_pair(symbols, a, b, merged):
    out, k = [], 0
    while k < len(symbols):
        if k + 1 < len(symbols) and symbols[k] == a and symbols[k + 1] == b:
            out.append(merged)
            k += 2
        else:
            out.append(symbols[k])
            k += 1
    return out


def learn_wordpiece(word_counts, n_pieces):
    """Learn up to `n_pieces` WordPiece tokens from a {word: count} table.

    The idea. Spell every word in characters, marking all but the first with "##"
    ("tom" -> t ##o ##m); those characters are the starting vocabulary. Then grow it one
    merge at a time: over all words, look at every pair of neighbouring symbols (a, b)
    and give it the score

        score(a, b) = count(a b) / (count(a) * count(b)),

    i.e. how often a and b appear together, relative to what their separate counts would
    predict. The best pair is fused everywhere it occurs and the fused string becomes a
    new token. Unlike BPE, which merges the most *frequent* pair, this prefers pairs whose
    parts rarely occur apart, so a piece earns its place by being a unit, not by being
    common. Ties go to the more frequent pair, then to the alphabetically first one.
    A side effect worth seeing: rare words fuse early, while frequent words made of
    common letters ("the", "and") stay in pieces until late.

    Bookkeeping. Each distinct word is stored once with its count. Pair and symbol counts
    are kept up to date incrementally: a merge only touches the words that contain the
    chosen pair (found through an index pair -> words), whose old counts are taken out
    and new counts put in.

    Returns the tokens in the order they were made: the sorted alphabet, then merges.
    Stops early, with a warning, when no pair is left (every word is one token).
    """
    words = [_spell(w) for w in word_counts]
    counts = list(word_counts.values())
    vocab = sorted({s for symbols in words for s in symbols})
    if n_pieces < len(vocab):
        raise ValueError(f"vocab_size too small: the {len(SPECIAL_TOKENS)} special tokens "
                         f"plus an alphabet of {len(vocab)} symbols need "
                         f"vocab_size >= {len(SPECIAL_TOKENS) + len(vocab)}")
    known = set(vocab)
    symbol_count, pair_count = Counter(), Counter()
    words_with_pair = defaultdict(set)

    def add_word(k, sign):
        symbols, c = words[k], sign * counts[k]
        for s in symbols:
            symbol_count[s] += c
        for pair in zip(symbols, symbols[1:]):
            pair_count[pair] += c
            if pair_count[pair] == 0:
                del pair_count[pair]
            elif sign > 0:
                words_with_pair[pair].add(k)

    def rank(pair):  # smallest rank = best pair
        a, b = pair
        return -pair_count[pair] / (symbol_count[a] * symbol_count[b]), -pair_count[pair], pair

    for k in range(len(words)):
        add_word(k, +1)
    while len(vocab) < n_pieces and pair_count:
        a, b = min(pair_count, key=rank)
        merged = _merge_symbols(a, b)
        for k in words_with_pair.pop((a, b)):
            add_word(k, -1)
            words[k] = _replace_pair(words[k], a, b, merged)
            add_word(k, +1)
        if merged not in known:  # two different pairs can spell the same string
            known.add(merged)
            vocab.append(merged)
    if len(vocab) < n_pieces:
        warnings.warn(f"the corpus only supports {len(SPECIAL_TOKENS) + len(vocab)} tokens "
                      f"(every word is already one token); asked for "
                      f"{len(SPECIAL_TOKENS) + n_pieces}", stacklevel=3)
    return vocab


# ---------------------------------------------------------------------------------
# WordPiece
# ---------------------------------------------------------------------------------

class WordPieceTokenizer(Tokenizer):
    """BERT's tokenizer: basic word splitting, then greedy longest-match subwords.

    Each word is cut left to right, always taking the longest vocabulary entry that
    fits (continuations carry "##"). If some rest of the word matches nothing, the
    whole word becomes [UNK], as in BERT. Words over `max_input_chars_per_word`
    characters are [UNK] too.
    """

    def __init__(self, vocab, lowercase=True, strip_accents=None, max_input_chars_per_word=100):
        super().__init__(vocab)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word

    @classmethod
    def train(cls, texts, vocab_size, lowercase=True, strip_accents=None,
              max_input_chars_per_word=100):
        """Learn a vocabulary of exactly `vocab_size` tokens (see `learn_wordpiece`).

        If the corpus runs out of pairs first, the vocabulary is smaller and a warning
        says so. Too small a `vocab_size` (below specials + alphabet) is a ValueError.
        """
        word_counts = Counter()
        for text in _iter_texts(texts):
            word_counts.update(basic_tokenize(text, lowercase, strip_accents))
        # Over-long words will be [UNK] at encoding time anyway: don't learn from them.
        word_counts = {w: c for w, c in word_counts.items() if len(w) <= max_input_chars_per_word}
        pieces = learn_wordpiece(word_counts, vocab_size - len(SPECIAL_TOKENS))
        return cls(list(SPECIAL_TOKENS) + pieces, lowercase, strip_accents,
                   max_input_chars_per_word)

    @classmethod
    def from_vocab_file(cls, path, lowercase=True, strip_accents=None,
                        max_input_chars_per_word=100):
        """Read a BERT-style vocab.txt: one token per line, line number = id.

        Works for a real BERT file (30,522 lines, [PAD]=0, [UNK]=100, [CLS]=101, ...):
        the special ids are looked up by name.
        """
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip("\n") for line in f]
        return cls(tokens, lowercase, strip_accents, max_input_chars_per_word)

    def save(self, directory):
        """Write `vocab.txt` and `tokenizer_config.json` (settings, added specials)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "vocab.txt", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(tok + "\n" for tok in self._id_to_token)
        config = {"tokenizer": type(self).__name__, "lowercase": self.lowercase,
                  "strip_accents": self.strip_accents,
                  "max_input_chars_per_word": self.max_input_chars_per_word,
                  "added_special_tokens": self._special_tokens[len(SPECIAL_TOKENS):]}
        with open(directory / "tokenizer_config.json", "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)

    @classmethod
    def load(cls, directory):
        """Inverse of `save`."""
        directory = Path(directory)
        with open(directory / "tokenizer_config.json", encoding="utf-8") as f:
            config = json.load(f)
        tok = cls.from_vocab_file(directory / "vocab.txt", config["lowercase"],
                                  config["strip_accents"], config["max_input_chars_per_word"])
        tok.add_special_tokens(config["added_special_tokens"])
        return tok

    def _vocab_changed(self):
        self._cache = {}  # word -> pieces; a new special token may change the answer

    def _tokenize_text(self, text):
        tokens = []
        for word in basic_tokenize(text, self.lowercase, self.strip_accents):
            if word not in self._cache:
                self._cache[word] = self._split_word(word)
            tokens.extend(self._cache[word])
        return tokens

    def _is_piece(self, s):
        return s in self._token_to_id and s not in self._special_set

    def _split_word(self, word):
        """Greedy longest-match-first: 'unaffable' -> ['un', '##aff', '##able']."""
        if len(word) > self.max_input_chars_per_word:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            prefix = "##" if start > 0 else ""
            end = len(word)
            while end > start and not self._is_piece(prefix + word[start:end]):
                end -= 1
            if end == start:  # nothing fits here: BERT gives up on the whole word
                return [UNK]
            pieces.append(prefix + word[start:end])
            start = end
        return pieces

    def _join_tokens(self, tokens):
        out = []
        for tok in tokens:
            if len(tok) > 2 and tok.startswith("##"):
                out.append(tok[2:])
            elif tok in _NO_SPACE_BEFORE or not out:
                out.append(tok)
            else:
                out.append(" " + tok)
        return "".join(out)
