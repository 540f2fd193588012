"""Tokenisation for the text metrics, for English and Chinese report text.

Rules, applied left to right:

* every CJK ideograph (Han, including extensions and compatibility ideographs) and every Japanese
  kana is one token — Chinese has no spaces between words, so character-level n-grams are the usual
  unit for BLEU / ROUGE on Chinese text;
* a number with an optional decimal part is one token, split from a unit after it (``3.5cm`` →
  ``3.5``, ``cm``);
* a word starts with a letter and goes on over letters and digits (``T2W``, ``parametrium``,
  ``IIIC1``); ``_`` and ``-`` split words;
* every other non-space character (punctuation ``, . ( ) % -`` and full-width ``，。、；``) is a token.

Spaces only separate tokens. Case is kept unless ``lowercase=True``.

Examples::

    >>> from maerad.eval.text_tokens import tokenize
    >>> tokenize("Tumour 3.5 cm, FIGO IB2.")
    ['Tumour', '3.5', 'cm', ',', 'FIGO', 'IB2', '.']
    >>> tokenize("宫颈肿瘤3.5cm，FIGO IB2期。")
    ['宫', '颈', '肿', '瘤', '3.5', 'cm', '，', 'FIGO', 'IB2', '期', '。']
"""

from __future__ import annotations

import re

__all__ = ["CJK_CHARS", "tokenize"]

CJK_CHARS = (
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B–G
)
"""Character ranges tokenised one character per token (a regex character-class body)."""

_NOT_CJK = rf"(?![{CJK_CHARS}])"
_TOKEN = re.compile(
    rf"[{CJK_CHARS}]"  # one ideograph / kana
    r"|\d+(?:\.\d+)?"  # a number, with an optional decimal part
    rf"|{_NOT_CJK}[^\W\d_](?:{_NOT_CJK}[^\W_])*"  # a word: a letter, then letters / digits
    r"|\S",  # anything else: one punctuation character
)


def tokenize(text: str, *, lowercase: bool = False) -> list[str]:
    """Split ``text`` into tokens (module docstring for the rules).

    Args:
        text: English, Chinese or mixed text.
        lowercase: lower-case the tokens (Chinese is unaffected).
    """
    if lowercase:
        text = text.lower()
    return _TOKEN.findall(text)
