"""Record fields, declared once.

A record class (a keyword-only dataclass deriving from ``cfxstore.entity.Entity``)
annotates each field with its Python type; where the type alone does not say
everything, the field's default is a declaration made with ``field()`` (or one
of the named kinds below: time, uint64, name_field, ...) that adds bounds,
secrecy, a wire name or a reference::

    @dataclasses.dataclass(kw_only=True)
    class Principal(Described):
        oid: uuid.UUID = field(default_factory=uuid.uuid4)
        realm: str = name_field(max_bytes=MAX_REALM_BYTES)
        arealm_oid: uuid.UUID | None = field(default=None, ref=Reference("arealm", REFUSE))
        created: int = time(default_factory=now_ns)

Validation is derived from the annotation plus the declaration (``X | None``
makes a field optional; ``list[str]`` checks every item; strings are non-empty
unless ``empty=True``); so are the wire form, the index key codecs
(cfxstore.tables), the management kinds' references, the fields a dump leaves
out and docs/schemas.md. Every check raises InvalidArgument naming the
record kind, the field and what was wrong.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Callable, Iterable

from cfxstore.errors import InvalidArgument

__all__ = ["REFUSE", "CASCADE", "Reference", "Spec", "Declared", "field", "time", "uint64", "name_field",
           "email_field", "pubkey_field", "declared_fields", "validation_plan", "check_field", "check_type"]

#: What deleting a referenced record does to the records referring to it:
#: refuse the delete while they exist, or delete them too.
REFUSE, CASCADE = "refuse", "cascade"
_ON_DELETE = (REFUSE, CASCADE)

# The metadata key under which a dataclass field carries its Spec.
_SPEC = "cfxstore.spec"

#: A rule beyond type and bounds: returns what is wrong with a (well-typed) value, or None.
#: Its docstring says what it requires (docs/schemas.md shows it).
Rule = Callable[[Any], "str | None"]
#: One check of a field value: (record kind, field name, value); raises InvalidArgument.
Step = Callable[[str, str, Any], None]


@dataclasses.dataclass(frozen=True)
class Reference:
    """The field holds the key of a record of kind ``target`` (a management kind name)."""

    target: str
    on_delete: str

    def __post_init__(self) -> None:
        if self.on_delete not in _ON_DELETE:
            raise InvalidArgument(f"Reference({self.target!r}): on_delete must be one of "
                                  f"{', '.join(_ON_DELETE)}, got {self.on_delete!r}")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a field declares beyond its annotated type."""

    #: int nanoseconds since the epoch (the project's one time convention); ISO 8601 on the wire.
    time: bool = False
    #: an unsigned 64-bit int (WAMP ids).
    uint64: bool = False
    #: inclusive bounds of an int.
    min: int | None = None
    max: int | None = None
    #: bounds of a str: characters, UTF-8 bytes; exact size of bytes.
    max_chars: int | None = None
    max_bytes: int | None = None
    size: int | None = None
    #: the value (or, for a list, each item) must be one of these.
    choices: tuple[Any, ...] | None = None
    #: a str (or str item) may be empty.
    empty: bool = False
    rule: Rule | None = None
    #: holds secret material (hashes, keys): left out of dumps unless the operator asks for secrets.
    secret: bool = False
    #: the field's name in the wire form, when it differs.
    wire: str | None = None
    ref: Reference | None = None
    #: added after its kind was first stored: left out of the stored form while None, so the
    #: records written before it (and those that never set it) keep their stored bytes.
    later: bool = False


