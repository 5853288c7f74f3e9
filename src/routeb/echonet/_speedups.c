/* routeb.echonet._speedups: the codec's hot paths in C (optional; see docs/codec.md).
 *
 * Every object here is a *fast path with a fallback*: it handles the common, valid input and
 * hands anything else -- a malformed frame, a sentinel it does not know, an unusual argument
 * type -- to the pure-Python function it was built with, which stays the one definition of the
 * codec's semantics and of every error message and offset. The results are the very same
 * Python objects (Frame, Property, the smart-meter value classes), built the way the Python
 * decoders build them (tp_alloc and direct slot stores, no __init__). tests/test_speedups.py
 * checks both paths against each other on random and mutated input.
 *
 * Wire facts: protocol.md Section A.1 (frame layout), Section B.1 (EDT layouts, sentinels).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <string.h>

/* protocol.md A.1: EHD1 0x10, EHD2 0x81 (format 1); header EHD(2) TID(2) SEOJ(3) DEOJ(3)
 * ESV(1) OPC(1). */
#define EHD1_ECHONET_LITE 0x10
#define EHD2_FORMAT1 0x81
#define HEADER_LEN 12
/* protocol.md A.4: SetGet, SetGet_Res, SetGet_SNA carry two property lists. */
#define ESV_SETGET 0x6E
#define ESV_SETGET_RES 0x7E
#define ESV_SETGET_SNA 0x5E
/* protocol.md B general rules: counts 0..99,999,999; 0xFFFFFFFE = no data. */
#define MAX_COUNT 99999999UL
#define NO_DATA_U32 0xFFFFFFFEUL
/* protocol.md B.1 0xE7: 0x7FFFFFFE no data; 0x7FFFFFFF / 0x80000000 overflow / underflow. */
#define E7_NO_DATA 0x7FFFFFFEL
/* protocol.md B.1 0xE8: 0x7FFE no data (T of single-phase two-wire). */
#define E8_NO_DATA 0x7FFE
/* protocol.md B.1 0xE2/0xE4: day u16 + 48 x u32; day 0..99 or 0x00FF (unset). */
#define HISTORY1_SLOTS 48
#define HISTORY1_LEN (2 + 4 * HISTORY1_SLOTS)
#define MAX_HISTORY_DAY 99
#define HISTORY1_UNSET_DAY 0x00FF
/* protocol.md B.1 0xEA/0xEB: date-time (7: year u16, month, day, hour, minute, second) + u32. */
#define FIXED_TIME_LEN 11

static uint32_t
u32_at(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* A count (0..99,999,999) as an int, no data as None, anything else NULL without an error
 * set: the caller falls back to Python, which raises the right EchonetDecodeError. */
static PyObject *
count_or_none(uint32_t raw)
{
    if (raw <= MAX_COUNT) {
        return PyLong_FromUnsignedLong(raw);
    }
    if (raw == NO_DATA_U32) {
        Py_RETURN_NONE;
    }
    return NULL;
}

/* ---- what both decoder types share -------------------------------------------------------- */

/* Each type starts with its vectorcall slot and the Python function it wraps. */
#define WRAPPER_HEAD \
    PyObject_HEAD \
    vectorcallfunc vectorcall; \
    PyObject *fallback;

typedef struct {
    WRAPPER_HEAD
} Wrapper;

/* The Python function's answer for input the fast path does not take. An error already set
 * (MemoryError and the like) is not the decoder's to hide. */
static PyObject *
call_fallback(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyErr_Occurred()) {
        return NULL;
    }
    return PyObject_Vectorcall(((Wrapper *)self)->fallback, args, nargsf, kwnames);
}

static PyObject *
wrapper_repr(PyObject *self)
{
    return PyUnicode_FromFormat("<C fast path of %R>", ((Wrapper *)self)->fallback);
}

/* help() on a decoder shows its fallback's docstring: they are the same function. */
static PyObject *
wrapper_doc(PyObject *self, void *closure)
{
    return PyObject_GetAttrString(((Wrapper *)self)->fallback, "__doc__");
}

