#!/usr/bin/env python3
"""Generate the data modules that ``ratatosk_twilio`` ships.

The installed package never reads the reference data at run time; this script turns it into
files inside the package once, and the results are committed:

``src/ratatosk_twilio/_tables.py``
    * Twilio Smart Encoding (``tests/data/twilio/smart_encoding.json``, the map of
      TwilioDevEd/message-segment-calculator ``SmartEncodingMap.ts``), verbatim, quirks included.
    * The GSM 03.38 basic and extension sets (``tests/data/twilio/gsm7_charset.json``).
    * The grapheme cluster break property table that the segment calculator uses through the npm
      package ``grapheme-splitter@1.0.4`` (Unicode 10.0 GraphemeBreakProperty plus the emoji
      classes E_Base, E_Modifier, Glue_After_Zwj and E_Base_GAZ of UAX #29 rev 31). It is read out
      of that package's ``index.js`` (``npm pack grapheme-splitter@1.0.4``), because the
      calculator's counts depend on this exact, older table, not on the one in unicodedata.

``src/ratatosk_twilio/data/error_codes.json``
    The messaging error codes (``tests/data/twilio/twilio_error_codes_messaging.json``) reduced to
    code,
    message, log level and the documentation URL.

Usage::

    python providers/twilio/scripts/gen_tables.py \\
        --data tests/data --grapheme-splitter /tmp/package/index.js

``--check`` compares instead of writing and exits 1 when a committed file is out of date.

``golden --calculator DIR`` prints, as a Python literal, what the real calculator (npm
``sms-segments-calculator``, installed under DIR with ``npm install sms-segments-calculator``)
says about the corpus read from standard input (one JSON string per line). The segment tests embed
such output; node is needed only to regenerate it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "src" / "ratatosk_twilio"
TABLES = PACKAGE / "_tables.py"
ERROR_CODES = PACKAGE / "data" / "error_codes.json"

# Our numbering of grapheme-splitter's break classes (names as in _tables.py).
GB_NAMES = {
    "Other": "GB_OTHER",
    "CR": "GB_CR",
    "LF": "GB_LF",
    "Control": "GB_CONTROL",
    "Extend": "GB_EXTEND",
    "Regional_Indicator": "GB_REGIONAL_INDICATOR",
    "Prepend": "GB_PREPEND",
    "SpacingMark": "GB_SPACING_MARK",
    "L": "GB_L",
    "V": "GB_V",
    "T": "GB_T",
    "LV": "GB_LV",
    "LVT": "GB_LVT",
    "E_Base": "GB_E_BASE",
    "E_Modifier": "GB_E_MODIFIER",
    "ZWJ": "GB_ZWJ",
    "Glue_After_Zwj": "GB_GLUE_AFTER_ZWJ",
    "E_Base_GAZ": "GB_E_BASE_GAZ",
}
GB_VALUES = {name: index for index, name in enumerate(GB_NAMES)}

_RANGE = re.compile(r"\(\s*0x([0-9A-Fa-f]+)\s*<=\s*code\s*&&\s*code\s*<=\s*0x([0-9A-Fa-f]+)\s*\)")
_SINGLE = re.compile(r"(?<![<=] )0x([0-9A-Fa-f]+)\s*==\s*code")
_RETURN = re.compile(r"return\s+([A-Za-z_]+)\s*;")


def parse_grapheme_splitter(source: str) -> list[tuple[int, int, int]]:
    """Return grapheme-splitter's break classes as sorted, merged ``(first, last, class)``."""
    start = source.index("function getGraphemeBreakProperty")
    end = source.index("return Other;", start)
    body = source[start:end]
    groups: list[tuple[str, list[tuple[int, int]]]] = []
    pending: list[tuple[int, int]] = []
    for line in body.splitlines():
        code_part = line.split("//", 1)[0]
        for first, last in _RANGE.findall(code_part):
            pending.append((int(first, 16), int(last, 16)))
        for single in _SINGLE.findall(code_part):
            pending.append((int(single, 16), int(single, 16)))
        returned = _RETURN.search(code_part)
        if returned:
            groups.append((returned.group(1), pending))
            pending = []
    if pending:
        raise SystemExit("unterminated range group in grapheme-splitter source")
    names = [name for name, _ in groups]
    if sorted(names) != sorted(n for n in GB_NAMES if n != "Other"):
        raise SystemExit(f"unexpected classes in grapheme-splitter source: {names}")
    # The JS function returns the first class whose test matches: paint in reverse order.
    table = bytearray(0x110000)  # 0 = Other
    for name, ranges in reversed(groups):
        value = GB_VALUES[name]
        for first, last in ranges:
            table[first : last + 1] = bytes([value]) * (last - first + 1)
    merged: list[tuple[int, int, int]] = []
    cp = 0
    while cp < len(table):
        value = table[cp]
        run_end = cp
        while run_end + 1 < len(table) and table[run_end + 1] == value:
            run_end += 1
        if value:
            merged.append((cp, run_end, value))
        cp = run_end + 1
    return merged


def _py_str(text: str) -> str:
    """A Python string literal with every non-printable-ASCII character escaped."""
    quote = "'" if '"' in text and "'" not in text else '"'
    out = []
    for ch in text:
        cp = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif 0x20 <= cp < 0x7F:
            out.append(ch)
        elif cp <= 0xFF:
            out.append(f"\\x{cp:02x}")
        elif cp <= 0xFFFF:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    return quote + "".join(out) + quote


