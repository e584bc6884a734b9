"""Tests for minifm.tokenizers: special tokens, characters, WordPiece training,
greedy longest-match encoding, BERT's vocab.txt layout, save/load and bad input.

Expected pieces are worked out by hand in the comments next to each case."""

import numpy as np
import pytest

from minifm.tokenizers import (CLS, MASK, PAD, SEP, SPECIAL_TOKENS, UNK, CharTokenizer,
                               WordPieceTokenizer, basic_tokenize)

CORPUS_VOCAB_SIZE = 1000


# ---------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus():
    """The toy-world training sentences (skipped if the corpus has not been made)."""
    try:
        from minifm import data
        sentences = data.corpus_sentences("train")
    except (ImportError, OSError) as err:
        pytest.skip(f"toy-world corpus not available: {err}")
    assert len(sentences) > 0
    return sentences


@pytest.fixture(scope="module")
def corpus_wordpiece(corpus):
    return WordPieceTokenizer.train(corpus, CORPUS_VOCAB_SIZE)


def tiny_wordpiece(pieces, **settings):
    """A WordPiece tokenizer whose vocabulary is the five specials plus `pieces`."""
    return WordPieceTokenizer(list(SPECIAL_TOKENS) + pieces, **settings)


def ids_of(tok, tokens):
    return [tok.token_to_id(t) for t in tokens]


def write_bert_vocab(path, pieces):
    """A vocab.txt laid out like BERT's: [PAD]=0, [unused0..98], [UNK]=100, [CLS]=101,
    [SEP]=102, [MASK]=103, then the word pieces from id 104 on."""
    lines = [PAD] + [f"[unused{i}]" for i in range(99)] + [UNK, CLS, SEP, MASK] + pieces
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


TEXTS = ["then tom went to new york, and he was happy.", "did anna see the cat?", "wow!"]


# ---------------------------------------------------------------------------------
# Special tokens and characters
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: CharTokenizer.train(TEXTS),
                                  lambda: WordPieceTokenizer.train(TEXTS, 60)])
def test_base_special_tokens_sit_at_ids_0_to_4(make):
    tok = make()
    assert SPECIAL_TOKENS == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert [tok.id_to_token(i) for i in range(5)] == list(SPECIAL_TOKENS)
    np.testing.assert_array_equal(tok.special_ids, [0, 1, 2, 3, 4])


def test_char_tokenizer_round_trips_one_token_per_character():
    tok = CharTokenizer.train(TEXTS)
    alphabet = sorted(set("".join(TEXTS)))
    assert tok.vocab_size == 5 + len(alphabet)
    for text in TEXTS:
        ids = tok.encode(text)
        assert len(ids) == len(text)
        assert tok.decode(ids) == text
        assert tok.tokenize(text) == list(text)


def test_char_tokenizer_from_alphabet_and_unknown_characters():
    tok = CharTokenizer("cab")
    assert tok.encode("abc") == [5, 6, 7]           # sorted alphabet after the specials
    assert tok.encode("ažc") == [5, tok.unk_id, 7]
    assert tok.decode(tok.encode("ažc")) == "a[UNK]c"


# ---------------------------------------------------------------------------------
# BERT's basic tokenizer
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, lowercase, expected", [
    ("Héllo, World!", True, ["hello", ",", "world", "!"]),
    ("Héllo, World!", False, ["Héllo", ",", "World", "!"]),
    # \t \n \r and the Zs category (here a no-break space) are whitespace
    ("a\tb\nc\r\nd\u00a0e", True, ["a", "b", "c", "d", "e"]),
    # NUL, control characters and U+FFFD are dropped
    ("ab\x00c\x07d\ufffde", True, ["abcde"]),
    # non-alphanumeric ASCII counts as punctuation, even Unicode symbols like $ ^ `
    ("cost $5^2`x", True, ["cost", "$", "5", "^", "2", "`", "x"]),
    # Unicode punctuation (category P*) too
    ("¿qué—no?", True, ["¿", "que", "—", "no", "?"]),
    # each CJK ideograph is a word of its own
    ("我爱ab中", True, ["我", "爱", "ab", "中"]),
    ("don't", True, ["don", "'", "t"]),
])
def test_basic_tokenize_follows_bert(text, lowercase, expected):
    assert basic_tokenize(text, lowercase=lowercase) == expected


# ---------------------------------------------------------------------------------
# WordPiece encoding on hand-made vocabularies
# ---------------------------------------------------------------------------------

HAND_PIECES = ["un", "##aff", "##able", "##a", "##ff", "a", "ab", "##bc", "##b", ",", "!"]