def field(*, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING,
          **spec: Any) -> Any:
    """A dataclass field carrying a Spec (keyword arguments as in Spec)."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_SPEC: Spec(**spec)})


def time(**kw: Any) -> Any:
    """An int-nanosecond time."""
    return field(time=True, **kw)


def uint64(**kw: Any) -> Any:
    """A WAMP id: an int in 0..2**64-1."""
    return field(uint64=True, **kw)


_NAME_BAD = re.compile(r"[\s\x00-\x1f\x7f]")
_PUBKEY = re.compile(r"^[0-9a-f]{64}$")


def _name_rule(value: str) -> str | None:
    """no whitespace or control characters"""
    if _NAME_BAD.search(value):
        return f"must not contain whitespace or control characters, got {value!r}"
    return None


def _email_rule(value: str) -> str | None:
    """an email address"""
    local, at, domain = value.partition("@")
    if not at or not local or not domain or _NAME_BAD.search(value) or len(value) > 254:
        return f"expected an email address, got {value!r}"
    return None


def _pubkey_rule(value: str) -> str | None:
    """64 lowercase hex characters"""
    return None if _PUBKEY.match(value) else f"expected 64 lowercase hex characters, got {value!r}"


def name_field(**kw: Any) -> Any:
    """A name users type and look up: 1..255 characters, no whitespace or control characters."""
    return field(max_chars=255, rule=_name_rule, **kw)


def email_field(**kw: Any) -> Any:
    return field(rule=_email_rule, **kw)


def pubkey_field(**kw: Any) -> Any:
    """An Ed25519 public key as 64 lowercase hex characters (the WAMP-cryptosign form)."""
    return field(rule=_pubkey_rule, **kw)


# --- derivation -------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Declared:
    """One field of a record kind as declared: its name, type and Spec, and how it is checked."""

    name: str
    #: The annotated type without ``| None`` (e.g. ``str``, ``uuid.UUID``, ``list[str]``).
    type: Any
    optional: bool
    spec: Spec
    #: The classes a value may have (None where the choices are checked instead).
    classes: tuple[type, ...] | None = dataclasses.field(repr=False, compare=False)
    #: The checks after the type's: bounds, items, rule.
    steps: tuple[Step, ...] = dataclasses.field(repr=False, compare=False)

    @property
    def base(self) -> type:
        """The runtime class of the value (``list`` for ``list[str]``)."""
        return typing.get_origin(self.type) or self.type

    @property
    def wire_name(self) -> str:
        return self.spec.wire or self.name

    def check(self, owner: str, value: Any) -> None:
        """Raise InvalidArgument naming ``owner.name`` if value is not valid here."""
        if value is None and self.optional:
            return
        _check(owner, self.name, value, self.classes, self.steps)


#: Per field, what Entity.validate runs: (name, optional, classes, steps).
Plan = tuple[tuple[str, bool, "tuple[type, ...] | None", tuple[Step, ...]], ...]


def declared_fields(cls: type) -> dict[str, Declared]:
    """The stored fields of record class cls by name, in declaration order (derived once per class)."""
    found: dict[str, Declared] | None = cls.__dict__.get("_declared")
    if found is None:
        hints = typing.get_type_hints(cls)
        found = {}
        for f in dataclasses.fields(cls):
            if not f.name.startswith("_"):
                found[f.name] = _declare(f.name, hints[f.name], f.metadata.get(_SPEC) or Spec())
        setattr(cls, "_declared", found)
    return found


def validation_plan(cls: type) -> Plan:
    """The checks of every field of cls, flattened for the validation loop (derived once per class)."""
    plan: Plan | None = cls.__dict__.get("_plan")
    if plan is None:
        plan = tuple((f.name, f.optional, f.classes, f.steps) for f in declared_fields(cls).values())
        setattr(cls, "_plan", plan)
    return plan


def check_field(cls: type, name: str, value: Any) -> None:
    """Raise InvalidArgument if value is not valid for field ``name`` of record class cls."""
    declared_fields(cls)[name].check(cls.__name__, value)


def check_type(owner: str, name: str, value: Any, classes: tuple[type, ...]) -> None:
    """Raise InvalidArgument unless value is an instance of classes (a bool only where bool is one)."""
    if not isinstance(value, classes) or (value.__class__ is bool and bool not in classes):
        raise InvalidArgument(f"{owner}.{name}: expected {_names(classes)}, got {type(value).__name__}")


def _check(owner: str, name: str, value: Any, classes: tuple[type, ...] | None, steps: tuple[Step, ...]) -> None:
    if classes is not None and value.__class__ not in classes:
        check_type(owner, name, value, classes)
    for step in steps:
        step(owner, name, value)


def _declare(name: str, hint: Any, spec: Spec) -> Declared:
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        rest = tuple(a for a in args if a is not type(None))
        hint = rest[0] if len(rest) == 1 else typing.Union[rest]
    classes, steps = _compile(hint, spec)
    return Declared(name, hint, optional, spec, classes, steps)


def _compile(hint: Any, spec: Spec) -> tuple[tuple[type, ...] | None, tuple[Step, ...]]:
    """A field's checks, chosen once by its type and Spec: the classes its value may have, then the steps."""
    origin = typing.get_origin(hint) or hint
    args = typing.get_args(hint)
    classes: tuple[type, ...] | None = None
    steps: list[Step] = []
    if spec.choices is not None and origin is not list:
        steps.append(_one_of(spec.choices))
    else:
        classes = _types(hint)
        steps.extend(_bounds(origin, spec))
        if origin is list and args and args[0] is not Any:
            # Items share the list's choices and string bounds.
            item = Spec(choices=spec.choices, empty=spec.empty, max_chars=spec.max_chars, max_bytes=spec.max_bytes)
            steps.append(_items(_step(*_compile(args[0], item))))
        elif origin is dict and len(args) == 2 and args[1] is not Any:
            steps.append(_entries(_step(*_compile(args[0], Spec())), _step(*_compile(args[1], Spec()))))
    if spec.rule is not None:
        steps.append(_ruled(spec.rule))
    return classes, tuple(steps)


