"""A safe Label Studio label-config parser.

XML goes through defusedxml, so entity expansion ("billion laughs") and external
entities are refused instead of evaluated.

>>> cfg = parse_label_config(
...     '<View><Text name="text" value="$text"/>'
...     '<Choices name="sentiment" toName="text">'
...     '<Choice value="积极"/><Choice value="消极"/></Choices>'
...     '</View>')
>>> c = cfg.control("choices")
>>> c.name, c.to_name, c.labels, cfg.data_key(c)
('sentiment', ('text',), ('积极', '消极'), 'text')
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from labelloop.errors import InvalidLabelConfig

# Tags whose children name the labels a control can output.
_LABEL_CHILDREN = {"label", "choice"}
# Object tags: what is annotated, each reading one data key via value="$key".
OBJECT_TAGS = {
    "text", "hypertext", "image", "audio", "audioplus", "video", "paragraphs",
    "table", "timeseries", "pdf", "markdown", "list", "ranker",
}  # fmt: skip
# Tags that only lay out the page or describe labels: neither objects nor controls.
_LAYOUT_TAGS = {"view", "header", "style", "filter", "collapse", "panel", "label", "choice"}
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ObjectTag:
    name: str
    type: str  # lower-cased tag, e.g. "text", "image"
    value: str  # the raw value attribute, e.g. "$text"

    @property
    def data_key(self) -> str | None:
        """The task-data key this object reads (``$text`` -> ``text``), if any."""
        return self.value[1:] if self.value.startswith("$") else None


@dataclass(frozen=True)
class ControlTag:
    name: str
    type: str  # lower-cased tag, e.g. "choices", "labels", "rectanglelabels"
    to_name: tuple[str, ...]
    labels: tuple[str, ...]
    choice: str = "single"  # "single" or "multiple" (Choices only)


@dataclass(frozen=True)
class LabelConfig:
    xml: str
    controls: tuple[ControlTag, ...]
    objects: tuple[ObjectTag, ...]

    @property
    def fingerprint(self) -> str:
        """A short, stable hash of the XML, to key caches by config."""
        return hashlib.sha256(self.xml.encode()).hexdigest()[:16]

    def control(self, *types: str) -> ControlTag:
        """The first control of one of ``types`` (any control if none given)."""
        for c in self.controls:
            if not types or c.type in types:
                return c
        wanted = " or ".join(f"<{t}>" for t in types) or "any control tag"
        raise InvalidLabelConfig(f"the label config has no {wanted}")

    def object(self, name: str) -> ObjectTag:
        for o in self.objects:
            if o.name == name:
                return o
        raise InvalidLabelConfig(f"no object tag named {name!r} (referenced by toName)")

    def data_key(self, control: ControlTag) -> str:
        """The task-data key of the object the control annotates."""
        obj = self.object(control.to_name[0])
        if obj.data_key is None:
            raise InvalidLabelConfig(f"object {obj.name!r} has no $key value: {obj.value!r}")
        return obj.data_key


def parse_label_config(xml: str, field: str = "label_config") -> LabelConfig:
    """Parse and check a label config; raise :class:`InvalidLabelConfig` naming ``field``."""
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidLabelConfig("must be a non-empty XML string", field)
    if len(xml.encode()) > MAX_CONFIG_BYTES:
        raise InvalidLabelConfig(f"is larger than {MAX_CONFIG_BYTES} bytes", field)
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidLabelConfig(f"refused unsafe XML ({type(exc).__name__})", field) from exc
    except ParseError as exc:
        raise InvalidLabelConfig(f"is not well-formed XML: {exc}", field) from exc
    if root.tag.lower() != "view":
        raise InvalidLabelConfig(f"root tag must be <View>, not <{root.tag}>", field)
    cfg = _collect(xml, root)
    names = {o.name for o in cfg.objects}
    for c in cfg.controls:
        missing = [n for n in c.to_name if n not in names]
        if missing:
            raise InvalidLabelConfig(
                f"control {c.name!r} points to unknown toName {missing}", field)
    return cfg


def _collect(xml: str, root: Element) -> LabelConfig:
    objects, controls = [], []
    for el in root.iter():
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in OBJECT_TAGS and el.get("name"):
            objects.append(ObjectTag(el.get("name", ""), tag, el.get("value", "")))
        elif el.get("toName") and el.get("name") and tag not in _LAYOUT_TAGS:
            controls.append(_control(el, tag))
    return LabelConfig(xml, tuple(controls), tuple(objects))


def _control(el: Element, tag: str) -> ControlTag:
    labels = tuple(
        child.get("value") or child.get("alias") or ""
        for child in el.iter()
        if isinstance(child.tag, str) and child.tag.lower() in _LABEL_CHILDREN
    )
    return ControlTag(
        name=el.get("name", ""),
        type=tag,
        to_name=tuple(n.strip() for n in el.get("toName", "").split(",") if n.strip()),
        labels=tuple(label for label in labels if label),
        choice=el.get("choice", "single"),
    )
