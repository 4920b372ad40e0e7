"""A program to compare two runs of: `python -m yep -o before.prof compare.py`,
then `python -m yep -o after.prof compare.py --slower`, where checksum()
does twice the work and the program imports more modules first."""
import sys

SLOWER = "--slower" in sys.argv
if SLOWER:
    import decimal, json, statistics  # noqa: E401,F401 (unrelated: other modules loaded first)


def checksum(data):
    s = 0
    for _ in range(2 if SLOWER else 1):
        for b in data:
            s = (s * 31 + b) & 0xFFFFFFFF
    return s


def vowels(text):
    return sum(text.count(v) for v in "aeiou")


data = bytes(range(256)) * 4000
text = "the quick brown fox jumps over the lazy dog " * 20000
for _ in range(3):
    checksum(data)
    for _ in range(150):
        vowels(text)
