"""The parsed label config that older ``LabelStudioMLBase`` scripts read.

Label Studio 0.8/0.9 and label-studio-ml 1.0.x both expose ``self.parsed_label_config``:
one entry per control tag, keyed by its ``name``::

    {control_name: {"type": <tag as written>, "to_name": [...],
                    "inputs": [{"type": <object tag as written>, "value": <data key>}],
                    "labels": [<alias or value>, ...],
                    "labels_attrs": {label: {<every XML attribute, as str>}}}}

Scripts index this dict directly (``info["inputs"][0]["value"]``), so the shape is kept
exactly. The XML is read through defusedxml, so entity expansion and DTDs are refused.

>>> cfg = parse_config(
...     '<View><Text name="text" value="$review"/>'
...     '<Choices name="sentiment" toName="text">'
...     '<Choice value="Positive" alias="P"/><Choice value="Negative"/></Choices></View>')
>>> info = cfg["sentiment"]
>>> info["type"], info["to_name"], info["inputs"], info["labels"]
('Choices', ['text'], [{'type': 'Text', 'value': 'review'}], ['P', 'Negative'])
>>> info["labels_attrs"]["P"]
{'value': 'Positive', 'alias': 'P'}
>>> parse_config(None)
{}
"""

from __future__ import annotations

import logging
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from labelloop.errors import InvalidLabelConfig
from labelloop.sdk.label_config import MAX_CONFIG_BYTES

logger = logging.getLogger(__name__)

# Children whose alias/value names a label of their control. <Relation> is what
# label-studio-ml 1.0.x added; Label Studio 0.x had only Label and Choice, but
# counting Relation there too only adds labels, it never changes the ones present.
_LABEL_TAGS = {"label", "choice", "relation"}
# Tags that carry name and toName without producing annotations.
_NOT_CONTROLS = {"filter"}

ParsedConfig = dict[str, dict[str, Any]]


def parse_config(config: str | None) -> ParsedConfig:
    """Parse ``config`` into the legacy dict; ``{}`` for an empty or missing config.

    Raises :class:`labelloop.errors.InvalidLabelConfig` (field ``label_config``) when the
    XML is malformed or unsafe. A ``toName`` naming no object tag is logged and skipped,
    as label-studio-ml 1.0.x did, so ``inputs`` may be shorter than ``to_name``.
    """
    if config is None or not config.strip():
        return {}
    root = _parse_xml(config)
    controls: ParsedConfig = {}
    inputs: dict[str, dict[str, str]] = {}
    _walk(root, None, controls, inputs)
    for name, info in controls.items():
        for to_name in info["to_name"]:
            if to_name in inputs:
                info["inputs"].append(dict(inputs[to_name]))
            else:
                logger.warning("control %r points to unknown toName %r; skipped", name, to_name)
    return controls


def _parse_xml(config: str) -> Element:
    if len(config.encode()) > MAX_CONFIG_BYTES:
        raise InvalidLabelConfig(f"is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        root: Element = fromstring(config, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidLabelConfig(f"refused unsafe XML ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise InvalidLabelConfig(f"is not well-formed XML: {exc}") from exc
    return root


def _walk(el: Element, control: str | None, controls: ParsedConfig,
          inputs: dict[str, dict[str, str]]) -> None:
    """Visit ``el`` and its subtree; ``control`` is the nearest enclosing control's name.

    Recursion (not ``iter()``) because a label belongs to its *nearest* control ancestor,
    and ElementTree elements do not know their parents.
    """
    if not isinstance(el.tag, str):  # comments / processing instructions
        return
    tag = el.tag
    name, to_name, value = el.get("name"), el.get("toName"), el.get("value")
    if name and to_name and tag.lower() not in _NOT_CONTROLS:
        controls[name] = {
            "type": tag,
            "to_name": [n.strip() for n in to_name.split(",") if n.strip()],
            "inputs": [],
            "labels": [],
            "labels_attrs": {},
        }
        control = name
    elif name and value is not None:
        inputs[name] = {"type": tag, "value": value.lstrip("$")}
    elif tag.lower() in _LABEL_TAGS and control is not None:
        _add_label(controls[control], el)
    for child in el:
        _walk(child, control, controls, inputs)


def _add_label(info: dict[str, Any], el: Element) -> None:
    key = el.get("alias") or el.get("value")
    if not key:  # a label without value or alias cannot be predicted; upstream stored None
        return
    info["labels"].append(key)
    info["labels_attrs"][key] = dict(el.attrib)
