/* orm._core: the C base of orm tables.
 *
 * It holds the attributes the hot paths read and implements Map's
 * ``tab[txn, key]`` and ``tab[txn, key] = value`` without a Python frame.
 * Only the common case runs here. Anything unusual (a key or value the fast
 * codec refuses, an engine error, a miss on a key longer than the engine
 * limit, indexes) goes to the Python methods of the table, which give the
 * same result and raise the errors that name the table. orm/core.py holds
 * the Python twin used when this module is not built.
 *
 * Decoder is the value decoder of tables with hooks, also frame-free.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *kenc;      /* key -> bytes (fast codec) */
    PyObject *h;         /* engine handle of the table */
    PyObject *enc;       /* value -> bytes */
    PyObject *dec;       /* bytes -> value */
    PyObject *dec_slow;  /* decoder for values that carry the typed-object marker */
    PyObject *marker;    /* bytes, or None: values containing it need dec_slow */
    PyObject *idx;       /* tuple of indexes; writes with indexes take the Python path */
    PyObject *op_put;    /* the write log opcode of an overwriting put */
    Py_ssize_t maxkey;   /* engine key limit; 0 until bound */
} Core;

static PyObject *s_get, *s_put_raw, *s_wlog, *s_getitem_py, *s_setitem_py, *s_delitem_py,
    *s_put_indexed, *s_put_failed;

