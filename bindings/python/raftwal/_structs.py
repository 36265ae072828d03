"""Turning the library's sized result structs into dicts.

The field names come from the SWIG proxy classes, which SWIG generates from
the struct declarations in include/raftwal.h, so a field added to the header
shows up here without a change.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

__all__ = ["struct_to_dict"]

# Bookkeeping members of every sized struct, not data.
_SKIPPED = frozenset({"thisown", "size", "reserved"})
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _fields(proxy_class: type) -> Tuple[str, ...]:
    fields = _FIELDS.get(proxy_class)
    if fields is None:
        fields = tuple(
            name
            for name, member in vars(proxy_class).items()
            if isinstance(member, property) and name not in _SKIPPED
        )
        _FIELDS[proxy_class] = fields
    return fields


def struct_to_dict(proxy: Any) -> Dict[str, Any]:
    """The fields of a SWIG struct proxy, in declaration order, as a dict."""
    return {name: getattr(proxy, name) for name in _fields(type(proxy))}
