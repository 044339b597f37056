from __future__ import annotations

import pytest

from labelloop.errors import InvalidLabelConfig
from labelloop.sdk import parse_label_config

NER = ('<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/>'
       '</Labels><Text name="text" value="$text"/></View>')
BOX = ('<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
       '<Label value="Car"/><Label value="Person"/></RectangleLabels></View>')


def test_choices_config_gives_control_labels_and_data_key() -> None:
    cfg = parse_label_config('<View><Text name="t" value="$review"/><Choices name="c" '
                             'toName="t" choice="multiple"><Choice value="积极"/>'
                             '<Choice value="消极"/></Choices></View>')
    control = cfg.control("choices")
    assert (control.name, control.to_name, control.labels, control.choice) == (
        "c", ("t",), ("积极", "消极"), "multiple")
    assert cfg.data_key(control) == "review"


def test_ner_and_boxes() -> None:
    ner = parse_label_config(NER)
    assert ner.control("labels").labels == ("PER", "ORG")
    assert ner.data_key(ner.control()) == "text"
    box = parse_label_config(BOX)
    assert box.control("rectanglelabels").to_name == ("image",)
    assert box.object("image").type == "image"


def test_nested_layout_and_multiple_controls() -> None:
    cfg = parse_label_config(
        '<View><Header value="Rate"/><View><Text name="a" value="$a"/></View>'
        '<Choices name="c1" toName="a"><View><Choice value="x"/></View></Choices>'
        '<TextArea name="note" toName="a"/></View>')
    assert [c.type for c in cfg.controls] == ["choices", "textarea"]
    assert cfg.control("textarea").labels == ()


def test_fingerprint_changes_with_config() -> None:
    assert parse_label_config(NER).fingerprint != parse_label_config(BOX).fingerprint


@pytest.mark.parametrize("xml, needle", [
    ("", "non-empty"),
    ("not xml at all", "not well-formed"),
    ("<View><Text name='t' value='$t'>", "not well-formed"),
    ("<Root/>", "root tag must be <View>"),
    ('<View><Choices name="c" toName="missing"><Choice value="a"/></Choices></View>',
     "unknown toName"),
])
def test_bad_configs_are_refused_with_a_reason(xml: str, needle: str) -> None:
    with pytest.raises(InvalidLabelConfig) as err:
        parse_label_config(xml)
    assert needle in err.value.message
    assert err.value.status == 422 and err.value.field == "label_config"


def test_billion_laughs_is_refused_not_expanded() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            '<View><Text name="t" value="&lol3;"/></View>')
    with pytest.raises(InvalidLabelConfig, match="unsafe XML"):
        parse_label_config(bomb)


def test_external_entity_is_refused() -> None:
    xxe = ('<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<View><Text name="t" value="&x;"/></View>')
    with pytest.raises(InvalidLabelConfig, match="unsafe XML"):
        parse_label_config(xxe)


def test_missing_control_type_is_a_clear_error() -> None:
    with pytest.raises(InvalidLabelConfig, match="no <choices>"):
        parse_label_config(NER).control("choices")
