/* The native part of benchmarks/compare.py's workload: a C extension
 * compiled with -g in each run, so that profiles of the workload have
 * native frames with DWARF for the converters to symbolize.
 *   spin(n)       n steps of a floating point recurrence (CPU bound)
 *   mix(n)        n steps of an integer hash (a second hot spot) */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static double recurrence(long n) {
    double x = 0.0;
    for (long i = 0; i < n; ++i) x = x * 0.999999 + (double)(i & 7);
    return x;
}

static PyObject *spin(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    return PyFloat_FromDouble(recurrence(n));
}

static uint64_t hash_steps(long n) {
    uint64_t h = 1469598103934665603ull;
    for (long i = 0; i < n; ++i) {
        h ^= (uint64_t)i;
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static PyObject *mix(PyObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    return PyLong_FromUnsignedLongLong(hash_steps(n));
}

static PyMethodDef methods[] = {
    {"spin", spin, METH_O, "n steps of a floating point recurrence"},
    {"mix", mix, METH_O, "n steps of an integer hash"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "bench_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit_bench_kernels(void) { return PyModule_Create(&module); }