static PyGetSetDef wrapper_getset[] = {
    {"__doc__", wrapper_doc, NULL, NULL, NULL},
    {NULL},
};

static PyMemberDef wrapper_members[] = {
    {"fallback", T_OBJECT, offsetof(Wrapper, fallback), READONLY,
     "The pure-Python function every input the fast path does not take is handed to."},
    {NULL},
};

/* ---- FrameDecoder ------------------------------------------------------------------------- */

/* SEOJ DEOJ ESV (frame bytes 4..10) -> the (SEOJ, DEOJ, ESV) tuple the Python decoder
 * validated and cached; a handful of entries covers a home (028801/05FF01/0EF001 x ESVs). */
#define HEADER_SLOTS 32
#define HEADER_KEY_LEN 7

typedef struct {
    WRAPPER_HEAD            /* fallback: the Python decode_frame */
    PyTypeObject *frame_type;
    PyTypeObject *property_type;
    PyObject *header_cache; /* the Python decoder's dict: bytes(7) -> (EOJ, EOJ, ESV) */
    int n_headers;
    unsigned char header_keys[HEADER_SLOTS][HEADER_KEY_LEN];
    PyObject *headers[HEADER_SLOTS];
} FrameDecoder;

static PyObject *
frame_header(FrameDecoder *self, const unsigned char *key)
{
    for (int i = 0; i < self->n_headers; i++) {
        if (memcmp(self->header_keys[i], key, HEADER_KEY_LEN) == 0) {
            return Py_NewRef(self->headers[i]);
        }
    }
    PyObject *k = PyBytes_FromStringAndSize((const char *)key, HEADER_KEY_LEN);
    if (k == NULL) {
        return NULL;
    }
    PyObject *header = PyDict_GetItemWithError(self->header_cache, k); /* borrowed */
    Py_DECREF(k);
    if (header == NULL || !PyTuple_CheckExact(header) || PyTuple_GET_SIZE(header) != 3) {
        return NULL; /* not seen yet (or an error): the Python decoder validates and caches */
    }
    if (self->n_headers < HEADER_SLOTS) {
        memcpy(self->header_keys[self->n_headers], key, HEADER_KEY_LEN);
        self->headers[self->n_headers++] = Py_NewRef(header);
    }
    return Py_NewRef(header); /* held while the frame is built, whatever runs meanwhile */
}

static PyObject *
new_tuple_of(PyTypeObject *type, Py_ssize_t size)
{
    /* A tuple subclass with __slots__ = (): what tuple.__new__(cls, items) allocates. */
    return type->tp_alloc(type, size);
}

/* The Frame of a checked format-1 frame: `opc` properties from byte 12, ending the data; the
 * (SEOJ, DEOJ, ESV) `header`. Fails only for memory. */
static PyObject *
build_frame(FrameDecoder *self, const unsigned char *data, int opc, PyObject *header)
{
    PyObject *props = PyTuple_New(opc);
    if (props == NULL) {
        return NULL;
    }
    Py_ssize_t pos = HEADER_LEN;
    for (int i = 0; i < opc; i++) {
        int pdc = data[pos + 1];
        PyObject *prop = new_tuple_of(self->property_type, 2);
        if (prop == NULL) {
            Py_DECREF(props);
            return NULL;
        }
        PyTuple_SET_ITEM(props, i, prop);
        PyObject *epc = PyLong_FromLong(data[pos]);
        if (epc == NULL) {
            Py_DECREF(props);
            return NULL;
        }
        PyTuple_SET_ITEM(prop, 0, epc);
        PyObject *edt = PyBytes_FromStringAndSize((const char *)data + pos + 2, pdc);
        if (edt == NULL) {
            Py_DECREF(props);
            return NULL;
        }
        PyTuple_SET_ITEM(prop, 1, edt);
        pos += 2 + pdc;
    }
    PyObject *frame = new_tuple_of(self->frame_type, 6);
    if (frame == NULL) {
        Py_DECREF(props);
        return NULL;
    }
    PyTuple_SET_ITEM(frame, 4, props); /* owned by the frame from here on */
    PyObject *tid = PyLong_FromLong((long)data[2] << 8 | data[3]);
    if (tid == NULL) {
        Py_DECREF(frame);
        return NULL;
    }
    PyTuple_SET_ITEM(frame, 0, tid);
    for (int i = 0; i < 3; i++) {
        PyTuple_SET_ITEM(frame, 1 + i, Py_NewRef(PyTuple_GET_ITEM(header, i)));
    }
    PyObject *no_get = PyTuple_New(0);
    if (no_get == NULL) {
        Py_DECREF(frame);
        return NULL;
    }
    PyTuple_SET_ITEM(frame, 5, no_get);
    return frame;
}

