"""kiln.config: Theano-style access to kiln's configuration flags.

The flags live in the C++ core (one registry, filled from ~/.kilnrc and KILN_FLAGS); this object
only gives them attribute syntax: ``kiln.config.floatX = 'float32'``.
"""
from . import _core


class KilnConfig:
    """Attribute access to the configuration flags. ``print(kiln.config)`` lists them all."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = _core.config_get(name)
        except ValueError:
            raise AttributeError(f"kiln.config has no flag named {name!r}") from None
        if _core.config_is_bool(name):
            return value == "True"
        return value

    def __setattr__(self, name, value):
        _core.config_set(name, str(value))

    def __dir__(self):
        return [name for name, _ in _core.config_flags()]

    def __str__(self):
        return _core.config_describe()

    __repr__ = __str__

    def change_flags(self, **flags):
        """Context manager that sets flags and restores them afterwards."""
        return _ChangeFlags(self, flags)


class _ChangeFlags:
    def __init__(self, config, flags):
        self._config = config
        self._flags = flags
        self._saved = {}

    def __enter__(self):
        for name, value in self._flags.items():
            self._saved[name] = _core.config_get(name)
            setattr(self._config, name, value)
        return self._config

    def __exit__(self, *exc):
        for name, value in self._saved.items():
            _core.config_set(name, value)
        return False


config = KilnConfig()
