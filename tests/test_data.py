"""Tests for the toy world (data/make_toy_world.py, data/toy_world/) and minifm.data."""
import importlib.util
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import minifm.data as data
from minifm.data import balanced_subset, consecutive_windows, minibatches, pad_batch, random_windows

DATA = Path(__file__).resolve().parent.parent / "data"
FORMAT = re.compile(r"[a-z]+[.,?!]?( [a-z]+[.,?!]?)*")   # the text format every lesson relies on
PRONOUN_GENDER = {"he": "he", "him": "he", "his": "he", "himself": "he",
                  "she": "she", "her": "she", "hers": "she", "herself": "she"}


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_script("make_toy_world")


@pytest.fixture(scope="module")
def documents():
    return {split: data.load_documents(split) for split in data.SPLITS}


@pytest.fixture(scope="module")
def spam():
    return {split: data.load_spam(split) for split in data.SPLITS}


@pytest.fixture(scope="module")
def names_json():
    import json
    with open(data.data_dir() / "names.json", encoding="utf-8") as f:
        return json.load(f)


def all_docs(documents):
    return [doc for split in data.SPLITS for doc in documents[split]]


def words(text):
    return [token.strip(".,?!") for token in text.split()]


# ---------------------------------------------------------------------------------
# The corpus: sizes, format, splits
# ---------------------------------------------------------------------------------

def test_documents_have_the_promised_sizes(documents):
    docs = all_docs(documents)
    sentences = [s for doc in docs for s in doc.sentences]
    vocabulary = {w for s in sentences for w in words(s)}
    assert len(docs) >= 2000
    assert all(5 <= len(doc.sentences) <= 10 for doc in docs)
    assert len(sentences) >= 20_000
    assert 500 <= len(vocabulary) <= 3000
    topics = Counter(doc.topic for doc in docs)
    assert 5 <= len(topics) <= 6 and min(topics.values()) >= 200
    assert len({doc.id for doc in docs}) == len(docs), "document ids must be unique across splits"
    assert len(documents["train"]) > 7 * len(documents["test"]) and len(documents["valid"]) > 0


def test_spam_set_is_large_balanced_and_split_without_overlap(spam):
    texts = {split: spam[split][0] for split in data.SPLITS}
    assert sum(len(t) for t in texts.values()) >= 2000
    for split, (messages, labels) in spam.items():
        assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
        assert 0.45 <= labels.mean() <= 0.55, f"{split} is unbalanced: {labels.mean():.2f} spam"
    assert not set(texts["train"]) & (set(texts["valid"]) | set(texts["test"]))
    assert len(set(texts["train"])) == len(texts["train"])


def test_every_sentence_and_message_follows_the_text_format(documents, spam):
    for doc in all_docs(documents):
        for sentence in doc.sentences:
            assert FORMAT.fullmatch(sentence) and sentence[-1] in ".?!", f"doc {doc.id}: {sentence!r}"
    for messages, _ in spam.values():
        for text in messages:
            assert FORMAT.fullmatch(text), repr(text)


def test_generator_is_deterministic(generator):
    first = generator.make_world(seed=7, n_docs=60, n_messages=40)
    again = generator.make_world(seed=7, n_docs=60, n_messages=40)
    other = generator.make_world(seed=8, n_docs=60, n_messages=40)
    assert first == again
    assert first["docs"] != other["docs"] and first["spam"] != other["spam"]