static PyObject *
FrameDecoder_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FrameDecoder *self = (FrameDecoder *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || kwnames != NULL || !PyBytes_CheckExact(args[0])) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t end = PyBytes_GET_SIZE(args[0]);
    if (end < HEADER_LEN || data[0] != EHD1_ECHONET_LITE || data[1] != EHD2_FORMAT1) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    unsigned char esv = data[10];
    int opc = data[11];
    if (opc == 0 || esv == ESV_SETGET || esv == ESV_SETGET_RES || esv == ESV_SETGET_SNA) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    /* First pass: every EPC PDC EDT fits and the last one ends the frame exactly (A.1). */
    Py_ssize_t pos = HEADER_LEN;
    for (int i = 0; i < opc; i++) {
        if (pos + 2 > end) {
            return call_fallback(callable, args, nargsf, kwnames);
        }
        pos += 2 + data[pos + 1];
        if (pos > end) {
            return call_fallback(callable, args, nargsf, kwnames);
        }
    }
    if (pos != end) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    PyObject *header = frame_header(self, data + 4);
    if (header == NULL) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    PyObject *frame = build_frame(self, data, opc, header);
    Py_DECREF(header);
    return frame;
}

static int
FrameDecoder_traverse(FrameDecoder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->frame_type);
    Py_VISIT(self->property_type);
    Py_VISIT(self->header_cache);
    Py_VISIT(self->fallback);
    for (int i = 0; i < self->n_headers; i++) {
        Py_VISIT(self->headers[i]);
    }
    return 0;
}

static int
FrameDecoder_clear(FrameDecoder *self)
{
    Py_CLEAR(self->frame_type);
    Py_CLEAR(self->property_type);
    Py_CLEAR(self->header_cache);
    Py_CLEAR(self->fallback);
    for (int i = 0; i < self->n_headers; i++) {
        Py_CLEAR(self->headers[i]);
    }
    self->n_headers = 0;
    return 0;
}

static void
FrameDecoder_dealloc(FrameDecoder *self)
{
    PyObject_GC_UnTrack(self);
    FrameDecoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
is_tuple_subtype_without_dict(PyObject *cls)
{
    return PyType_Check(cls) && PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type) &&
           ((PyTypeObject *)cls)->tp_basicsize == PyTuple_Type.tp_basicsize &&
           ((PyTypeObject *)cls)->tp_dictoffset == 0;
}

