/* orm._core: frame-free item access of Map, over the engine protocol.
 *
 * TableCore is the C base of tables. A Map hands it an access plan with
 * set_plan(): its key encoder, value codec, engine handle and its Python
 * fallbacks. ``tab[txn, key]`` then runs kenc -> txn.get(handle, key) ->
 * decode, and ``tab[txn, key] = value`` kenc -> enc -> txn.put(handle, key,
 * value), both without a Python frame. It calls only the engine protocol's
 * get/put, so it works over any engine. Anything unusual (a key or value the
 * fast codec refuses, an engine error, a miss on an overlong key, a
 * deletion) goes to the fallbacks (an encoded put into a table with indexes
 * goes to its put_indexed), which give the same
 * result and raise the errors that name the table.
 *
 * The plan is validated when set and cannot be changed field by field from
 * Python, so no Python code can leave a NULL or a non-callable where C calls.
 *
 * Decoder is the value decoder of tables with hooks, also frame-free.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

typedef struct {
    PyObject *kenc, *enc, *dec, *dec_slow, *marker, *h, *get_py, *set_py, *del_py, *put_indexed;
    Py_ssize_t maxkey;
    int indexed;          /* encoded writes take put_indexed(txn, kb, value, vb) */
} Plan;

typedef struct {
    PyObject_HEAD
    Plan p;
    int ready;
} Core;

static PyObject *s_get, *s_put;

#define PLAN_FIELDS(X) X(kenc) X(enc) X(dec) X(dec_slow) X(marker) X(h) X(get_py) X(set_py) X(del_py) X(put_indexed)