static int core_traverse(Core *self, visitproc visit, void *arg) {
    Py_VISIT(self->kenc);
    Py_VISIT(self->h);
    Py_VISIT(self->enc);
    Py_VISIT(self->dec);
    Py_VISIT(self->dec_slow);
    Py_VISIT(self->marker);
    Py_VISIT(self->idx);
    Py_VISIT(self->op_put);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int core_clear(Core *self) {
    Py_CLEAR(self->kenc);
    Py_CLEAR(self->h);
    Py_CLEAR(self->enc);
    Py_CLEAR(self->dec);
    Py_CLEAR(self->dec_slow);
    Py_CLEAR(self->marker);
    Py_CLEAR(self->idx);
    Py_CLEAR(self->op_put);
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

/* The Python method name(*args) of self. */
static PyObject *call_method(Core *self, PyObject *name, PyObject *const *args, size_t nargs) {
    PyObject *stack[7];
    stack[0] = (PyObject *)self;
    for (size_t i = 0; i < nargs; i++)
        stack[i + 1] = args[i];
    return PyObject_VectorcallMethod(name, stack, (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
}

/* fn(arg), holding fn: a table attribute may be replaced while the call runs Python code. */
static PyObject *call1(PyObject *fn, PyObject *arg) {
    Py_INCREF(fn);
    PyObject *r = PyObject_CallOneArg(fn, arg);
    Py_DECREF(fn);
    return r;
}

static PyObject *slow_get(Core *self, PyObject *tk) {
    PyErr_Clear();
    return call_method(self, s_getitem_py, &tk, 1);
}

/* marker in data, for bytes: memchr finds candidates far faster than bytes.__contains__. */
static int contains(PyObject *data, PyObject *marker) {
    if (!PyBytes_CheckExact(marker) || PyBytes_GET_SIZE(marker) == 0)
        return PySequence_Contains(data, marker);
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

static PyObject *decode(Core *self, PyObject *data) {
    PyObject *fn = self->dec;
    if (self->marker != NULL && self->marker != Py_None && PyBytes_CheckExact(data) &&
        self->dec_slow != NULL && self->dec_slow != Py_None) {
        int has = contains(data, self->marker);
        if (has < 0)
            return NULL;
        if (has)
            fn = self->dec_slow;
    }
    return call1(fn, data);
}

static PyObject *core_subscript(Core *self, PyObject *tk) {
    if (!PyTuple_CheckExact(tk) || PyTuple_GET_SIZE(tk) != 2 || self->kenc == NULL || self->dec == NULL)
        return slow_get(self, tk);
    PyObject *txn = PyTuple_GET_ITEM(tk, 0);
    PyObject *kb = call1(self->kenc, PyTuple_GET_ITEM(tk, 1));
    if (kb == NULL || !PyBytes_CheckExact(kb)) {
        Py_XDECREF(kb);
        return slow_get(self, tk);
    }
    PyObject *get = PyObject_GetAttr(txn, s_get);
    if (get == NULL || self->h == NULL) {
        Py_DECREF(kb);
        Py_XDECREF(get);
        return slow_get(self, tk);
    }
    PyObject *h = Py_NewRef(self->h);
    PyObject *args[3] = {kb, Py_None, h};
    PyObject *data = PyObject_Vectorcall(get, args, 3, NULL);
    Py_DECREF(get);
    Py_DECREF(h);
    if (data == NULL || (data == Py_None && PyBytes_GET_SIZE(kb) > self->maxkey)) {
        /* An engine error, or a miss the Python path must check against the key limit. */
        Py_DECREF(kb);
        Py_XDECREF(data);
        return slow_get(self, tk);
    }
    Py_DECREF(kb);
    if (data == Py_None)
        return data;
    PyObject *value = decode(self, data);
    Py_DECREF(data);
    return value;
}

static int set_slow(Core *self, PyObject *tk, PyObject *value) {
    PyErr_Clear();
    PyObject *args[2] = {tk, value};
    PyObject *r = call_method(self, s_setitem_py, args, 2);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Append (PUT, handle, key, value) to the transaction's write log. */
static int log_put(Core *self, PyObject *txn, PyObject *h, PyObject *kb, PyObject *vb) {
    if (self->op_put == NULL) {
        PyErr_SetString(PyExc_AttributeError, "table has no _op_put");
        return -1;
    }
    PyObject *log = PyObject_GetAttr(txn, s_wlog);
    if (log == NULL)
        return -1;
    int rc = 0;
    if (log == Py_None) {
        /* the map cannot grow: nothing to replay */
    } else if (PyList_CheckExact(log)) {
        rc = (PyList_Append(log, self->op_put) || PyList_Append(log, h) || PyList_Append(log, kb) ||
              PyList_Append(log, vb)) ? -1 : 0;
    } else {
        PyObject *entry = PyTuple_Pack(4, self->op_put, h, kb, vb);
        PyObject *grown = entry ? PyNumber_InPlaceAdd(log, entry) : NULL;
        Py_XDECREF(entry);
        rc = grown ? PyObject_SetAttr(txn, s_wlog, grown) : -1;
        Py_XDECREF(grown);
    }
    Py_DECREF(log);
    return rc;
}

static int core_ass_subscript(Core *self, PyObject *tk, PyObject *value) {
    PyObject *r;
    if (value == NULL) {
        r = call_method(self, s_delitem_py, &tk, 1);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if (!PyTuple_CheckExact(tk) || PyTuple_GET_SIZE(tk) != 2 || self->kenc == NULL)
        return set_slow(self, tk, value);
    PyObject *txn = PyTuple_GET_ITEM(tk, 0);
    PyObject *key = PyTuple_GET_ITEM(tk, 1);
    PyObject *kb = call1(self->kenc, key);
    if (kb == NULL || !PyBytes_CheckExact(kb)) {
        Py_XDECREF(kb);
        return set_slow(self, tk, value);
    }
    /* Encoders are pure, so the Python path may safely redo what ran here. The
     * other attributes are checked after them: they run Python code. */
    PyObject *vb = self->enc ? call1(self->enc, value) : NULL;
    if (vb == NULL || self->h == NULL || self->idx == NULL || self->op_put == NULL) {
        Py_DECREF(kb);
        Py_XDECREF(vb);
        return set_slow(self, tk, value);
    }
    PyObject *h = Py_NewRef(self->h);
    int rc = 0;
    if (!PyTuple_Check(self->idx) || PyTuple_GET_SIZE(self->idx) != 0) {
        PyObject *args[4] = {txn, kb, value, vb};
        r = call_method(self, s_put_indexed, args, 4);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
        goto done;
    }
    PyObject *put = PyObject_GetAttr(txn, s_put_raw);
    if (put == NULL) {
        Py_DECREF(kb);
        Py_DECREF(vb);
        Py_DECREF(h);
        return set_slow(self, tk, value);
    }
    PyObject *args[6] = {kb, vb, Py_True, Py_True, Py_False, h};
    r = PyObject_Vectorcall(put, args, 6, NULL);
    Py_DECREF(put);
    if (r != NULL) {
        Py_DECREF(r);
        rc = log_put(self, txn, h, kb, vb);
        goto done;
    }
    /* The engine refused the put (map full, bad size, ...): the table decides. */
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (tb != NULL && exc != NULL)
        PyException_SetTraceback(exc, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (exc == NULL) {
        rc = -1;
        goto done;
    }
    PyObject *fargs[5] = {txn, exc, key, kb, vb};
    r = call_method(self, s_put_failed, fargs, 5);
    Py_DECREF(exc);
    rc = r ? 0 : -1;
    Py_XDECREF(r);
done:
    Py_DECREF(kb);
    Py_DECREF(vb);
    Py_DECREF(h);
    return rc;
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
    PyObject *data = args[0];
    PyObject *fn = self->fast;
    if (PyBytes_CheckExact(data)) {
        int has = contains(data, self->marker);
        if (has < 0)
            return NULL;
        if (has)
            fn = self->slow;
    } else {
        fn = self->slow;
    }
    PyObject *value = PyObject_CallOneArg(fn, data);
    if (value == NULL || self->after == Py_None)
        return value;
    PyObject *out = PyObject_CallOneArg(self->after, value);
    Py_DECREF(value);
    return out;
}

static PyObject *decoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *fast, *slow, *marker, *after;
    static char *names[] = {"fast", "slow", "marker", "after", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOSO:Decoder", names, &fast, &slow, &marker, &after))
        return NULL;
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

static PyMemberDef core_members[] = {
    {"_kenc", T_OBJECT_EX, offsetof(Core, kenc), 0, NULL},
    {"_h", T_OBJECT_EX, offsetof(Core, h), 0, NULL},
    {"_enc", T_OBJECT_EX, offsetof(Core, enc), 0, NULL},
    {"_dec", T_OBJECT_EX, offsetof(Core, dec), 0, NULL},
    {"_dec_slow", T_OBJECT_EX, offsetof(Core, dec_slow), 0, NULL},
    {"_marker", T_OBJECT_EX, offsetof(Core, marker), 0, NULL},
    {"_idx", T_OBJECT_EX, offsetof(Core, idx), 0, NULL},
    {"_op_put", T_OBJECT_EX, offsetof(Core, op_put), 0, NULL},
    {"_maxkey", T_PYSSIZET, offsetof(Core, maxkey), 0, NULL},
    {NULL}
};

static PyType_Slot core_slots[] = {
    {Py_tp_doc, "C base of orm tables: hot attributes and Map's item access."},
    {Py_tp_traverse, core_traverse},
    {Py_tp_clear, core_clear},
    {Py_tp_dealloc, gc_dealloc},
    {Py_tp_members, core_members},
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

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC PyInit__core(void) {
    INTERN(s_get, "get");
    INTERN(s_put_raw, "put_raw");
    INTERN(s_wlog, "wlog");
    INTERN(s_getitem_py, "_getitem_py");
    INTERN(s_setitem_py, "_setitem_py");
    INTERN(s_delitem_py, "_delitem_py");
    INTERN(s_put_indexed, "_put_indexed");
    INTERN(s_put_failed, "_put_failed");
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