static PyObject *
FrameDecoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"frame_type", "property_type", "header_cache", "fallback", NULL};
    PyObject *frame_type, *property_type, *header_cache, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O:FrameDecoder", names, &frame_type,
                                     &property_type, &PyDict_Type, &header_cache, &fallback)) {
        return NULL;
    }
    if (!is_tuple_subtype_without_dict(frame_type) ||
        !is_tuple_subtype_without_dict(property_type)) {
        PyErr_SetString(PyExc_TypeError, "Frame and Property must be tuple types with no slots");
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    FrameDecoder *self = (FrameDecoder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = FrameDecoder_call;
    self->frame_type = (PyTypeObject *)Py_NewRef(frame_type);
    self->property_type = (PyTypeObject *)Py_NewRef(property_type);
    self->header_cache = Py_NewRef(header_cache);
    self->fallback = Py_NewRef(fallback);
    return (PyObject *)self;
}

static PyTypeObject FrameDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "routeb.echonet._speedups.FrameDecoder",
    .tp_basicsize = sizeof(FrameDecoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(FrameDecoder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = FrameDecoder_new,
    .tp_traverse = (traverseproc)FrameDecoder_traverse,
    .tp_clear = (inquiry)FrameDecoder_clear,
    .tp_dealloc = (destructor)FrameDecoder_dealloc,
    .tp_members = wrapper_members,
    .tp_getset = wrapper_getset,
    .tp_repr = wrapper_repr,
};

/* ---- ValueDecoder ------------------------------------------------------------------------- */

enum kind {
    KIND_POWER,       /* E7: s32 watts -> int | None */
    KIND_CURRENTS,    /* E8: s16 R, s16 T in 0.1 A -> InstantaneousCurrents(r, t) */
    KIND_ENERGY,      /* E0/E3: u32 count -> CumulativeEnergy(raw, scale) */
    KIND_FIXED_TIME,  /* EA/EB: date-time + u32 -> FixedTimeEnergy(timestamp, raw, scale) */
    KIND_HISTORY1,    /* E2/E4: u16 day + 48 x u32 -> DailyHistory(day, raw, scale) */
    KIND_COUNT
};

static const struct {
    const char *name;
    int slots; /* how many slots of the value class the decoder fills, in order */
} KINDS[KIND_COUNT] = {
    [KIND_POWER] = {"power", 0},
    [KIND_CURRENTS] = {"currents", 2},
    [KIND_ENERGY] = {"energy", 2},
    [KIND_FIXED_TIME] = {"fixed_time", 3},
    [KIND_HISTORY1] = {"history1", 3},
};

#define MAX_SLOTS 3

typedef struct {
    WRAPPER_HEAD          /* fallback: the Python decoder, (edt, scale=None) -> value */
    int kind;
    PyTypeObject *cls;    /* the value class (None for E7's plain int) */
    Py_ssize_t offsets[MAX_SLOTS];
    PyObject *amperes;    /* E8: the Python decoder's dict, 0.1 A count -> Decimal amperes */
} ValueDecoder;

/* A value object with its slots filled: what object.__new__(cls) and the slot setters do in
 * smartmeter.py. Steals the references in `values`. */
static PyObject *
new_value(ValueDecoder *self, PyObject **values)
{
    int n = KINDS[self->kind].slots;
    PyObject *obj = self->cls->tp_alloc(self->cls, 0);
    if (obj == NULL) {
        for (int i = 0; i < n; i++) {
            Py_DECREF(values[i]);
        }
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        *(PyObject **)((char *)obj + self->offsets[i]) = values[i];
    }
    return obj;
}

static PyObject *
decode_power(const unsigned char *edt, Py_ssize_t size)
{
    if (size != 4) {
        return NULL;
    }
    int32_t watts = (int32_t)u32_at(edt);
    if (watts == E7_NO_DATA) {
        Py_RETURN_NONE;
    }
    if (watts > E7_NO_DATA || watts == INT32_MIN) {
        return NULL;
    }
    return PyLong_FromLong(watts);
}

static PyObject *
amperes_of(ValueDecoder *self, int raw)
{
    if (raw == E8_NO_DATA) {
        Py_RETURN_NONE;
    }
    PyObject *key = PyLong_FromLong(raw);
    if (key == NULL) {
        return NULL;
    }
    PyObject *value = PyDict_GetItemWithError(self->amperes, key); /* borrowed */
    Py_DECREF(key);
    return Py_XNewRef(value);
}

static PyObject *
decode_currents(ValueDecoder *self, const unsigned char *edt, Py_ssize_t size)
{
    if (size != 4) {
        return NULL;
    }
    PyObject *values[2];
    values[0] = amperes_of(self, (int16_t)(edt[0] << 8 | edt[1]));
    if (values[0] == NULL) {
        return NULL;
    }
    values[1] = amperes_of(self, (int16_t)(edt[2] << 8 | edt[3]));
    if (values[1] == NULL) {
        Py_DECREF(values[0]);
        return NULL;
    }
    return new_value(self, values);
}

static PyObject *
decode_energy(ValueDecoder *self, const unsigned char *edt, Py_ssize_t size, PyObject *scale)
{
    if (size != 4) {
        return NULL;
    }
    PyObject *values[2] = {count_or_none(u32_at(edt)), NULL};
    if (values[0] == NULL) {
        return NULL;
    }
    values[1] = Py_NewRef(scale);
    return new_value(self, values);
}

static PyObject *
decode_fixed_time(ValueDecoder *self, const unsigned char *edt, Py_ssize_t size,
                  PyObject *scale)
{
    if (size != FIXED_TIME_LEN) {
        return NULL;
    }
    int year = edt[0] << 8 | edt[1];
    if (year == 0xFFFF) {
        return NULL; /* maybe the unset date-time: Python's to tell */
    }
    PyObject *values[3];
    values[0] = PyDateTimeAPI->DateTime_FromDateAndTime(year, edt[2], edt[3], edt[4], edt[5],
                                                        edt[6], 0, Py_None,
                                                        PyDateTimeAPI->DateTimeType);
    if (values[0] == NULL) {
        return NULL; /* not a date-time: the fallback names the field */
    }
    values[1] = count_or_none(u32_at(edt + 7));
    if (values[1] == NULL) {
        Py_DECREF(values[0]);
        return NULL;
    }
    values[2] = Py_NewRef(scale);
    return new_value(self, values);
}

static PyObject *
decode_history1(ValueDecoder *self, const unsigned char *edt, Py_ssize_t size,
                PyObject *scale)
{
    if (size != HISTORY1_LEN) {
        return NULL;
    }
    int day = edt[0] << 8 | edt[1];
    if (day > MAX_HISTORY_DAY && day != HISTORY1_UNSET_DAY) {
        return NULL;
    }
    PyObject *raw = PyTuple_New(HISTORY1_SLOTS);
    if (raw == NULL) {
        return NULL;
    }
    for (int i = 0; i < HISTORY1_SLOTS; i++) {
        PyObject *count = count_or_none(u32_at(edt + 2 + 4 * i));
        if (count == NULL) {
            Py_DECREF(raw);
            return NULL;
        }
        PyTuple_SET_ITEM(raw, i, count);
    }
    PyObject *values[3];
    if (day == HISTORY1_UNSET_DAY) {
        values[0] = Py_NewRef(Py_None);
    }
    else {
        values[0] = PyLong_FromLong(day);
        if (values[0] == NULL) {
            Py_DECREF(raw);
            return NULL;
        }
    }
    values[1] = raw;
    values[2] = Py_NewRef(scale);
    return new_value(self, values);
}

static PyObject *
ValueDecoder_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ValueDecoder *self = (ValueDecoder *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1 || nargs > 2 || kwnames != NULL || !PyBytes_CheckExact(args[0])) {
        return call_fallback(callable, args, nargsf, kwnames);
    }
    const unsigned char *edt = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    PyObject *scale = nargs == 2 ? args[1] : Py_None;
    PyObject *value;
    switch (self->kind) {
    case KIND_POWER:
        value = decode_power(edt, size);
        break;
    case KIND_CURRENTS:
        value = decode_currents(self, edt, size);
        break;
    case KIND_ENERGY:
        value = decode_energy(self, edt, size, scale);
        break;
    case KIND_FIXED_TIME:
        value = decode_fixed_time(self, edt, size, scale);
        break;
    default:
        value = decode_history1(self, edt, size, scale);
        break;
    }
    if (value != NULL) {
        return value;
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return NULL; /* MemoryError and the like */
        }
        PyErr_Clear(); /* datetime() refused the fields: the fallback says which */
    }
    return call_fallback(callable, args, nargsf, kwnames);
}