static int core_traverse(Core *self, visitproc visit, void *arg) {
#define VISIT(f) Py_VISIT(self->p.f);
    PLAN_FIELDS(VISIT)
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int core_clear(Core *self) {
    self->ready = 0;
#define CLEAR(f) Py_CLEAR(self->p.f);
    PLAN_FIELDS(CLEAR)
    return 0;
}

/* The dealloc of both types (and of Python subclasses of TableCore): clear, free, drop the heap type. */
static void gc_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    tp->tp_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *not_ready(void) {
    PyErr_SetString(PyExc_TypeError, "table is not initialised (its __init__ did not run)");
    return NULL;
}

/* set_plan(kenc, enc, dec, dec_slow, marker, handle, maxkey, indexed, get_py, set_py, del_py, put_indexed) */
static PyObject *core_set_plan(Core *self, PyObject *args) {
    Plan n;
    int indexed;
    if (!PyArg_ParseTuple(args, "OOOOOOnpOOOO:set_plan", &n.kenc, &n.enc, &n.dec, &n.dec_slow, &n.marker, &n.h,
                          &n.maxkey, &indexed, &n.get_py, &n.set_py, &n.del_py, &n.put_indexed))
        return NULL;
    PyObject *must_call[] = {n.kenc, n.enc, n.dec, n.get_py, n.set_py, n.del_py, n.put_indexed};
    for (size_t i = 0; i < sizeof must_call / sizeof must_call[0]; i++)
        if (!PyCallable_Check(must_call[i])) {
            PyErr_SetString(PyExc_TypeError, "set_plan: codecs and fallbacks must be callable");
            return NULL;
        }
    if (n.marker != Py_None && !(PyBytes_CheckExact(n.marker) && PyBytes_GET_SIZE(n.marker) > 0 &&
                                 PyCallable_Check(n.dec_slow))) {
        PyErr_SetString(PyExc_TypeError, "set_plan: marker must be None or non-empty bytes with a callable dec_slow");
        return NULL;
    }
    n.indexed = indexed;
    Plan old = self->p;
#define NEWREF(f) Py_INCREF(n.f);
    PLAN_FIELDS(NEWREF)
    self->p = n;
    self->ready = 1;
#define OLDREF(f) Py_XDECREF(old.f);
    PLAN_FIELDS(OLDREF)
    Py_RETURN_NONE;
}

/* fn(args), holding fn and the plan's objects alive: Python code may replace the plan meanwhile. */
static PyObject *call(PyObject *fn, PyObject *const *args, size_t n) {
    Py_INCREF(fn);
    PyObject *r = PyObject_Vectorcall(fn, args, n, NULL);
    Py_DECREF(fn);
    return r;
}

/* marker in data, for bytes: memchr finds candidates far faster than bytes.__contains__. */
static int contains(PyObject *data, PyObject *marker) {
    const char *p = PyBytes_AS_STRING(data), *m = PyBytes_AS_STRING(marker);
    Py_ssize_t mn = PyBytes_GET_SIZE(marker);
    const char *last = p + PyBytes_GET_SIZE(data) - mn;
    while (p <= last) {
        p = memchr(p, m[0], (size_t)(last - p) + 1);
        if (p == NULL)
            return 0;
        if (memcmp(p, m, (size_t)mn) == 0)
            return 1;
        p++;
    }
    return 0;
}

static PyObject *fallback(PyObject *fn, PyObject *const *args, size_t n) {
    PyErr_Clear();
    return call(fn, args, n);
}

static PyObject *core_subscript(Core *self, PyObject *tk) {
    if (!self->ready)
        return not_ready();
    Plan *p = &self->p;
    if (!PyTuple_CheckExact(tk) || PyTuple_GET_SIZE(tk) != 2)
        return fallback(p->get_py, &tk, 1);
    PyObject *key = PyTuple_GET_ITEM(tk, 1);
    PyObject *kb = call(p->kenc, &key, 1);
    if (kb == NULL || !PyBytes_CheckExact(kb)) {
        Py_XDECREF(kb);
        return fallback(p->get_py, &tk, 1);
    }
    PyObject *get = PyObject_GetAttr(PyTuple_GET_ITEM(tk, 0), s_get);
    if (get == NULL) {
        Py_DECREF(kb);
        return fallback(p->get_py, &tk, 1);
    }
    PyObject *h = Py_NewRef(p->h);
    PyObject *args[2] = {h, kb};
    PyObject *data = PyObject_Vectorcall(get, args, 2, NULL);
    Py_DECREF(get);
    Py_DECREF(h);
    Py_ssize_t klen = PyBytes_GET_SIZE(kb);
    Py_DECREF(kb);
    if (data == NULL || (data == Py_None && klen > p->maxkey) || (data != Py_None && !PyBytes_CheckExact(data))) {
        /* An engine error, or a miss the Python path must check against the key limit. */
        Py_XDECREF(data);
        return fallback(p->get_py, &tk, 1);
    }
    if (data == Py_None)
        return data;
    PyObject *fn = p->dec;
    if (p->marker != Py_None) {
        if (contains(data, p->marker))
            fn = p->dec_slow;
    }
    PyObject *value = call(fn, &data, 1);
    Py_DECREF(data);
    return value;
}

static int status(PyObject *r) {
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int core_ass_subscript(Core *self, PyObject *tk, PyObject *value) {
    if (!self->ready)
        return status(not_ready());
    Plan *p = &self->p;
    if (value == NULL)
        return status(call(p->del_py, &tk, 1));
    PyObject *slow[2] = {tk, value};
    if (!PyTuple_CheckExact(tk) || PyTuple_GET_SIZE(tk) != 2)
        return status(call(p->set_py, slow, 2));
    PyObject *key = PyTuple_GET_ITEM(tk, 1);
    PyObject *kb = call(p->kenc, &key, 1);
    if (kb == NULL || !PyBytes_CheckExact(kb)) {
        Py_XDECREF(kb);
        return status(fallback(p->set_py, slow, 2));
    }
    /* Encoders are pure, so the fallback may safely redo what ran here. */
    PyObject *vb = call(p->enc, &value, 1);
    if (vb == NULL || !PyBytes_CheckExact(vb)) {
        Py_DECREF(kb);
        Py_XDECREF(vb);
        return status(fallback(p->set_py, slow, 2));
    }
    if (p->indexed) {
        PyObject *iargs[4] = {PyTuple_GET_ITEM(tk, 0), kb, value, vb};
        PyObject *r = call(p->put_indexed, iargs, 4);
        Py_DECREF(kb);
        Py_DECREF(vb);
        return status(r);
    }
    PyObject *put = PyObject_GetAttr(PyTuple_GET_ITEM(tk, 0), s_put);
    if (put == NULL) {
        Py_DECREF(kb);
        Py_DECREF(vb);
        return status(fallback(p->set_py, slow, 2));
    }
    PyObject *h = Py_NewRef(p->h);
    PyObject *args[3] = {h, kb, vb};
    PyObject *r = PyObject_Vectorcall(put, args, 3, NULL);
    Py_DECREF(put);
    Py_DECREF(h);
    Py_DECREF(kb);
    Py_DECREF(vb);
    if (r != NULL)
        return status(r);
    /* The engine refused the put, which wrote nothing: the Python path raises the error naming the table. */
    return status(fallback(p->set_py, slow, 2));
}

/* Decoder(fast, slow, marker, after): slow(data) if marker in data else fast(data),
 * then after(value) unless after is None. A hooked table's decoder without a
 * Python frame; values.compose builds the same thing in Python. */
typedef struct {
    PyObject_HEAD
    PyObject *fast, *slow, *marker, *after;
    vectorcallfunc vectorcall;
} Decoder;

static PyObject *decoder_call(Decoder *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a decoder takes one argument: the stored bytes");
        return NULL;
    }
    if (self->fast == NULL) {
        PyErr_SetString(PyExc_TypeError, "decoder was cleared");
        return NULL;
    }
    PyObject *data = args[0];
    PyObject *fn = self->fast;
    if (!PyBytes_CheckExact(data) || contains(data, self->marker))
        fn = self->slow;
    PyObject *value = call(fn, &data, 1);
    if (value == NULL || self->after == Py_None)
        return value;
    PyObject *out = call(self->after, &value, 1);
    Py_DECREF(value);
    return out;
}

static PyObject *decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *fast, *slow, *marker, *after;
    static char *names[] = {"fast", "slow", "marker", "after", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOSO:Decoder", names, &fast, &slow, &marker, &after))
        return NULL;
    if (!PyCallable_Check(fast) || !PyCallable_Check(slow) || (after != Py_None && !PyCallable_Check(after)) ||
        !PyBytes_CheckExact(marker) || PyBytes_GET_SIZE(marker) == 0) {
        PyErr_SetString(PyExc_TypeError, "Decoder needs callables fast and slow, non-empty bytes marker, "
                                         "and a callable or None after");
        return NULL;
    }
    Decoder *self = (Decoder *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->fast = Py_NewRef(fast);
    self->slow = Py_NewRef(slow);
    self->marker = Py_NewRef(marker);
    self->after = Py_NewRef(after);
    self->vectorcall = (vectorcallfunc)decoder_call;
    return (PyObject *)self;
}

static int decoder_traverse(Decoder *self, visitproc visit, void *arg) {
    Py_VISIT(self->fast);
    Py_VISIT(self->slow);
    Py_VISIT(self->marker);
    Py_VISIT(self->after);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int decoder_clear(Decoder *self) {
    Py_CLEAR(self->fast);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->marker);
    Py_CLEAR(self->after);
    return 0;
}

static PyMemberDef decoder_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(Decoder, vectorcall), READONLY, NULL},
    {NULL}
};

