"""The published event contract matches the code; encryption keys rotate; ids sort by time."""

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest
from pydantic import ValidationError
from cryptography.fernet import Fernet

from services.common.catalog import CATALOG, AlertEvent
from services.common.contract import contract_differences
from services.common.ids import uuid7
from services.common.privacy import BlindIndex, FieldCipher, search_tokens
from services.common.settings import Settings

DOCS_EVENTS = Path(__file__).resolve().parents[2] / "docs" / "events"
PERSONAL_FIELD_NAMES = {"name", "email", "phone", "address", "note", "text", "comment", "first_name", "last_name"}


def test_the_published_contract_equals_the_one_generated_from_the_code():
    assert contract_differences(DOCS_EVENTS, Settings()) == [], "run `make contract` and commit docs/events"


def test_event_types_follow_the_naming_rule_and_payloads_have_no_personal_fields():
    for event_type, model in CATALOG.items():
        parts = event_type.split(".")
        assert parts[0] == "pulse" and parts[-1].startswith("v") and len(parts) == 4, event_type
        assert not PERSONAL_FIELD_NAMES & set(model.model_fields), event_type


# String fields that hold neither an id nor a fixed code (a Literal): each was looked at and holds a
# code or a number written as text (consent's keys are codes, the API refuses anything else; alert
# `facts` are named numbers, which the alerts service must keep so; a feedback `category` is a code,
# the feedback API refuses anything but letters, digits and `_.:-`). A new free-text field must be
# justified here, or not be added.
CHECKED_STRING_FIELDS = {"amount", "refunded_total", "currency", "channel", "status", "priority", "rule", "rfm",
                         "dedup_key", "consent", "changed_fields", "facts", "category"}


def _is_free_text(annotation) -> bool:
    if annotation is str:
        return True
    return any(_is_free_text(argument) for argument in get_args(annotation) if get_origin(annotation) is not Literal)


def test_payloads_carry_ids_codes_and_numbers_but_no_free_text():
    for event_type, model in CATALOG.items():
        for name, field in model.model_fields.items():
            if name.endswith("_id") or name in CHECKED_STRING_FIELDS:
                continue
            assert not _is_free_text(field.annotation), f"{event_type}.{name} is free text"


def test_data_encrypted_with_an_old_key_is_read_after_rotation_and_rewritten_with_the_new():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = FieldCipher([old]).encrypt("李雷")
    rotated_cipher = FieldCipher([new, old])
    assert rotated_cipher.decrypt(token) == "李雷"
    rewritten = rotated_cipher.rotate(token)
    assert FieldCipher([new]).decrypt(rewritten) == "李雷"
    with pytest.raises(ValueError):
        FieldCipher([new]).decrypt(token)


def test_blind_index_matches_equal_values_only_for_the_same_key():
    assert BlindIndex("k").digest("email", "a@b.cn") == BlindIndex("k").digest("email", "a@b.cn")
    assert BlindIndex("k").digest("email", "a@b.cn") != BlindIndex("other").digest("email", "a@b.cn")


def test_search_tokens_cover_chinese_characters_and_pairs_and_latin_words():
    assert search_tokens("欧阳娜娜") == {"欧", "阳", "娜", "欧阳", "阳娜", "娜娜"}
    assert search_tokens("Ｌｉ  WEI") == {"li", "wei"}


def test_uuid7_ids_made_in_later_milliseconds_sort_later():
    ids = []
    for _ in range(20):
        ids.append(uuid7())
        time.sleep(0.002)
    assert [str(i) for i in ids] == sorted(str(i) for i in ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)


@pytest.mark.parametrize("facts", [{"note": "客户张三很生气"}, {"who": "Zhang San"}, {"x": "a" * 65}])
def test_alert_facts_refuse_strings_that_are_not_codes(facts):
    with pytest.raises(ValidationError):
        AlertEvent(customer_id="c-1", alert_id="a-1", kind="churn_risk", severity="warning", rule="churn_risk",
                   rule_version=1, dedup_key="k", facts=facts, detected_at=datetime.now(timezone.utc))


def test_alert_facts_take_codes_ids_and_moments():
    facts = {"metric": "resolution", "complaint_id": "0192f0c3-7a1b", "due_at": "2026-12-02T10:00:00+00:00", "p": 0.4}
    event = AlertEvent(customer_id="c-1", alert_id="a-1", kind="churn_risk", severity="warning", rule="churn_risk",
                       rule_version=1, dedup_key="k", facts=facts, detected_at=datetime.now(timezone.utc))
    assert event.facts == facts