def render_tables(shared: Path, grapheme_source: str) -> str:
    """Render ``_tables.py``."""
    smart = json.loads((shared / "twilio" / "smart_encoding.json").read_text(encoding="utf-8"))
    gsm = json.loads((shared / "twilio" / "gsm7_charset.json").read_text(encoding="utf-8"))
    mapping: dict[str, str] = smart["map"]
    if len(mapping) != smart["count"] or any(len(key) != 1 for key in mapping):
        raise SystemExit("smart_encoding.json: unexpected shape")
    basic: str = gsm["basic_chars"]
    extension: str = gsm["extended_chars"]
    if len(basic) != gsm["basic_count"] or len(extension) != gsm["extended_count"]:
        raise SystemExit("gsm7_charset.json: unexpected shape")
    ranges = parse_grapheme_splitter(grapheme_source)

    lines = [
        "# ruff: noqa: E501",
        '"""Data tables for Twilio segment counting and Smart Encoding.',
        "",
        "GENERATED by providers/twilio/scripts/gen_tables.py -- do not edit by hand.",
        "",
        "Sources: TwilioDevEd/message-segment-calculator (SmartEncodingMap.ts, UnicodeToGSM.ts; "
        "see",
        "tests/data/twilio/*.json) and the grapheme break classes of npm grapheme-splitter 1.0.4",
        '(Unicode 10.0), which that calculator uses."""',
        "",
        "from __future__ import annotations",
        "",
        "# Smart Encoding: code point -> replacement (may be empty or several characters).",
        f"# {smart['source']}",
        "SMART_ENCODING: dict[str, str] = {",
    ]
    for key in sorted(mapping, key=ord):
        lines.append(f"    {_py_str(key)}: {_py_str(mapping[key])},")
    lines += [
        "}",
        "",
        "# GSM 03.38 default alphabet: one septet each.",
        f"GSM7_BASIC: str = {_py_str(basic)}",
        "# GSM 03.38 extension table: ESC + code, two septets each.",
        f"GSM7_EXTENSION: str = {_py_str(extension)}",
        "",
        "# Grapheme cluster break classes (grapheme-splitter 1.0.4 / Unicode 10.0).",
    ]
    for name, const in GB_NAMES.items():
        lines.append(f"{const} = {GB_VALUES[name]}  # {name}")
    lines += [
        "",
        "# Sorted, non-overlapping (first, last, class) ranges; unlisted code points are GB_OTHER.",
        "GRAPHEME_BREAK_RANGES: tuple[tuple[int, int, int], ...] = (",
    ]
    for first, last, value in ranges:
        lines.append(f"    (0x{first:04X}, 0x{last:04X}, {value}),")
    lines += [")", ""]
    return "\n".join(lines)


def render_error_codes(shared: Path) -> str:
    """Render ``data/error_codes.json``."""
    raw = json.loads(
        (shared / "twilio" / "twilio_error_codes_messaging.json").read_text(encoding="utf-8")
    )
    entries = []
    for item in sorted(raw["errors"], key=lambda entry: int(entry["code"])):
        code = int(item["code"])
        entries.append(
            {
                "code": code,
                "message": " ".join(str(item["message"]).split()),
                "log_level": str(item["log_level"]).upper(),
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
            }
        )
    document = {"source": raw["source"], "errors": entries}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


_GOLDEN_JS = r"""
const path = require('path');
const calculator = path.join(process.argv[1], 'node_modules', 'sms-segments-calculator');
const { SegmentedMessage } = require(calculator);
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.length);
const out = lines.map((line) => {
  const [text, smart] = JSON.parse(line);
  const m = new SegmentedMessage(text, 'auto', smart);
  return [m.encodingName, m.segmentsCount, m.numberOfCharacters, m.numberOfUnicodeScalars,
          m.messageSize, m.totalSize, m.getNonGsmCharacters().length];
});
process.stdout.write(JSON.stringify(out));
"""


def golden(calculator: Path) -> None:
    """Print the real calculator's results for ``[text, smart]`` JSON lines on stdin."""
    result = subprocess.run(
        ["node", "-e", _GOLDEN_JS, str(calculator)],
        input=sys.stdin.read(),
        capture_output=True,
        text=True,
        check=True,
    )
    for row in json.loads(result.stdout):
        print(f"    {tuple(row)!r},")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    gold = sub.add_parser("golden", help="print the real calculator's answers for stdin")
    gold.add_argument("--calculator", type=Path, required=True)
    data = Path(__file__).resolve().parents[3] / "tests" / "data"
    parser.add_argument("--data", type=Path, default=data)
    parser.add_argument("--grapheme-splitter", type=Path, help="grapheme-splitter 1.0.4 index.js")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "golden":
        golden(args.calculator)
        return 0
    if args.grapheme_splitter is None:
        parser.error("--grapheme-splitter is required")
    outputs = {
        TABLES: render_tables(args.data, args.grapheme_splitter.read_text(encoding="utf-8")),
        ERROR_CODES: render_error_codes(args.data),
    }
    stale = False
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            print(f"out of date: {path}")
            stale = True
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
