"""Accept-header negotiation: the client's preference among what a route offers, else 406."""

import pytest

from services.common.errors import Problem
from services.common.negotiation import negotiate

OFFERED = ["application/json", "text/csv", "text/html"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "chosen"), [
    (None, "application/json"), ("", "application/json"), ("*/*", "application/json"),
    ("application/json", "application/json"), ("text/csv", "text/csv"), ("text/html", "text/html"),
    (BROWSER, "text/html"),  # a browser opening the URL gets the page
    ("text/csv, application/json", "text/csv"),  # equal q: the client's first
    ("application/json;q=0.5, text/csv;q=0.9", "text/csv"),
    ("text/*", "text/csv"), ("text/*;q=0.5, text/html", "text/html"),
    ("TEXT/HTML", "text/html"), ("text/html;q=0, */*", "application/json"),  # q=0 means "not this one"
    ("text/html; charset=utf-8", "text/html"), ("text/csv;q=oops, text/html", "text/html"),
])
def test_the_clients_preference_among_what_is_offered(accept, chosen):
    assert negotiate(accept, OFFERED) == chosen


@pytest.mark.parametrize("accept", ["image/png", "application/xml, image/*", "text/html;q=0, text/csv;q=0, application/json;q=0"])
def test_nothing_acceptable_is_a_406_naming_what_is_offered(accept):
    with pytest.raises(Problem) as raised:
        negotiate(accept, OFFERED)
    assert raised.value.status == 406 and raised.value.field == "Accept"
    assert "application/json, text/csv, text/html" in raised.value.detail
