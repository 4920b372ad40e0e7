"""The Julia set of "High Performance Python" ch. 2, for `yep mprof run`:
a @profile function and two labelled phases, so the plot shows the function
brackets and label spans (README, "Memory over time").

    yep mprof run examples/julia_mprof.py && yep mprof plot
"""
import sys

import yep

X1, X2, Y1, Y2 = -1.8, 1.8, -1.8, 1.8
C_REAL, C_IMAG = -0.62772, -0.42193


def calculate_z(maxiter, zs, cs):
    """Step count of each point under z -> z*z + c, stopping at |z| >= 2
    (benchmarks/julia.py's calculate_z_serial_purepython; this file stands
    alone, so it runs wherever it is copied)."""
    output = [0] * len(zs)
    for i, (z, c) in enumerate(zip(zs, cs)):
        n = 0
        while abs(z) < 2 and n < maxiter:
            z = z * z + c
            n += 1
        output[i] = n
    return output


@profile  # noqa: F821  (a builtin under yep mprof run)
def calc_pure_python(width, max_iterations):
    with yep.label("create_range_of_zs"):
        step = (X2 - X1) / width
        xs = [X1 + i * step for i in range(width)]
        ys = [Y2 - i * step for i in range(width)]
        zs = [complex(x, y) for y in ys for x in xs]
        cs = [complex(C_REAL, C_IMAG)] * len(zs)
    with yep.label("calculate_output"):
        output = calculate_z(max_iterations, zs, cs)
    return sum(output)


if __name__ == "__main__":
    print("iterations:", calc_pure_python(int(sys.argv[1]) if len(sys.argv) > 1 else 600, 300))
