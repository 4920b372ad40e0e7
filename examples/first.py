"""A first profile: numpy's C code and BLAS, and pure Python.

    python -m yep -v examples/first.py
"""
import numpy as np


def products(a):
    total = 0.0
    for _ in range(30):
        total += float((a @ a).sum())
    return total


def words(n):
    counts = {}
    for i in range(n):
        word = str(i * 7919 % 10007).upper()
        counts[word] = counts.get(word, 0) + 1
    return len(counts)


if __name__ == "__main__":
    a = np.random.default_rng(0).random((500, 500))
    print("products:", round(products(a), 1))
    print("distinct words:", words(2_000_000))