def _step(classes: tuple[type, ...] | None, steps: tuple[Step, ...]) -> Step:
    """The checks of a list item or dict entry as one step."""
    return lambda owner, name, value: _check(owner, name, value, classes, steps)


def _types(hint: Any) -> tuple[type, ...]:
    """The runtime classes a value of the annotated type may have."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(t for a in typing.get_args(hint) for t in _types(a))
    return (typing.get_origin(hint) or hint,)


def _names(classes: tuple[type, ...]) -> str:
    return " or ".join(c.__name__ for c in classes)


def _one_of(choices: tuple[Any, ...]) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        if value not in choices or value.__class__ is bool:
            raise InvalidArgument(f"{owner}.{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")

    return step


def _bounds(origin: Any, spec: Spec) -> Iterable[Step]:
    if origin is str:
        if not spec.empty:
            yield _nonempty
        # Bytes first: they are what an index key can hold, the tighter limit where one is declared.
        if spec.max_bytes is not None:
            yield _max_bytes(spec.max_bytes)
        if spec.max_chars is not None:
            yield _max_chars(spec.max_chars)
    elif origin is int:
        if spec.uint64:
            yield _int_range(0, 2**64 - 1, "in 0..2**64-1")
        elif spec.min is not None or spec.max is not None:
            bound = f">= {spec.min}" if spec.max is None else f"in {spec.min}..{spec.max}"
            yield _int_range(spec.min, spec.max, bound)
    elif origin is bytes and spec.size is not None:
        yield _size(spec.size)


def _nonempty(owner: str, name: str, value: Any) -> None:
    if not value:
        raise InvalidArgument(f"{owner}.{name}: must not be empty")


def _max_chars(limit: int) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        if len(value) > limit:
            raise InvalidArgument(f"{owner}.{name}: at most {limit} characters, got {len(value)}")

    return step


def _max_bytes(limit: int) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InvalidArgument(f"{owner}.{name}: at most {limit} UTF-8 bytes, got {size}")

    return step


def _int_range(lo: int | None, hi: int | None, bound: str) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InvalidArgument(f"{owner}.{name}: expected an int {bound}, got {value}")

    return step


def _size(size: int) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        if len(value) != size:
            raise InvalidArgument(f"{owner}.{name}: expected {size} bytes, got {len(value)}")

    return step


def _ruled(rule: Rule) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        wrong = rule(value)
        if wrong is not None:
            raise InvalidArgument(f"{owner}.{name}: {wrong}")

    return step


def _items(check: Step) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        for item in value:
            check(owner, name, item)

    return step


def _entries(key: Step, val: Step
             ) -> Step:
    def step(owner: str, name: str, value: Any) -> None:
        for k, v in value.items():
            key(owner, f"{name} key", k)
            val(owner, f"{name}[{k!r}]", v)

    return step