def test_committed_files_are_what_the_generator_writes(generator, tmp_path):
    generator.write_world(generator.make_world(), tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in data.data_dir().iterdir() if p.suffix in (".jsonl", ".json"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (data.data_dir() / name).read_bytes(), (
            f"{name} differs from a fresh run: regenerate with {data.REGENERATE}")


# ---------------------------------------------------------------------------------
# Names: the halves depend on each other, and are only ever used together
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["city", "person"])
def test_each_half_of_a_name_leaves_several_choices(kind):
    names = data.load_names(kind)
    seconds_of, firsts_of = {}, {}
    for name in names:
        seconds_of.setdefault(name.first, set()).add(name.second)
        firsts_of.setdefault(name.second, set()).add(name.first)
    assert len(names) == len({n.text for n in names}) >= 6
    assert min(len(s) for s in seconds_of.values()) >= 2, "a first word must not give away the second"
    assert min(len(f) for f in firsts_of.values()) >= 2, "a second word must not give away the first"
    valid_share = len(names) / (len(seconds_of) * len(firsts_of))
    assert valid_share <= 0.5, "most mixes of a first and a second word must be invalid"


def test_name_words_appear_only_inside_their_names(documents):
    cities = data.load_names("city")
    city_firsts, city_seconds = {n.first for n in cities}, {n.second for n in cities}
    city_pairs = {(n.first, n.second) for n in cities}
    person_pairs = {(n.first, n.second) for n in data.load_names("person")}
    surnames = {second for _, second in person_pairs}
    for doc in all_docs(documents):
        tokens = words(" ".join(doc.sentences))
        for i, token in enumerate(tokens):
            before = tokens[i - 1] if i > 0 else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if token in city_firsts:
                assert (token, after) in city_pairs, f"doc {doc.id}: '{token} {after}' is not a city"
            if token in city_seconds:
                assert (before, token) in city_pairs, f"doc {doc.id}: '{before} {token}' is not a city"
            if token in surnames:
                assert (before, token) in person_pairs, f"doc {doc.id}: '{before} {token}' is not a person"


# ---------------------------------------------------------------------------------
# Order: what NSP and SOP can learn
# ---------------------------------------------------------------------------------

def test_pronouns_come_after_the_name_they_refer_to(documents, names_json):
    pronoun_of = names_json["pronouns"]
    people = {tuple(pair) for pair in names_json["people"]}
    for doc in all_docs(documents):
        first_words = words(doc.sentences[0])
        assert any(pair in people for pair in zip(first_words, first_words[1:])), (
            f"doc {doc.id} does not introduce its main character by full name in its first sentence")
        tokens = words(" ".join(doc.sentences))
        hero_at = next(i for i, t in enumerate(tokens) if t in pronoun_of)
        for i, token in enumerate(tokens):
            if token in PRONOUN_GENDER:
                assert i > hero_at, f"doc {doc.id}: '{token}' comes before any name"
                assert PRONOUN_GENDER[token] == pronoun_of[tokens[hero_at]], (
                    f"doc {doc.id}: '{token}' does not match '{tokens[hero_at]}'")


def test_times_of_day_only_move_forward_and_markers_keep_their_place(documents, generator):
    time_index = {phrase + ",": i for i, phrases in enumerate(generator.TIMES) for phrase in phrases}
    for doc in all_docs(documents):
        times = [time_index[p] for s in doc.sentences[1:] for p in time_index if s.startswith(p)]
        assert times == sorted(set(times)), f"doc {doc.id}: times of day go back: {times}"
        starts = [s.split(",")[0] + "," for s in doc.sentences]
        for i, start in enumerate(starts):
            if start in generator.ENDING_MARKERS:
                assert i == len(starts) - 1, f"doc {doc.id}: '{start}' before the last sentence"
            if start in generator.FIRST_MARKERS:
                earlier = {s.split(" ")[0] for s in doc.sentences[:i]}
                assert not earlier & {"then", "next,", "afterwards,"}, f"doc {doc.id}: '{start}' after 'then'"


# ---------------------------------------------------------------------------------
# Spam: no keyword separates it, the words are in the unlabelled text, labels are learnable
# ---------------------------------------------------------------------------------

def tokens_of(text):
    """Words, and each punctuation mark as a token of its own."""
    return re.findall(r"[a-z]+|[.,?!]", text)


def presence_matrix(texts, vocabulary):
    index = {w: i for i, w in enumerate(vocabulary)}
    x = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        x[row, [index[w] for w in tokens_of(text)]] = 1.0
    return x


def test_no_single_keyword_separates_spam_from_not_spam(spam):
    texts, labels = spam["train"]
    vocabulary = sorted({w for t in texts for w in tokens_of(t)})
    x = presence_matrix(texts, vocabulary)
    says_spam = 0.5 * (x[labels == 1].mean(0) + 1 - x[labels == 0].mean(0))  # balanced accuracy
    best = np.maximum(says_spam, 1 - says_spam)
    worst_word = vocabulary[int(np.argmax(best))]
    assert best.max() < 0.65, f"the keyword '{worst_word}' alone scores {best.max():.3f}"


def test_spam_labels_are_learnable_from_all_training_labels(spam):
    # Naive Bayes on word presence, in closed form: all the training labels are enough.
    (train, y_train), (valid, y_valid) = spam["train"], spam["valid"]
    vocabulary = sorted({w for t in train + valid for w in tokens_of(t)})
    x_train, x_valid = presence_matrix(train, vocabulary), presence_matrix(valid, vocabulary)
    p_spam = (x_train[y_train == 1].sum(0) + 1) / ((y_train == 1).sum() + 2)   # P(word | spam)
    p_ham = (x_train[y_train == 0].sum(0) + 1) / ((y_train == 0).sum() + 2)
    weights = np.log(p_spam / p_ham) - np.log((1 - p_spam) / (1 - p_ham))
    bias = np.log((1 - p_spam) / (1 - p_ham)).sum()
    predicted = x_valid @ weights + bias > 0
    assert np.mean(predicted == y_valid) >= 0.93


def test_spam_words_occur_in_the_unlabelled_documents(documents, spam):
    document_words = {w for doc in documents["train"] for s in doc.sentences for w in words(s)}
    tokens = [w for text in spam["train"][0] for w in words(text)]
    unseen = [w for w in tokens if w not in document_words]
    assert len(unseen) <= 0.01 * len(tokens), f"{len(unseen)} spam tokens never occur in the documents"


def test_no_labelled_message_is_quoted_in_a_document(documents, spam):
    labelled = {text for messages, _ in spam.values() for text in messages}
    for doc in all_docs(documents):
        s = doc.sentences
        quoted = {" ".join(s[i:j]) for i in range(len(s)) for j in range(i + 1, min(i + 4, len(s)) + 1)}
        assert not quoted & labelled, f"doc {doc.id} quotes a labelled message"


# ---------------------------------------------------------------------------------
# minifm.data: loaders
# ---------------------------------------------------------------------------------

def test_loaders_return_consistent_views(documents, spam):
    texts, labels, topic_names = data.load_topic_labels("valid")
    assert topic_names == sorted({doc.topic for doc in documents["train"]})
    assert len(texts) == len(labels) == len(documents["valid"]) and labels.dtype == np.int64
    assert [topic_names[i] for i in labels] == [doc.topic for doc in documents["valid"]]
    assert texts[0] == " ".join(documents["valid"][0].sentences)
    assert data.corpus_sentences("test") == [s for doc in documents["test"] for s in doc.sentences]
    messages, spam_labels = spam["test"]
    assert len(messages) == len(spam_labels) and isinstance(messages[0], str)
    names = data.load_names()
    assert {n.kind for n in names} == {"city", "person"}
    assert data.Name("city", "new", "york") in names and data.Name("city", "new", "york").text == "new york"


@pytest.mark.parametrize("loader", [data.load_documents, data.load_spam, data.load_topic_labels,
                                    data.corpus_sentences])
def test_loaders_reject_unknown_splits(loader):
    with pytest.raises(ValueError, match="split must be one of"):
        loader("training")


def test_unknown_name_kind_and_missing_folder_are_clear_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="kind"):
        data.load_names("river")
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="make_toy_world.py"):
        data.load_documents("train")


