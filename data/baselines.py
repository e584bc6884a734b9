"""Baselines for the toy world's spam task, in plain NumPy.

    python data/baselines.py            (about 15 s on 2 cores)

What a model can do on the spam test split WITHOUT pre-training, so that a lesson's
pre-trained model has numbers to beat:

1. the best single keyword ("a message containing w is spam"), chosen on the training
   split: close to a coin flip, because both kinds of message share their common words;
2. bag-of-words logistic regression (full-batch gradient descent with L2) trained on all
   2,400 training labels, and on only 32 (16 per class, mean +- std over 5 draws).

And one contrast: the same logistic regression on 32 labels, but on word vectors learnt
from the unlabelled documents (PPMI + SVD of word co-occurrences). That is a very cheap
kind of pre-training: it learns that "voucher" and "jackpot" are used alike, which the
32 labels alone cannot show.
"""
import re

import numpy as np

from minifm.data import balanced_subset, load_documents, load_spam

TOKEN = re.compile(r"[a-z]+|[.,?!]")   # words, and each punctuation mark as its own token
N_LABELS, N_DRAWS = 32, 5


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


def bag_of_words(texts: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """(N, V) matrix: 1 where the text contains the word. Unknown words are skipped."""
    x = np.zeros((len(texts), len(vocabulary)))
    for row, text in enumerate(texts):
        columns = [vocabulary[w] for w in tokenize(text) if w in vocabulary]
        x[row, columns] = 1.0
    return x


def fit_logistic_regression(x, y, l2=1e-3, lr=0.5, steps=1000):
    """Full-batch gradient descent on mean cross-entropy + (l2 / 2) |w|^2."""
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))   # (N,) probability of spam
        error = p - y                              # d loss / d logit, per example
        w -= lr * (x.T @ error / len(y) + l2 * w)
        b -= lr * error.mean()
    return w, b


def accuracy(w, b, x, y) -> float:
    return float(np.mean((x @ w + b > 0) == y))


def best_keyword(x_train, y_train, vocabulary):
    """The rule "contains word -> spam" (or "-> not spam") with the best training accuracy."""
    in_spam, in_ham = x_train[y_train == 1].mean(0), x_train[y_train == 0].mean(0)
    says_spam = 0.5 * (in_spam + 1 - in_ham)       # balanced accuracy of "word -> spam"
    column = int(np.argmax(np.maximum(says_spam, 1 - says_spam)))
    word = list(vocabulary)[column]
    return word, column, bool(says_spam[column] >= 0.5)


def keyword_accuracy(x, y, column, means_spam) -> float:
    prediction = x[:, column] == 1 if means_spam else x[:, column] == 0
    return float(np.mean(prediction == y))


def word_vectors(texts: list[str], dim=50, window=10):
    """Word vectors from unlabelled text: positive PMI of co-occurrence counts within
    `window` words, reduced to `dim` dimensions by SVD, each row scaled to unit length."""
    vocabulary = {w: i for i, w in enumerate(sorted({w for t in texts for w in tokenize(t)}))}
    V = len(vocabulary)
    pairs = []                                    # flat index left * V + right of each pair
    for text in texts:
        ids = np.array([vocabulary[w] for w in tokenize(text)])
        for d in range(1, window + 1):            # each pair (i, i + d), both ways round
            pairs += [ids[:-d] * V + ids[d:], ids[d:] * V + ids[:-d]]
    counts = np.bincount(np.concatenate(pairs), minlength=V * V).reshape(V, V).astype(float)
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / counts.sum()
    ppmi = np.maximum(np.log(np.maximum(counts, 1e-12) / np.maximum(expected, 1e-12)), 0)
    u, s, _ = np.linalg.svd(ppmi, full_matrices=False)
    vectors = u[:, :dim] * np.sqrt(s[:dim])
    return vocabulary, vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def average_vectors(texts, vocabulary, vectors) -> np.ndarray:
    """(N, dim): each text as the mean vector of its known words."""
    rows = [[vectors[vocabulary[w]] for w in tokenize(t) if w in vocabulary] for t in texts]
    return np.array([np.mean(r, axis=0) if r else np.zeros(vectors.shape[1]) for r in rows])


def few_label_accuracies(x_train, y_train, x_test, y_test, **fit_options) -> list[float]:
    """Test accuracy after training on N_LABELS balanced examples, for N_DRAWS draws."""
    scores = []
    for draw in range(N_DRAWS):
        chosen = balanced_subset(y_train, N_LABELS, np.random.default_rng(draw))
        w, b = fit_logistic_regression(x_train[chosen], y_train[chosen], **fit_options)
        scores.append(accuracy(w, b, x_test, y_test))
    return scores


def main() -> None:
    train_texts, y_train = load_spam("train")
    test_texts, y_test = load_spam("test")
    vocabulary = {w: i for i, w in enumerate(sorted({w for t in train_texts for w in tokenize(t)}))}
    x_train, x_test = bag_of_words(train_texts, vocabulary), bag_of_words(test_texts, vocabulary)
    print(f"spam task: {len(y_train)} training and {len(y_test)} test messages, "
          f"{len(vocabulary)} distinct tokens; a coin flip scores 0.500")

    word, column, means_spam = best_keyword(x_train, y_train, vocabulary)
    oracle = max(keyword_accuracy(x_test, y_test, c, s) for c in range(len(vocabulary)) for s in (True, False))
    print(f"best single keyword (chosen on train): '{word}' -> {'spam' if means_spam else 'not spam'}, "
          f"test accuracy {keyword_accuracy(x_test, y_test, column, means_spam):.3f} "
          f"(best keyword chosen on test itself: {oracle:.3f})")

    w, b = fit_logistic_regression(x_train, y_train)
    print(f"bag of words, all {len(y_train)} labels: test accuracy {accuracy(w, b, x_test, y_test):.3f}")
    scores = few_label_accuracies(x_train, y_train, x_test, y_test)
    print(f"bag of words, {N_LABELS} labels: test accuracy {np.mean(scores):.3f} +- {np.std(scores):.3f} "
          f"over {N_DRAWS} draws")

    documents = [" ".join(doc.sentences) for doc in load_documents("train")]
    index, vectors = word_vectors(documents)
    v_train, v_test = average_vectors(train_texts, index, vectors), average_vectors(test_texts, index, vectors)
    scores = few_label_accuracies(v_train, y_train, v_test, y_test, lr=1.0, steps=2000)
    print(f"word vectors from unlabelled documents, {N_LABELS} labels: test accuracy "
          f"{np.mean(scores):.3f} +- {np.std(scores):.3f} over {N_DRAWS} draws")


if __name__ == "__main__":
    main()
