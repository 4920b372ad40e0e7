"""The Julia set workload of High Performance Python, ch. 2, in pure Python.

    python benchmarks/julia.py [WIDTH [MAXITER]]        (defaults: 300 300)

A WIDTH x WIDTH grid of complex starting points z over [-1.8, 1.8]^2, each
iterated as z = z*z + c (c = -0.62772-0.42193j, kept in a list of its own,
one per point, as the book does to have two input lists) until |z| >= 2 or
MAXITER steps; the step count of each point is the output.

calculate_z_serial_purepython carries @profile so that `yep memory`,
`python -m memory_profiler` and `kernprof -l` profile it line by line; run
plainly, @profile is a no-op defined below. Prints the wall time of the
calculation alone as work_seconds=<float>, and the sum of the step counts
(iterations_sum=<int>), which depends only on WIDTH and MAXITER.
"""
import sys
import time

try:  # injected as a builtin (yep memory, kernprof) or a global (memory_profiler)
    profile
except NameError:  # run plainly: a no-op

    def profile(func):
        return func


X_MIN, X_MAX, Y_MIN, Y_MAX = -1.8, 1.8, -1.8, 1.8
C_REAL, C_IMAG = -0.62772, -0.42193

# Sums measured once (1000 x 300 is the book's 33219980); a run of a listed size must match.
EXPECTED_SUMS = {(100, 300): 334236, (300, 300): 3004102, (1000, 300): 33219980}


@profile
def calculate_z_serial_purepython(maxiter, zs, cs):
    """Step count of each point under z -> z*z + c, stopping at |z| >= 2."""
    output = [0] * len(zs)
    for i in range(len(zs)):
        n = 0
        z = zs[i]
        c = cs[i]
        while abs(z) < 2 and n < maxiter:
            z = z * z + c
            n += 1
        output[i] = n
    return output


def calc_pure_python(desired_width, max_iterations):
    """Builds the grid's zs and cs lists, runs the calculation, checks it."""
    x_step = (X_MAX - X_MIN) / desired_width
    y_step = (Y_MIN - Y_MAX) / desired_width  # negative: rows from the top down
    xs = []
    x = X_MIN
    while x < X_MAX:
        xs.append(x)
        x += x_step
    ys = []
    y = Y_MAX
    while y > Y_MIN:
        ys.append(y)
        y += y_step
    zs = []
    cs = []
    for y in ys:
        for x in xs:
            zs.append(complex(x, y))
            cs.append(complex(C_REAL, C_IMAG))
    print(f"width={len(xs)} points={len(zs)} maxiter={max_iterations}")

    started = time.perf_counter()
    output = calculate_z_serial_purepython(max_iterations, zs, cs)
    seconds = time.perf_counter() - started
    print(f"work_seconds={seconds:.6f}")

    total = sum(output)
    print(f"iterations_sum={total}")
    expected = EXPECTED_SUMS.get((desired_width, max_iterations))
    if expected is not None and total != expected:
        raise SystemExit(f"julia: iterations_sum {total} != expected {expected}: the calculation is wrong")
    return output


if __name__ == "__main__":
    width = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    maxiter = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    calc_pure_python(desired_width=width, max_iterations=maxiter)