# ---------------------------------------------------------------------------------
# minifm.data: batching
# ---------------------------------------------------------------------------------

def test_pad_batch_pads_and_masks():
    ids, mask = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert ids.dtype == np.int64 and mask.dtype == bool


def test_pad_batch_truncates_to_max_len_and_accepts_arrays():
    ids, mask = pad_batch([np.array([1, 2, 3, 4]), [9]], pad_id=-1, max_len=2)
    np.testing.assert_array_equal(ids, [[1, 2], [9, -1]])
    np.testing.assert_array_equal(mask, [[True, True], [True, False]])
    ids, _ = pad_batch([[1], [2, 3]], pad_id=0, max_len=5)
    assert ids.shape == (2, 2), "max_len caps T; it does not pad further"


@pytest.mark.parametrize("sequences, kwargs, error", [
    ([], {"pad_id": 0}, ValueError),
    ([[1, 2]], {"pad_id": 0.5}, TypeError),
    ([[1, 2]], {"pad_id": 0, "max_len": 0}, ValueError),
    ([[[1, 2]]], {"pad_id": 0}, TypeError),
    ([[1.5, 2.0]], {"pad_id": 0}, TypeError),
    ([[], []], {"pad_id": 0}, ValueError),
])
def test_pad_batch_rejects_bad_input(sequences, kwargs, error):
    with pytest.raises(error):
        pad_batch(sequences, **kwargs)