@pytest.mark.parametrize("word, expected", [
    ("unaffable", ["un", "##aff", "##able"]),  # "##aff" is longer than "##a": taken first
    ("abbc", ["ab", "##bc"]),
    ("abc", [UNK]),        # greedy takes "ab", then "##c" is missing -> whole word [UNK],
                           # although "a ##bc" would have spelled it
    ("aba", ["ab", "##a"]),
    ("unx", [UNK]),        # unknown character anywhere -> whole word [UNK]
    ("un", ["un"]),
])
def test_greedy_longest_match_first(word, expected):
    tok = tiny_wordpiece(HAND_PIECES)
    assert tok.tokenize(word) == expected
    assert tok.encode(word) == ids_of(tok, expected)


def test_words_longer_than_the_limit_become_unk():
    tok = tiny_wordpiece(HAND_PIECES, max_input_chars_per_word=4)
    assert tok.tokenize("abba") == ["ab", "##b", "##a"]
    assert tok.tokenize("ababa") == [UNK]


def test_decode_glues_continuations_and_punctuation():
    tok = tiny_wordpiece(HAND_PIECES)
    ids = ids_of(tok, [CLS, "un", "##aff", "##able", ",", "ab", "##bc", "!", SEP])
    assert tok.decode(ids) == "[CLS] unaffable, abbc! [SEP]"
    assert tok.decode(ids, skip_special_tokens=True) == "unaffable, abbc!"
    assert tok.decode([]) == ""


# ---------------------------------------------------------------------------------
# WordPiece training
# ---------------------------------------------------------------------------------

# Words and counts: ab x10, a x10, cb x5, de x1. Alphabet: ##b ##e a c d (5 symbols).
# Symbol counts: a 20, ##b 15, c 5, d 1, ##e 1. Scores count(xy) / (count(x) count(y)):
#   (d, ##e) 1/(1*1) = 1,  (c, ##b) 5/(5*15) = 1/15,  (a, ##b) 10/(20*15) = 1/30.
# So "de" first, then "cb"; then (a, ##b) = 10/(20*10) gives "ab". Merging by frequency
# (BPE) would have taken "ab" first.
SCORE_TEXTS = ["ab " * 10 + "a " * 10 + "cb " * 5 + "de"]


def test_training_merges_by_wordpiece_score():
    tok = WordPieceTokenizer.train(SCORE_TEXTS, vocab_size=13)
    pieces = [tok.id_to_token(i) for i in range(5, 13)]
    assert pieces == ["##b", "##e", "a", "c", "d", "de", "cb", "ab"]
    assert tok.tokenize("ab cb de a") == ["ab", "cb", "de", "a"]


def test_training_stops_with_a_warning_when_the_corpus_runs_out():
    with pytest.warns(UserWarning, match="only supports 13 tokens"):
        tok = WordPieceTokenizer.train(SCORE_TEXTS, vocab_size=20)
    assert tok.vocab_size == 13


def test_vocab_size_below_specials_plus_alphabet_is_an_error():
    with pytest.raises(ValueError, match="vocab_size >= 10"):
        WordPieceTokenizer.train(SCORE_TEXTS, vocab_size=9)


def test_unknown_characters_become_unk_after_training():
    tok = WordPieceTokenizer.train(TEXTS, 60)
    unk = tok.unk_id
    assert tok.encode("ж") == [unk]
    assert tok.encode("tom ☃ went") == tok.encode("tom") + [unk] + tok.encode("went")
    assert tok.encode("Tóm") == tok.encode("tom")  # lower-cased, accent stripped: known


# ---------------------------------------------------------------------------------
# The toy-world corpus
# ---------------------------------------------------------------------------------

def test_corpus_vocabulary_has_exactly_the_requested_size(corpus_wordpiece):
    tokens = [corpus_wordpiece.id_to_token(i) for i in range(corpus_wordpiece.vocab_size)]
    assert corpus_wordpiece.vocab_size == CORPUS_VOCAB_SIZE
    assert len(set(tokens)) == CORPUS_VOCAB_SIZE


def test_corpus_round_trips_every_train_sentence(corpus, corpus_wordpiece):
    tok = corpus_wordpiece
    failures = [s for s in corpus if tok.decode(tok.encode(s)) != s]
    assert not failures, f"{len(failures)} sentences differ, e.g. {failures[0]!r}"
    assert all(tok.unk_id not in tok.encode(s) for s in corpus[:500])


# ---------------------------------------------------------------------------------
# Files: save/load and BERT's vocab.txt
# ---------------------------------------------------------------------------------

