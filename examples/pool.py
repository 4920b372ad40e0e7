"""A program that hands its work to worker processes: a spawn Pool(2) runs
eight tasks, hot ones doing three times the work of cold ones. Profile it
with `python -m yep --subprocesses -v pool.py`: without the option, the
profile holds only the waiting parent."""
import multiprocessing


def hot(n):
    x = 0.0
    for i in range(3 * n):
        x = x * 0.999999 + (i & 7)
    return x


def cold(n):
    x = 0.0
    for i in range(n):
        x = x * 0.999999 + (i & 7)
    return x


def task(kind):
    return hot(1_000_000) if kind == "hot" else cold(1_000_000)


if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(task, ["hot", "cold"] * 4)
    print(f"{len(results)} tasks done")
