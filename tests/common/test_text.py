"""Unstorable text (NUL, lone surrogates) is found wherever it is, and named precisely."""

import pytest
from pydantic import ValidationError

from services.common.errors import validation_errors
from services.common.text import RequestModel, find_unstorable, unstorable


class Note(RequestModel):
    title: str
    labels: list[str] = []
    extra: dict = {}


def test_clean_text_of_any_script_is_storable():
    assert unstorable("张三 O'Brien 😀 \t\n") is None
    assert find_unstorable({"a": ["b", {"c": "😀"}], "d": 1, "e": None}) is None


def test_the_first_bad_string_is_located():
    assert find_unstorable({"a": ["ok", {"c": "x\x00"}]}) == (("a", 1, "c"), "contains a NUL character")
    assert find_unstorable(["\ud83d"]) == ((0,), "contains a lone surrogate (an unpaired \\ud800-\\udfff)")
    assert find_unstorable({"ok": {"bad\x00key": 1}}) == (("ok",), "has a key that contains a NUL character")


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "a\x00"}, "title"),
    ({"title": "a", "labels": ["x", "\udfff"]}, "labels[1]"),
    ({"title": "a", "extra": {"k": [{"deep": "\x00"}]}}, "extra.k[0].deep"),
    ({"title": "a", "extra": {"\x00": 1}}, "extra"),
])
def test_a_request_model_names_the_field_and_the_place_inside_it(body, field):
    with pytest.raises(ValidationError) as raised:
        Note.model_validate(body)
    assert [error["field"] for error in validation_errors(raised.value.errors())] == [field]