def test_save_load_gives_identical_encodings(tmp_path):
    texts = TEXTS + ["Tom and Anna went to Paris."]
    tok = WordPieceTokenizer.train(texts, 70, lowercase=False)
    tok.add_special_tokens(["<s>", "</s>"])
    tok.save(tmp_path)
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lines[:5] == list(SPECIAL_TOKENS) and lines[-2:] == ["<s>", "</s>"]

    loaded = WordPieceTokenizer.load(tmp_path)
    assert loaded.vocab_size == tok.vocab_size and loaded.lowercase is False
    np.testing.assert_array_equal(loaded.special_ids, tok.special_ids)
    for text in texts + ["<s>Tom went home.</s>", "TOM ж"]:
        assert loaded.encode(text) == tok.encode(text)


def test_bert_vocab_file_layout(tmp_path):
    path = write_bert_vocab(tmp_path / "vocab.txt", ["hello", ",", "world", "!", "he", "##llo"])
    tok = WordPieceTokenizer.from_vocab_file(path, lowercase=True)
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
    np.testing.assert_array_equal(tok.special_ids, [0, 100, 101, 102, 103])
    # BERT: lower-case, strip the accent, split off punctuation -> hello , world !
    assert tok.encode("Héllo, World!") == [104, 105, 106, 107]
    assert tok.encode("[CLS] hello [SEP]") == [101, 104, 102]

    cased = WordPieceTokenizer.from_vocab_file(path, lowercase=False)
    assert cased.encode("Héllo, World!") == [100, 105, 100, 107]  # "Héllo", "World" unknown


def test_encode_pair_builds_bert_inputs(tmp_path):
    path = write_bert_vocab(tmp_path / "vocab.txt", ["a", "b", "c", "d", "e"])
    tok = WordPieceTokenizer.from_vocab_file(path)
    a, b, c, d, e = 104, 105, 106, 107, 108
    assert tok.encode_pair("a b") == ([101, a, b, 102], [0, 0, 0, 0])
    ids, types = tok.encode_pair("a b c", "d e")
    assert ids == [101, a, b, c, 102, d, e, 102]
    assert types == [0, 0, 0, 0, 0, 1, 1, 1]
    # max_len 7 leaves 4 text tokens: drop "c" from the longer side A, then the tie A=B=2 fits.
    assert tok.encode_pair("a b c", "d e", max_len=7)[0] == [101, a, b, 102, d, e, 102]
    # max_len 6: one more to drop; on a tie, B loses its last token.
    assert tok.encode_pair("a b c", "d e", max_len=6)[0] == [101, a, b, 102, d, 102]
    with pytest.raises(ValueError, match="max_len >= 3"):
        tok.encode_pair("a", "b", max_len=2)


# ---------------------------------------------------------------------------------
# Added special tokens
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: CharTokenizer.train(TEXTS),
                                  lambda: WordPieceTokenizer.train(TEXTS, 60)])
def test_added_special_tokens_go_last_and_are_never_split(make):
    tok = make()
    n = tok.vocab_size
    extras = ["<extra_id_0>", "<extra_id_1>", "<extra_id_10>", "<s>"]
    assert tok.add_special_tokens(extras) == [n, n + 1, n + 2, n + 3]
    assert tok.vocab_size == n + 4
    assert tok.add_special_tokens(["<s>"]) == [n + 3]  # already there: same id
    np.testing.assert_array_equal(tok.special_ids, [0, 1, 2, 3, 4, n, n + 1, n + 2, n + 3])

    ids = tok.encode("<s>tom<extra_id_10> went<extra_id_1>")
    assert ids[0] == n + 3 and n + 2 in ids and ids[-1] == n + 1
    assert ids.count(tok.unk_id) == 0
    assert tok.decode(ids, skip_special_tokens=True).replace(" ", "") == "tomwent"

    # One special that starts another: the longer one must win.
    long_id = tok.add_special_tokens(["<s>_2"])[0]
    assert tok.encode("<s>_2<s>") == [long_id, n + 3]


# ---------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: CharTokenizer.train(TEXTS),
                                  lambda: WordPieceTokenizer.train(TEXTS, 60)])
def test_bad_input_gives_clear_errors(make):
    tok = make()
    with pytest.raises(TypeError, match="int"):
        tok.encode(123)
    with pytest.raises(TypeError, match="bytes"):
        tok.tokenize(b"tom")
    with pytest.raises(ValueError, match=f"9999.*size {tok.vocab_size}"):
        tok.decode([0, 9999])
    with pytest.raises(ValueError, match="-1"):
        tok.decode(np.array([-1, 2]))
    with pytest.raises(ValueError, match=f"size {tok.vocab_size}"):
        tok.id_to_token(tok.vocab_size)
    with pytest.raises(TypeError):
        tok.add_special_tokens("<s>")


def test_bad_training_input():
    with pytest.raises(TypeError, match="single str"):
        CharTokenizer.train("tom went home")
    with pytest.raises(TypeError, match=r"texts\[1\].*NoneType"):
        WordPieceTokenizer.train(["tom", None], 50)
