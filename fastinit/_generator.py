"""A NumPy-style ``Generator``: one object that hands out a fresh stream per call.

The module functions are pure in ``(seed, stream)``; reusing one pair across
layers repeats values.  A :class:`Generator` keeps ``(seed, path)`` and a call
counter, and gives its ``k``-th call the stream documented in
:meth:`Generator.stream_at`, so values depend only on (seed, path, call index).
"""

from __future__ import annotations

import functools
import inspect
import threading

from . import _registry, _sampling
from ._validate import _integer, as_seed, stream_id

__all__ = ["Generator", "default_rng"]

_ROOT = "fastinit.Generator"


class Generator:
    """Fresh fastinit streams, one per call, as ``numpy.random.Generator`` hands out draws.

    Create one with :func:`default_rng`.  A generator holds a ``seed`` (the
    Philox key of every value it produces), a ``path`` (a tuple of str
    components, empty for :func:`default_rng`'s) and a count of the calls
    made.  Its ``k``-th sampling or scheme call (``k = 0, 1, ...``) is the
    module function with ``seed=self.seed, stream=self.stream_at(k)``, bit
    for bit.

    Methods: ``random_raw``, ``uniform``, ``normal``, ``trunc_normal`` and
    every random scheme (``xavier_*``, ``glorot_*``, ``kaiming_*``, ``he_*``,
    ``lecun_*``, ``variance_scaling``, ``orthogonal``, ``sparse``) take the
    module function's arguments except ``seed`` and ``stream``.  A call that
    raises does not advance the generator.  :meth:`spawn` and :meth:`child`
    make independent generators.

    Notes
    -----
    Thread safety: a lock makes each call atomic (as NumPy's bit generators
    do), so concurrent calls from several threads never share a stream.  But
    which call gets which index then depends on scheduling; values are
    reproducible only if the order of calls is.  For deterministic threaded
    use give each thread its own :meth:`spawn` or :meth:`child` generator.

    With ``region=``, the values are ``self.<method>(shape)[region]`` of the
    same call index.  For sharded filling (each process one region) use a
    named child per tensor, e.g. ``g.child(name).normal(shape, region=r)``:
    its call 0 is the same stream in every process, whatever else each
    process has drawn.

    Examples
    --------
    >>> import fastinit as fi
    >>> g = fi.default_rng(7)
    >>> a = g.normal((2, 3))
    >>> b = g.normal((2, 3))                      # a fresh stream: different values
    >>> bool((a != b).all())
    True
    >>> bool((a == fi.normal((2, 3), seed=7, stream=g.stream_at(0))).all())
    True
    >>> g
    Generator(seed=7, path=(), calls=2)
    """

    __slots__ = ("_seed", "_path", "_calls", "_spawned", "_lock")

    def __init__(self, seed, path=()):
        # Not for users (use default_rng); the path is validated by those who build it.
        self._seed = as_seed(seed)
        self._path = tuple(path)
        self._calls = 0
        self._spawned = 0
        self._lock = threading.Lock()

    @property
    def seed(self):
        """int: The Philox key of every value this generator (and its children) produce."""
        return self._seed

    @property
    def path(self):
        """tuple of str: The components that place this generator's streams (see :meth:`stream_at`)."""
        return self._path

    @property
    def calls(self):
        """int: The number of sampling calls made so far (the index of the next one)."""
        return self._calls

    def stream_at(self, k):
        """The stream id of this generator's ``k``-th call (``k = 0, 1, ...``).

        ``stream_id("fastinit.Generator", *self.path, f"call:{k}")``, with
        :func:`fastinit.stream_id`'s length-prefixed BLAKE2b encoding.  Path
        components are ``f"spawn:{i}"`` for the ``i``-th child from
        :meth:`spawn` and ``f"child:{name}"`` for :meth:`child`; the last
        component is always the call's.  The encoding is unambiguous, so
        distinct (path, call) pairs never share an id by construction (only
        by a 64-bit hash collision).  Part of stream v1; never changes.

        Parameters
        ----------
        k : int
            Call index, ``>= 0``.

        Returns
        -------
        int
            A stream id in ``[0, 2**64)``.

        Examples
        --------
        >>> import fastinit as fi
        >>> g = fi.default_rng(0)
        >>> g.stream_at(0) == fi.stream_id("fastinit.Generator", "call:0")
        True
        >>> g.child("enc").stream_at(2) == fi.stream_id("fastinit.Generator", "child:enc", "call:2")
        True
        """
        k = _integer(k, "k")
        if k < 0:
            raise ValueError(f"k must be >= 0; got {k}")
        return stream_id(_ROOT, *self._path, f"call:{k}")

    def spawn(self, n):
        """``n`` new independent generators, as ``numpy.random.Generator.spawn``.

        Child ``j`` of this call has path ``self.path + (f"spawn:{i}",)``
        with ``i = (children spawned before) + j``; it starts at call 0 and
        has the same seed.  Spawning advances a spawn counter only: this
        generator's own calls are unaffected, and children never share a
        stream with it, with each other or with later children.

        Parameters
        ----------
        n : int
            Number of children, ``>= 0``.

        Returns
        -------
        list of Generator

        Examples
        --------
        >>> import fastinit as fi
        >>> a, b = fi.default_rng(7).spawn(2)
        >>> b.path
        ('spawn:1',)
        >>> bool((a.normal(4) != b.normal(4)).all())
        True
        """
        n = _integer(n, "n")
        if n < 0:
            raise ValueError(f"n must be >= 0; got {n}")
        with self._lock:
            first = self._spawned
            self._spawned += n
        return [Generator(self._seed, self._path + (f"spawn:{i}",)) for i in range(first, first + n)]

    def child(self, name):
        """A generator for the stream family ``name``, whatever this one has drawn.

        Its path is ``self.path + (f"child:{name}",)``; it starts at call 0
        and has the same seed.  It depends only on ``(seed, path, name)``,
        never on the calls or spawns made before (like JAX's ``fold_in``), so
        ``g.child("encoder.0.weight")`` gives the same values in any call
        order, in any process.  The same name twice gives the same values,
        on purpose: use distinct names (e.g. qualified parameter names).

        Parameters
        ----------
        name : str

        Returns
        -------
        Generator

        Raises
        ------
        TypeError
            If ``name`` is not a str.

        Examples
        --------
        >>> import fastinit as fi
        >>> g = fi.default_rng(7)
        >>> w = g.child("decoder").normal(3)
        >>> _ = g.normal(10)                          # draws on g don't move children
        >>> bool((w == g.child("decoder").normal(3)).all())
        True
        """
        if not isinstance(name, str):
            raise TypeError(f"child name must be a str; got {type(name).__name__} {name!r}")
        return Generator(self._seed, self._path + (f"child:{name}",))

    def _apply(self, fill):
        """``fill(seed, stream)`` on the next stream; the counter moves only if it returns."""
        with self._lock:
            result = fill(self._seed, self.stream_at(self._calls))
            self._calls += 1
        return result

    def __repr__(self):
        return f"Generator(seed={self._seed}, path={self._path!r}, calls={self._calls})"

    def __reduce__(self):
        # The lock is not picklable; the state is (seed, path, calls, spawned).
        return (_restore, (self._seed, self._path, self._calls, self._spawned))


