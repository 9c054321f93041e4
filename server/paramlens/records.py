"""``NamedTuple`` for the modules that every ``paramlens check`` imports, without ``typing``.

Importing ``typing`` costs about a fifth of what ``paramlens check`` imports (some 20 million
instructions, 2.5 ms), and ``typing.NamedTuple`` then turns each field's annotation into a
``ForwardRef``. Those modules take ``NamedTuple`` from here instead, and their annotations only
under ``if TYPE_CHECKING:`` (a name mypy always takes as true, ``False`` at run time). To mypy
this ``NamedTuple`` is ``typing.NamedTuple``; at run time a class statement on it makes the same
``collections.namedtuple`` class that ``typing`` makes: the annotated fields in order, their
defaults, the class's docstring, methods and properties.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # What a record class may not define: namedtuple's own machinery.
    _RESERVED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
         "_make", "_replace", "_asdict", "_source"}
    )  # fmt: skip

    class _RecordMeta(type):
        def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict) -> type:
            fields = tuple(namespace.get("__annotations__", ()))
            defaults = []
            for field in fields:
                if field in namespace:
                    defaults.append(namespace[field])
                elif defaults:
                    raise TypeError(
                        f"Non-default namedtuple field {field} cannot follow default field"
                    )
            record = collections.namedtuple(
                name, fields, defaults=defaults, module=namespace["__module__"]
            )
            record.__annotations__ = dict(namespace.get("__annotations__", {}))
            for key, value in namespace.items():
                if key in _RESERVED:
                    raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
                if key not in fields and key not in ("__module__", "__annotations__"):
                    setattr(record, key, value)
            return record

    # The base itself is made without running _RecordMeta.__new__ (it has no fields); a class
    # statement on it runs it, as on typing.NamedTuple.
    NamedTuple = type.__new__(_RecordMeta, "NamedTuple", (), {"__module__": __name__})
