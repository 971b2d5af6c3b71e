"""Glance's image schema (glance/api/v2/images.py get_base_properties) and its validation.

Glance validates a create body, and each PATCH value as `{attribute: value}`, with
jsonschema against this schema, and answers 400 with the text of jsonschema's best
error. The local cloud is standard library only, so the few keywords the schema uses
(type, enum, pattern, maxLength, items) are checked here and the error is written the
way jsonschema 4 writes it (message, failing schema, instance, pprint-ed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pprint import pformat
from textwrap import indent
from typing import Any

CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
DISK_FORMATS = [
    "ami",
    "ari",
    "aki",
    "vhd",
    "vhdx",
    "vmdk",
    "raw",
    "qcow2",
    "vdi",
    "iso",
    "ploop",
]
"""Glance's default [image_format] container_formats and disk_formats."""

_ID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)

PROPERTIES: dict[str, dict[str, Any]] = {
    "id": {
        "type": "string",
        "description": "An identifier for the image",
        "pattern": _ID_PATTERN,
    },
    "name": {
        "type": ["null", "string"],
        "description": "Descriptive name for the image",
        "maxLength": 255,
    },
    "status": {
        "type": "string",
        "readOnly": True,
        "description": "Status of the image",
        "enum": [
            "queued",
            "saving",
            "active",
            "killed",
            "deleted",
            "uploading",
            "importing",
            "pending_delete",
            "deactivated",
        ],
    },
    "visibility": {
        "type": "string",
        "description": "Scope of image accessibility",
        "enum": ["community", "public", "private", "shared"],
    },
    "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
    "os_hidden": {
        "type": "boolean",
        "description": "If true, image will not appear in default image list response.",
    },
    "checksum": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "md5 hash of image contents.",
        "maxLength": 32,
    },
    "os_hash_algo": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "Algorithm to calculate the os_hash_value",
        "maxLength": 64,
    },
    "os_hash_value": {
        "type": ["null", "string"],
        "readOnly": True,
        "description": "Hexdigest of the image contents using the algorithm specified by "
        "the os_hash_algo",
        "maxLength": 128,
    },
    "owner": {"type": ["null", "string"], "description": "Owner of the image", "maxLength": 255},
    "size": {
        "type": ["null", "integer"],
        "readOnly": True,
        "description": "Size of image file in bytes",
    },
    "virtual_size": {
        "type": ["null", "integer"],
        "readOnly": True,
        "description": "Virtual size of image in bytes",
    },
    "container_format": {
        "type": ["null", "string"],
        "description": "Format of the container",
        "enum": [None, *CONTAINER_FORMATS],
    },
    "disk_format": {
        "type": ["null", "string"],
        "description": "Format of the disk",
        "enum": [None, *DISK_FORMATS],
    },
    "created_at": {
        "type": "string",
        "readOnly": True,
        "description": "Date and time of image registration",
    },
    "updated_at": {
        "type": "string",
        "readOnly": True,
        "description": "Date and time of the last image modification",
    },
    "tags": {
        "type": "array",
        "description": "List of strings related to the image",
        "items": {"type": "string", "maxLength": 255},
    },
    "direct_url": {
        "type": "string",
        "readOnly": True,
        "description": "URL to access the image file kept in external store",
    },
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {
        "type": "integer",
        "description": "Amount of disk space (in GB) required to boot image.",
    },
    "self": {"type": "string", "readOnly": True, "description": "An image self url"},
    "file": {"type": "string", "readOnly": True, "description": "An image file url"},
    "stores": {
        "type": "string",
        "readOnly": True,
        "description": "Store in which image data resides.  Only present when the operator "
        "has enabled multiple stores.  May be a comma-separated list of store identifiers.",
    },
    "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
    "locations": {
        "type": "array",
        "description": "A set of URLs to access the image file kept in external store",
    },
}
"""The base properties in Glance's order (which decides which error jsonschema reports)."""

ADDITIONAL: dict[str, Any] = {"type": "string"}
"""Glance's image schema is permissive: any other key is a property whose value is a string."""

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer" and isinstance(value, bool):
        return False  # JSON true is not an integer
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


@dataclass(frozen=True)
class SchemaError:
    """One jsonschema error: where in the instance, which keyword, which part of the schema."""

    path: tuple[str | int, ...]
    keyword: str
    message: str
    schema_path: tuple[str, ...]
    schema: Mapping[str, Any]
    instance: Any

    def relevance(self) -> tuple[int, tuple[str | int, ...]]:
        """jsonschema's best_match key (the error with the largest key is reported)."""
        return (-len(self.path), self.path)

    def __str__(self) -> str:
        def pretty(thing: Any) -> str:
            return indent(pformat(thing, width=72, sort_dicts=False), 4 * " ").lstrip()

        def index(container: str, parts: Sequence[str | int]) -> str:
            return container + "".join(f"[{part!r}]" for part in parts)

        return (
            f"{self.message}\n\n"
            f"Failed validating {self.keyword!r} in {index('schema', self.schema_path)}:\n"
            f"    {pretty(self.schema)}\n\n"
            f"On {index('instance', self.path)}:\n"
            f"    {pretty(self.instance)}"
        )


def _errors(
    value: Any, schema: Mapping[str, Any], path: tuple[str | int, ...], where: tuple[str, ...]
) -> Iterator[SchemaError]:
    """The errors of one value, in the order jsonschema visits the schema's keywords."""
    for keyword, expected in schema.items():
        if keyword == "type":
            names = expected if isinstance(expected, list) else [expected]
            if not any(_is_type(value, name) for name in names):
                reprs = ", ".join(repr(name) for name in names)
                yield SchemaError(
                    path, "type", f"{value!r} is not of type {reprs}", where, schema, value
                )
        elif keyword == "enum" and value not in expected:
            yield SchemaError(
                path, "enum", f"{value!r} is not one of {expected!r}", where, schema, value
            )
        elif keyword == "pattern" and isinstance(value, str) and not re.search(expected, value):
            yield SchemaError(
                path, "pattern", f"{value!r} does not match {expected!r}", where, schema, value
            )
        elif keyword == "maxLength" and isinstance(value, str) and len(value) > expected:
            yield SchemaError(path, "maxLength", f"{value!r} is too long", where, schema, value)
        elif keyword == "items" and isinstance(value, list):
            for i, item in enumerate(value):
                yield from _errors(item, expected, (*path, i), (*where, "items"))


def validate(image: Mapping[str, Any]) -> str | None:
    """Glance's 400 text for an image body that does not match the schema, or None."""
    found: list[SchemaError] = []
    for key, schema in PROPERTIES.items():
        if key in image:
            found.extend(_errors(image[key], schema, (key,), ("properties", key)))
    for key, value in image.items():
        if key not in PROPERTIES:
            found.extend(_errors(value, ADDITIONAL, (key,), ("additionalProperties",)))
    if not found:
        return None
    best = max(found, key=SchemaError.relevance)  # the first of equals, as max() keeps it
    return f"Provided object does not match schema 'image': {best}"