def test_minibatches_cover_every_index_once():
    batches = list(minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate(batches), np.arange(10)), "shuffle=True must shuffle"
    again = list(minibatches(10, 4, np.random.default_rng(0)))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_minibatches_in_order_and_drop_last():
    batches = list(minibatches(7, 3, shuffle=False, drop_last=True))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    assert list(minibatches(0, 3, shuffle=False)) == []


@pytest.mark.parametrize("args, kwargs, error", [
    ((10, 0, np.random.default_rng(0)), {}, ValueError),
    ((-1, 2, np.random.default_rng(0)), {}, ValueError),
    ((10, 2), {}, TypeError),                      # shuffling needs a Generator
    ((10, 2, 42), {}, TypeError),
])
def test_minibatches_reject_bad_input(args, kwargs, error):
    with pytest.raises(error):
        minibatches(*args, **kwargs)


def test_balanced_subset_balances_the_classes():
    labels = np.array([0] * 50 + [1] * 30)
    chosen = balanced_subset(labels, 32, np.random.default_rng(1))
    assert len(chosen) == len(set(chosen.tolist())) == 32 and chosen.dtype == np.int64
    assert Counter(labels[chosen].tolist()) == {0: 16, 1: 16}
    odd = balanced_subset(labels, 7, np.random.default_rng(2))
    assert sorted(Counter(labels[odd].tolist()).values()) == [3, 4]
    assert len(balanced_subset(labels, 0, np.random.default_rng(0))) == 0


def test_balanced_subset_gives_a_small_class_everything_it_has():
    labels = np.array([0] * 20 + [1] * 3 + [2] * 20)
    chosen = balanced_subset(labels, 21, np.random.default_rng(0))
    assert Counter(labels[chosen].tolist()) == {0: 9, 1: 3, 2: 9}
    assert len(set(balanced_subset(labels, 43, np.random.default_rng(0)).tolist())) == 43


@pytest.mark.parametrize("labels, n, rng, error", [
    (np.zeros(5), 6, np.random.default_rng(0), ValueError),
    (np.zeros(5), -1, np.random.default_rng(0), ValueError),
    (np.zeros((2, 3)), 2, np.random.default_rng(0), ValueError),
    (np.zeros(5), 2, None, TypeError),
])
def test_balanced_subset_rejects_bad_input(labels, n, rng, error):
    with pytest.raises(error):
        balanced_subset(labels, n, rng)


# ---- windows of a token stream -----------------------------------------------------


def test_random_windows_are_slices_of_the_stream_at_random_starts():
    stream = np.arange(100, 150)                        # token = 100 + its position
    windows = random_windows(stream, 8, 500, np.random.default_rng(0))
    assert windows.shape == (500, 8)
    starts = windows[:, 0] - 100
    np.testing.assert_array_equal(windows, 100 + starts[:, None] + np.arange(8))  # contiguous
    assert starts.min() == 0 and starts.max() == 50 - 8 - 1   # every start the window may take
    again = random_windows(stream, 8, 500, np.random.default_rng(0))
    np.testing.assert_array_equal(windows, again)


def test_consecutive_windows_cover_each_token_once_and_drop_the_tail():
    windows = consecutive_windows(np.arange(23), 5)
    assert windows.shape == (4, 5)
    np.testing.assert_array_equal(windows.ravel(), np.arange(20))   # tokens 20-22 are the short tail


@pytest.mark.parametrize("call, error, message", [
    (lambda: consecutive_windows(np.zeros((2, 5)), 2), ValueError, "1-D"),
    (lambda: consecutive_windows(np.arange(5), 0), ValueError, "from 1 to 5"),
    (lambda: consecutive_windows(np.arange(5), 6), ValueError, "from 1 to 5"),
    (lambda: random_windows(np.arange(5), 5, 2, np.random.default_rng(0)), ValueError, "no room"),
    (lambda: random_windows(np.arange(9), 3, 2, 0), TypeError, "np.random.Generator"),
])
def test_windows_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
