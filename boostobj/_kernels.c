/* boostobj._kernels: the weighted-logistic gradient and hessian in one pass (optional).
 *
 * The math is boostobj.losses.WeightedLogistic's numpy kernel, fused: with a = -sign(r) w
 * (its third coefficient), sign(r) = -sign(a) and w = |a| (a = 0 gives grad = hess = 0):
 *
 *     e = exp(clip(sign(r) f, -40, 40)),  t = 1 / (1 + e)   (the wrong side's probability)
 *     grad = a t,                         hess = |a| e t^2 = w s (1 - s)
 *
 * One pass reads 8 bytes and writes 8 bytes per row, where numpy's nine passes over
 * cache-sized chunks read and write about ten times that. exp is a branch-free Cephes
 * polynomial (about 1 ulp on the clipped range), so compilers vectorise the loop; on x86-64
 * Linux, GCC and Clang also build AVX2 and AVX-512 versions and pick one at load time.
 * The GIL is released, so boostobj's thread pool runs chunks in parallel.
 * Built by setup.py when a C compiler is present; boostobj falls back to numpy otherwise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CLIP 40.0f /* losses._CLIP: sigmoid(40) = 1 - 4e-18, all a float32 booster sees */

#if defined(__linux__) && defined(__x86_64__) && defined(__GNUC__) && !defined(__INTEL_COMPILER)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* exp(x) for |x| <= CLIP: Cody-Waite reduction by ln 2, Cephes' expf polynomial, 2^k from
 * the exponent bits (k + 127 stays in [69, 185]: a normal float). NaN stays NaN. */
static inline float exp_clipped(float x) {
    const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* rint(x/ln2) */
    float r = x - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

CLONES static void logistic_loop(const float *restrict f, const float *restrict a,
                                 float *restrict grad, float *restrict hess, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        float z = copysignf(1.0f, -a[i]) * f[i]; /* sign(r) f */
        z = z > CLIP ? CLIP : z;
        z = z < -CLIP ? -CLIP : z;
        const float e = exp_clipped(z);
        const float t = 1.0f / (1.0f + e);
        grad[i] = t * a[i];
        hess[i] = e * t * t * fabsf(a[i]);
    }
}

static int float32_vector(PyObject *obj, Py_buffer *view, int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->ndim != 1 || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_ValueError, "%s must be a 1-D float32 array", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *logistic(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    static const char *names[4] = {"margin", "neg_sign_w", "grad", "hess"};
    Py_buffer views[4];
    int held = 0;
    (void)self;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "logistic(margin, neg_sign_w, grad, hess)");
        return NULL;
    }
    for (; held < 4; held++) {
        if (float32_vector(args[held], &views[held], held >= 2, names[held]) < 0) {
            goto fail;
        }
        if (views[held].shape[0] != views[0].shape[0]) {
            PyErr_Format(PyExc_ValueError, "%s has %zd rows, margin has %zd", names[held],
                         views[held].shape[0], views[0].shape[0]);
            held++;
            goto fail;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    logistic_loop(views[0].buf, views[1].buf, views[2].buf, views[3].buf, views[0].shape[0]);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < held; i++) {
        PyBuffer_Release(&views[i]);
    }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < held; i++) {
        PyBuffer_Release(&views[i]);
    }
    return NULL;
}

static PyMethodDef methods[] = {
    {"logistic", (PyCFunction)(void (*)(void))logistic, METH_FASTCALL,
     "logistic(margin, neg_sign_w, grad, hess): WeightedLogistic's kernel into grad and hess "
     "(1-D float32 arrays of one length)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "boostobj._kernels", "boostobj's optional compiled kernels.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
