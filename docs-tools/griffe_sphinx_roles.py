"""A griffe extension for the API reference: Sphinx roles in docstrings become code spans.

The docstrings use reST roles (``:class:`~ratatosk.Result```, ``:meth:`to_dict```) and double
backticks; mkdocstrings renders docstrings as Markdown, so this rewrites them before rendering:
``:role:`~a.b.Name``` -> ```Name```, ``:role:`a.b```` -> ```a.b```, ````text```` -> ```text```.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|exc|obj|const|ref):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1):  # ~a.b.Name shows Name
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def rewrite(text: str) -> str:
    """The docstring text with roles and reST literals as Markdown code spans."""
    text = _ROLE.sub(_role, text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
