"""The one way kassa registers the members of an open set: importers, attribution models, diagnosis
rules, KPI lint checks and CLI commands.

A :class:`Registry` maps names to members. A member registers itself where it is defined, with a
decorator::

    SOURCES = Registry[type[Source]]("format", package="kassa.sources", order=by_detect_priority)

    @SOURCES.register                 # the name is the member's ``name`` attribute
    class AmoCRM: ...

    @CHECKS.register(name="no_outcome")   # or given, for members without one (functions)
    def _no_outcome(contract, period): ...

A registry with a ``package`` imports every module of that package (sorted by name) the first time it
is read, so a new module registers itself: adding a member touches one file, plus its test and doc.
Reading is in a declared order (``order``, else the order of registration); an unknown name raises the
registry's error with the valid names.

Shared vocabulary: this module imports nothing of kassa's.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, overload

T = TypeVar("T")


class Registry(Mapping[str, T]):
    """Members of one kind by name.

    Parameters
    ----------
    what : str
        What a member is, for people: ``"format"``, ``"attribution model"`` (in error messages).
    package : str, optional
        Import every module of this package before the first read, so its modules register themselves.
    key : str
        The member attribute that holds its name, when ``register`` is not given one.
    order : callable ``(name, member) -> sort key``, optional
        The order of reading (iteration, :meth:`names`); ties keep the order of registration.
    error : exception class
        Raised for an unknown name; kassa passes its own (``UnknownFormat``…) so the CLI words it.
    hint : str
        Appended to the unknown-name message (``"(or all)"``).
    """

    def __init__(
        self,
        what: str,
        *,
        package: str | None = None,
        key: str = "name",
        order: Callable[[str, T], Any] | None = None,
        error: Callable[[str], Exception] = LookupError,
        hint: str = "",
    ) -> None:
        self.what = what
        self.package = package
        self._key = key
        self._order = order
        self._error = error
        self._hint = hint
        self._members: dict[str, T] = {}
        self._sorted: list[str] | None = None
        self._discovered = package is None

    @overload
    def register(self, member: T) -> T: ...

    @overload
    def register(self, *, name: str) -> Callable[[T], T]: ...

    def register(self, member: T | None = None, *, name: str | None = None) -> T | Callable[[T], T]:
        """Decorator: register a member under ``name``, or under its own name attribute (see ``key``)."""
        if member is None:
            given = name

            def decorate(m: T) -> T:
                self._add(given if given is not None else self._name_of(m), m)
                return m

            return decorate
        self._add(name if name is not None else self._name_of(member), member)
        return member

    def names(self) -> list[str]:
        """Every registered name, in the registry's order."""
        self._discover()
        if self._sorted is None:
            names = list(self._members)
            if self._order is not None:
                order = self._order
                names.sort(key=lambda n: order(n, self._members[n]))
            self._sorted = names
        return list(self._sorted)

    def unknown(self, name: str) -> Exception:
        """The error for a name that is not registered: it lists the valid ones (alphabetically)."""
        valid = ", ".join(sorted(self.names()))
        return self._error(
            f"unknown {self.what} {name!r}; choose from: {valid}{' ' + self._hint if self._hint else ''}"
        )

    def __getitem__(self, name: str) -> T:
        self._discover()
        try:
            return self._members[name]
        except KeyError:
            raise self.unknown(name) from None

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._members

    def get(self, name: str, default: Any = None) -> Any:  # Mapping.get relies on KeyError, not ``error``
        self._discover()
        return self._members.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._discover()
        return len(self._members)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self.names())})"

    def _name_of(self, member: T) -> str:
        name = getattr(member, self._key, None)
        if not isinstance(name, str):
            raise TypeError(
                f"{member!r} has no {self._key!r}: give the {self.what} a name (register(name=…))"
            )
        return name

    def _add(self, name: str, member: T) -> None:
        if name in self._members:
            raise ValueError(f"two {self.what}s are named {name!r}")
        self._members[name] = member
        self._sorted = None

    def _discover(self) -> None:
        if self._discovered:
            return
        # Set first: a module that reads the registry while it is imported sees what is there so far
        # instead of starting the discovery again.
        self._discovered = True
        assert self.package is not None
        try:
            pkg = importlib.import_module(self.package)
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
        except BaseException:
            self._discovered = False
            raise