static PyType_Slot decoder_slots[] = {
    {Py_tp_doc, "Decoder(fast, slow, marker, after): a stored value's decoder with the typed-object check."},
    {Py_tp_new, decoder_new},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_traverse, decoder_traverse},
    {Py_tp_clear, decoder_clear},
    {Py_tp_dealloc, gc_dealloc},
    {Py_tp_members, decoder_members},
    {0, NULL}
};

static PyType_Spec decoder_spec = {
    .name = "orm._core.Decoder",
    .basicsize = sizeof(Decoder),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = decoder_slots,
};

static PyMethodDef core_methods[] = {
    {"set_plan", (PyCFunction)core_set_plan, METH_VARARGS,
     "set_plan(kenc, enc, dec, dec_slow, marker, handle, maxkey, indexed, get_py, set_py, del_py, put_indexed)"},
    {NULL}
};

static PyType_Slot core_slots[] = {
    {Py_tp_doc, "C base of orm tables: Map's item access over the engine protocol."},
    {Py_tp_traverse, core_traverse},
    {Py_tp_clear, core_clear},
    {Py_tp_dealloc, gc_dealloc},
    {Py_tp_methods, core_methods},
    {Py_mp_subscript, core_subscript},
    {Py_mp_ass_subscript, core_ass_subscript},
    {0, NULL}
};

static PyType_Spec core_spec = {
    .name = "orm._core.TableCore",
    .basicsize = sizeof(Core),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = core_slots,
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "orm._core", "C accelerator of orm tables (optional).", -1, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    if ((s_get = PyUnicode_InternFromString("get")) == NULL || (s_put = PyUnicode_InternFromString("put")) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL)
        return NULL;
    PyObject *tp = PyType_FromSpec(&core_spec);
    if (tp == NULL || PyModule_AddObject(m, "TableCore", tp) < 0) {
        Py_XDECREF(tp);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *dt = PyType_FromSpec(&decoder_spec);
    if (dt == NULL || PyModule_AddObject(m, "Decoder", dt) < 0) {
        Py_XDECREF(dt);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
