/* The demo's own C extension: a native hot spot for yep to find.
 * mandelbrot_rows(width, height, maxiter) counts escape iterations over a
 * grid, the classic CPU-bound kernel, and returns the total. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long escape_time(double cr, double ci, long maxiter) {
    double zr = 0.0, zi = 0.0;
    long n = 0;
    while (n < maxiter && zr * zr + zi * zi < 4.0) {
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        ++n;
    }
    return n;
}

static PyObject *mandelbrot(PyObject *self, PyObject *args) {
    long width, height, maxiter;
    if (!PyArg_ParseTuple(args, "lll", &width, &height, &maxiter)) return NULL;
    long total = 0;
    Py_BEGIN_ALLOW_THREADS
    for (long y = 0; y < height; ++y)
        for (long x = 0; x < width; ++x)
            total += escape_time(-2.0 + 3.0 * x / width, -1.5 + 3.0 * y / height, maxiter);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(total);
}

static PyMethodDef methods[] = {
    {"mandelbrot", mandelbrot, METH_VARARGS, "Total escape iterations over a width x height grid."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "demo_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit_demo_kernels(void) { return PyModule_Create(&module); }
