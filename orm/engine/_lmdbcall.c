/* orm.engine._lmdbcall: the LMDB engine's calls into py-lmdb without a Python frame.
 *
 * The engine protocol takes (handle, key, ...); py-lmdb takes (key, ...,
 * db=handle), and keyword parsing costs it 0.15 us a call. Call(fn, pattern,
 * nargs, on_error) is a callable taking exactly nargs positional arguments
 * that calls fn with the arguments the pattern lists: an exact int i in the
 * pattern stands for argument i, anything else is passed as it is. If fn
 * raises, on_error(exception, args) decides (the engine turns py-lmdb errors
 * into orm errors there), so no raw engine exception leaves the engine.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define MAXARGS 8

typedef struct {
    PyObject_HEAD
    PyObject *fn, *pattern, *on_error;
    Py_ssize_t nargs, nout;
    Py_ssize_t index[MAXARGS];  /* -1: the pattern's constant */
    vectorcallfunc vectorcall;
} Call;

static PyObject *call_call(Call *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (n != self->nargs || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_Format(PyExc_TypeError, "takes exactly %zd positional arguments (%zd given)", self->nargs, n);
        return NULL;
    }
    if (self->fn == NULL) {
        PyErr_SetString(PyExc_TypeError, "call was cleared");
        return NULL;
    }
    PyObject *stack[MAXARGS];
    for (Py_ssize_t i = 0; i < self->nout; i++)
        stack[i] = self->index[i] < 0 ? PyTuple_GET_ITEM(self->pattern, i) : args[self->index[i]];
    PyObject *fn = Py_NewRef(self->fn);
    PyObject *r = PyObject_Vectorcall(fn, stack, self->nout, NULL);
    Py_DECREF(fn);
    if (r != NULL || !PyErr_ExceptionMatches(PyExc_Exception))
        return r;
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (tb != NULL && exc != NULL)
        PyException_SetTraceback(exc, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (exc == NULL)
        return NULL;
    PyObject *argt = PyTuple_New(n);
    if (argt == NULL) {
        Py_DECREF(exc);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(argt, i, Py_NewRef(args[i]));
    PyObject *handler = Py_NewRef(self->on_error);
    PyObject *hargs[2] = {exc, argt};
    r = PyObject_Vectorcall(handler, hargs, 2, NULL);
    Py_DECREF(handler);
    Py_DECREF(exc);
    Py_DECREF(argt);
    return r;
}

static PyObject *call_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *fn, *pattern, *on_error;
    Py_ssize_t nargs;
    static char *names[] = {"fn", "pattern", "nargs", "on_error", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!nO:Call", names, &fn, &PyTuple_Type, &pattern, &nargs,
                                     &on_error))
        return NULL;
    Py_ssize_t nout = PyTuple_GET_SIZE(pattern);
    if (!PyCallable_Check(fn) || !PyCallable_Check(on_error) || nout > MAXARGS || nargs < 0 || nargs > MAXARGS) {
        PyErr_SetString(PyExc_TypeError, "Call needs callables fn and on_error, at most 8 arguments in and out");
        return NULL;
    }
    Call *self = (Call *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nout; i++) {
        PyObject *item = PyTuple_GET_ITEM(pattern, i);
        self->index[i] = -1;
        if (PyLong_CheckExact(item)) {
            Py_ssize_t j = PyLong_AsSsize_t(item);
            if (j < 0 || j >= nargs) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "Call: an argument index is out of range");
                Py_DECREF(self);
                return NULL;
            }
            self->index[i] = j;
        }
    }
    self->fn = Py_NewRef(fn);
    self->pattern = Py_NewRef(pattern);
    self->on_error = Py_NewRef(on_error);
    self->nargs = nargs;
    self->nout = nout;
    self->vectorcall = (vectorcallfunc)call_call;
    return (PyObject *)self;
}

static int call_traverse(Call *self, visitproc visit, void *arg) {
    Py_VISIT(self->fn);
    Py_VISIT(self->pattern);
    Py_VISIT(self->on_error);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int call_clear(Call *self) {
    Py_CLEAR(self->fn);
    Py_CLEAR(self->pattern);
    Py_CLEAR(self->on_error);
    return 0;
}

static void call_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    call_clear((Call *)self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef call_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(Call, vectorcall), READONLY, NULL},
    {NULL}
};

static PyType_Slot call_slots[] = {
    {Py_tp_doc, "Call(fn, pattern, nargs, on_error): fn called with its arguments rearranged."},
    {Py_tp_new, call_new},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, call_traverse},
    {Py_tp_clear, call_clear},
    {Py_tp_dealloc, call_dealloc},
    {Py_tp_members, call_members},
    {0, NULL}
};

static PyType_Spec call_spec = {
    .name = "orm.engine._lmdbcall.Call",
    .basicsize = sizeof(Call),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = call_slots,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "orm.engine._lmdbcall", "Frame-free calls into py-lmdb (optional).", -1, NULL,
};

PyMODINIT_FUNC PyInit__lmdbcall(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    PyObject *tp = PyType_FromSpec(&call_spec);
    if (tp == NULL || PyModule_AddObject(m, "Call", tp) < 0) {
        Py_XDECREF(tp);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