/* The storage offset of slot `name` of `cls`: its member descriptor (a __slots__ entry). */
static int
slot_offset(PyTypeObject *cls, PyObject *name, Py_ssize_t *offset)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *dict = PyType_GetDict(cls); /* 3.12+: tp_dict is not to be read directly */
#else
    PyObject *dict = Py_XNewRef(cls->tp_dict);
#endif
    if (dict == NULL) {
        return -1;
    }
    PyObject *descr = PyDict_GetItemWithError(dict, name); /* borrowed from the type's dict */
    Py_DECREF(dict);
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "%s has no slot %R", cls->tp_name, name);
        }
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "%s.%R is not a plain object slot", cls->tp_name, name);
        return -1;
    }
    *offset = member->offset;
    return 0;
}

static PyObject *
ValueDecoder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"kind", "fallback", "cls", "slots", "amperes", NULL};
    const char *kind_name;
    PyObject *fallback, *cls = Py_None, *slots = NULL, *amperes = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sO|OO!O:ValueDecoder", names, &kind_name,
                                     &fallback, &cls, &PyTuple_Type, &slots, &amperes)) {
        return NULL;
    }
    int kind = -1;
    for (int i = 0; i < KIND_COUNT; i++) {
        if (strcmp(KINDS[i].name, kind_name) == 0) {
            kind = i;
        }
    }
    if (kind < 0) {
        PyErr_Format(PyExc_ValueError, "unknown decoder kind %s", kind_name);
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    int n = KINDS[kind].slots;
    Py_ssize_t offsets[MAX_SLOTS] = {0};
    if (n > 0) {
        if (!PyType_Check(cls) || slots == NULL || PyTuple_GET_SIZE(slots) != n) {
            PyErr_Format(PyExc_TypeError, "kind %s takes a class and %d slot names", kind_name,
                         n);
            return NULL;
        }
        PyTypeObject *value_type = (PyTypeObject *)cls;
        /* Every slot is filled: the class may have no others, and no __dict__ (frozen values
         * built without __init__ must not be left half empty). */
        if (value_type->tp_dictoffset != 0 || value_type->tp_itemsize != 0 ||
            value_type->tp_basicsize !=
                (Py_ssize_t)(sizeof(PyObject) + n * sizeof(PyObject *))) {
            PyErr_Format(PyExc_TypeError, "%s must have exactly %d slots", value_type->tp_name,
                         n);
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (slot_offset(value_type, PyTuple_GET_ITEM(slots, i), &offsets[i]) < 0) {
                return NULL;
            }
        }
    }
    if (kind == KIND_CURRENTS && !PyDict_Check(amperes)) {
        PyErr_SetString(PyExc_TypeError, "the currents decoder takes the amperes dict");
        return NULL;
    }
    ValueDecoder *self = (ValueDecoder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = ValueDecoder_call;
    self->kind = kind;
    self->fallback = Py_NewRef(fallback);
    self->cls = n > 0 ? (PyTypeObject *)Py_NewRef(cls) : NULL;
    memcpy(self->offsets, offsets, sizeof(offsets));
    self->amperes = kind == KIND_CURRENTS ? Py_NewRef(amperes) : NULL;
    return (PyObject *)self;
}

static int
ValueDecoder_traverse(ValueDecoder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->fallback);
    Py_VISIT(self->cls);
    Py_VISIT(self->amperes);
    return 0;
}

