"""``paramlens.records.NamedTuple`` makes the classes ``typing.NamedTuple`` makes."""

from __future__ import annotations

import typing

import pytest

from paramlens.records import NamedTuple


class Light(NamedTuple):
    """A record."""

    name: str
    size: int = 0
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Its name and size."""
        return f"{self.name}:{self.size}"

    def grown(self, by: int) -> Light:
        """The same, ``by`` larger."""
        return self._replace(size=self.size + by)


class Typed(typing.NamedTuple):
    """A record."""

    name: str
    size: int = 0
    tags: tuple[str, ...] = ()


def test_the_same_fields_defaults_and_tuple_behaviour() -> None:
    light, typed = Light("a", 2), Typed("a", 2)
    assert light == typed == ("a", 2, ())
    assert Light._fields == Typed._fields
    assert Light._field_defaults == Typed._field_defaults
    # The annotations stay strings, as in any class (typing makes ForwardRefs of them).
    assert typing.get_type_hints(Light) == typing.get_type_hints(Typed)
    assert repr(light) == repr(typed).replace("Typed", "Light")
    assert Light._make(["b", 3, ("x",)]) == Light("b", 3, ("x",))
    assert light._asdict() == typed._asdict()
    assert isinstance(light, tuple) and hash(light) == hash(typed)


def test_methods_properties_and_names_are_the_class_statement_s() -> None:
    light = Light("a", 2)
    assert light.label == "a:2" and light.grown(3) == Light("a", 5)
    assert Light.__doc__ == "A record." and Light.__module__ == __name__
    assert Light.__qualname__ == "Light" and Light.__name__ == "Light"
    with pytest.raises(AttributeError):
        light.name = "b"  # type: ignore[misc]


def test_what_typing_refuses_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot follow default field"):

        class _Gap(NamedTuple):
            a: int = 0
            b: int

    with pytest.raises(AttributeError, match="_replace"):

        class _Own(NamedTuple):
            a: int

            def _replace(self) -> None: ...
