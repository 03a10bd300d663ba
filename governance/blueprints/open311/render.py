"""The two wire formats of GeoReport v2: XML (schemaless, UTF-8 declaration) and JSON (the Spark mapping)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from flask import Response

from ...services.public.open311 import FORMATS

# A list element's children: <attributes><attribute>…, <values><value>…, and so on.
ITEM_TAGS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}
# Characters XML 1.0 cannot carry at all (a stray control character would make the whole answer unparsable).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _text(value) -> str:
    """One value as XML text: booleans as true/false, None as an empty element."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _fill(parent: ET.Element, data: dict) -> None:
    """Add one child per key, nesting lists under their singular item tag."""
    for name, value in data.items():
        child = ET.SubElement(parent, name)
        if isinstance(value, list):
            item_tag = ITEM_TAGS[name]
            for item in value:
                element = ET.SubElement(child, item_tag)
                if isinstance(item, dict):
                    _fill(element, item)
                else:
                    element.text = _text(item)
        elif isinstance(value, dict):
            _fill(child, value)
        else:
            child.text = _text(value)


def to_xml(root_tag: str, body, item_tag: str | None = None) -> bytes:
    """`body` is a list of dicts (each an `item_tag` under `root_tag`) or one dict (the root's children)."""
    root = ET.Element(root_tag)
    if isinstance(body, list):
        for item in body:
            _fill(ET.SubElement(root, item_tag), item)
    else:
        _fill(root, body)
    return DECLARATION + ET.tostring(root, encoding="unicode").encode("utf-8")


def respond(fmt: str, root_tag: str, body, item_tag: str | None = None, status: int = 200) -> Response:
    """The answer in the asked format, with the spec's content types."""
    if fmt == "xml":
        payload = to_xml(root_tag, body, item_tag)
    else:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(payload, status=status, content_type=FORMATS[fmt])


def errors(fmt: str, status: int, description: str) -> Response:
    """<errors><error><code/><description/></error></errors>, or [{"code":…,"description":…}] in JSON."""
    return respond(fmt, "errors", [{"code": status, "description": description}], "error", status=status)