static int
ValueDecoder_clear(ValueDecoder *self)
{
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->cls);
    Py_CLEAR(self->amperes);
    return 0;
}

static void
ValueDecoder_dealloc(ValueDecoder *self)
{
    PyObject_GC_UnTrack(self);
    ValueDecoder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ValueDecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "routeb.echonet._speedups.ValueDecoder",
    .tp_basicsize = sizeof(ValueDecoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(ValueDecoder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = ValueDecoder_new,
    .tp_traverse = (traverseproc)ValueDecoder_traverse,
    .tp_clear = (inquiry)ValueDecoder_clear,
    .tp_dealloc = (destructor)ValueDecoder_dealloc,
    .tp_members = wrapper_members,
    .tp_getset = wrapper_getset,
    .tp_repr = wrapper_repr,
};

/* ---- module ------------------------------------------------------------------------------- */

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "routeb.echonet._speedups",
    .m_doc = "The ECHONET Lite codec's hot paths in C, each with a pure-Python fallback.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    if (PyType_Ready(&FrameDecoderType) < 0 || PyType_Ready(&ValueDecoderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "FrameDecoder", (PyObject *)&FrameDecoderType) < 0 ||
        PyModule_AddObjectRef(module, "ValueDecoder", (PyObject *)&ValueDecoderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
