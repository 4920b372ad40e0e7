"""The Julia set of "High Performance Python" ch. 2, for `yep mprof run`:
two @profile functions and two labelled phases, so the plot shows function
brackets and label spans (README, "Memory over time").

    yep mprof run examples/julia_mprof.py && yep mprof plot
"""
import sys
from pathlib import Path

import yep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import julia  # noqa: E402  (the benchmark's workload: calculate_z_serial_purepython)

X1, X2, Y1, Y2 = -1.8, 1.8, -1.8, 1.8
C_REAL, C_IMAG = -0.62772, -0.42193


@profile  # noqa: F821  (a builtin under yep mprof run)
def calc_pure_python(width, max_iterations):
    with yep.label("create_range_of_zs"):
        step = (X2 - X1) / width
        xs = [X1 + i * step for i in range(width)]
        ys = [Y2 - i * step for i in range(width)]
        zs = [complex(x, y) for y in ys for x in xs]
        cs = [complex(C_REAL, C_IMAG)] * len(zs)
    with yep.label("calculate_output"):
        output = julia.calculate_z_serial_purepython(max_iterations, zs, cs)
    return sum(output)


if __name__ == "__main__":
    print("iterations:", calc_pure_python(int(sys.argv[1]) if len(sys.argv) > 1 else 600, 300))
