"""yep's bundled example: time spent in three places.

1. a small C extension (demo_kernels.mandelbrot, built by `make demo`),
2. numpy (matrix products and sorting: BLAS and numpy's own C code),
3. pure Python (a prime sieve in the interpreter).

Run it under the profiler with `make demo`, or by hand:
    PYTHONPATH=build/examples python -m yep -v examples/demo.py
"""
import numpy as np

import demo_kernels


def native_part():
    return demo_kernels.mandelbrot(2000, 1500, 800)


def numpy_part():
    rng = np.random.default_rng(0)
    a = rng.random((600, 600))
    total = 0.0
    for _ in range(40):
        total += float((a @ a).sum())
    total += float(np.sort(rng.random(3_000_000))[-1])
    return total


def python_part(limit=10_000_000):
    sieve = [True] * limit
    primes = 0
    for i in range(2, limit):
        if sieve[i]:
            primes += 1
            for j in range(i * i, limit, i):
                sieve[j] = False
    return primes


if __name__ == "__main__":
    print("mandelbrot iterations:", native_part())
    print("numpy checksum:", round(numpy_part(), 3))
    print("primes below 10 million:", python_part())