def _restore(seed, path, calls, spawned):
    generator = Generator(seed, path)
    generator._calls, generator._spawned = calls, spawned
    return generator


# method -> (module function, arguments of its doctest example): random_raw, then every
# random scheme of the registry; its aliases are the same methods.
_METHODS = {"random_raw": (_sampling.random_raw, "4")}
_METHODS.update({info.name: (info.function, info.example)
                 for info in _registry.SCHEMES.values() if info.random})


def _method(name, function, example):
    """``function`` as a Generator method: its signature without ``seed`` and ``stream``."""
    signature = inspect.signature(function)
    parameters = [p for p in signature.parameters.values() if p.name not in ("seed", "stream")]
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    bare = signature.replace(parameters=parameters)

    @functools.wraps(function)
    def method(self, *args, **kwargs):
        for taken in ("seed", "stream"):
            if taken in kwargs:
                raise TypeError(f"Generator.{name}() got an unexpected keyword argument {taken!r}: "
                                f"the generator supplies seed and stream (see Generator.stream_at)")
        try:
            bare.bind(*args, **kwargs)
        except TypeError as error:      # in the method's own terms, before anything is drawn
            raise TypeError(f"Generator.{name}(): {error}") from None
        return self._apply(lambda seed, stream: function(*args, **kwargs, seed=seed, stream=stream))

    del method.__wrapped__              # help() and inspect show the signature below
    method.__signature__ = signature.replace(parameters=[self_parameter, *parameters])
    method.__qualname__ = f"Generator.{name}"
    method.__module__ = __name__
    summary = inspect.getdoc(function).split("\n\n")[0]
    method.__doc__ = f"""{summary}

    :func:`fastinit.{name}` on this generator's next stream: the arguments
    are its own except ``seed`` and ``stream``, which the generator supplies
    (``seed=self.seed, stream=self.stream_at(self.calls)``).  A call that
    raises does not advance the generator.

    See Also
    --------
    fastinit.{name} : parameters, values and errors in full.

    Examples
    --------
    >>> import fastinit as fi
    >>> g = fi.default_rng(7)
    >>> w = g.{name}({example})
    >>> bool((w == fi.{name}({example}, seed=7, stream=g.stream_at(0))).all())
    True
    """
    return method


for _name, (_function, _example) in _METHODS.items():
    setattr(Generator, _name, _method(_name, _function, _example))
for _info in _registry.SCHEMES.values():
    for _alias in _info.aliases if _info.random else ():
        setattr(Generator, _alias, getattr(Generator, _info.name))
del _name, _function, _example, _info, _alias


def default_rng(seed=None):
    """A new :class:`Generator`, as ``numpy.random.default_rng``.

    Parameters
    ----------
    seed : int, Generator or None, optional
        Key in ``[0, 2**64)``; ``None`` draws one from OS entropy (read it
        back as ``.seed``); a :class:`Generator` is returned as is.

    Returns
    -------
    Generator
        At call 0, with an empty path.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer, a Generator or None.
    ValueError
        If ``seed`` is outside ``[0, 2**64)``.

    Examples
    --------
    >>> import fastinit as fi
    >>> g = fi.default_rng(1234)
    >>> fi.default_rng(g) is g
    True
    >>> w1, w2 = g.kaiming_uniform((64, 32)), g.kaiming_uniform((64, 32))
    >>> bool((w1 == w2).any())
    False
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)
