"""The page's choices are the library's: its strategies are registered ones, its default is
`labelscout select`'s, and it sends a validation set exactly to the strategies that take one."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import labelscout.service as service
from labelscout.config import SelectConfig
from labelscout.strategies import STRATEGIES, get_strategy
from labelscout.strategies._validation_set import accepts_validation

PAGE = Path(service.__file__).parent / "static" / "index.html"


class _Options(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_strategy, self.options, self.selected, self._current = False, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "select":
            self.in_strategy = a.get("id") == "strategy"
        elif tag == "option" and self.in_strategy:
            self._current = a.get("value")
            if "selected" in a:
                self.selected = self._current or ""

    def handle_data(self, data):
        if self.in_strategy and self._current is None and data.strip() and self.lasttag == "option":
            self._current = data.strip()

    def handle_endtag(self, tag):
        if tag == "option" and self.in_strategy:
            self.options.append(self._current)
            self._current = None
        elif tag == "select":
            self.in_strategy = False


def _page_options() -> _Options:
    parser = _Options()
    parser.feed(PAGE.read_text())
    return parser


def test_the_page_offers_registered_strategies_and_the_cli_default():
    parsed = _page_options()
    assert parsed.options and set(parsed.options) <= set(STRATEGIES), set(parsed.options) - set(STRATEGIES)
    assert parsed.selected == SelectConfig.__dataclass_fields__["strategy"].default == "auto"
    assert parsed.options[0] == "auto"


def test_the_page_sends_a_validation_set_to_the_strategies_that_take_one():
    uses = re.search(r"const USES_VALIDATION = \[([^\]]*)\]", PAGE.read_text())
    assert uses, "USES_VALIDATION not found in the page"
    listed = set(re.findall(r'"([\w-]+)"', uses.group(1)))
    offered = set(_page_options().options)
    takes = {name for name in offered if accepts_validation(get_strategy(name, n=1))}
    assert listed == takes == {"density-match", "fisher-match"}
