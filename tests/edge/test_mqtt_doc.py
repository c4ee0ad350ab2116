"""docs/MQTT.md must say what ``auroral.edge.contract`` says: the page is what subscribers read, the models are
what the station sends, and this test keeps the two from drifting apart.

The page has a topic table under "## Topics" (topic, payload model, retained, QoS) and one section per topic,
headed ``### `<name>` ``, whose first table lists the model's fields (field, type, required, meaning) with nested
models as ``parent.child``. A further table in a section documents type-specific extra fields and is allowed
only where the model accepts extra fields.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from auroral.edge import contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "MQTT.md"
CELL_SPLIT = re.compile(r"(?<!\\)\|")


def tables(markdown: str) -> dict[str, list[list[list[str]]]]:
    """Tables by the heading above them: heading text → list of tables → rows (header row dropped) → cells."""
    found: dict[str, list[list[list[str]]]] = {}
    heading, rows = "", None
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in CELL_SPLIT.split(line.strip().strip("|"))]
            if rows is None:
                rows = []
                found.setdefault(heading, []).append(rows)
            elif not all(set(cell) <= set("-:") for cell in cells):
                rows.append(cells)
            continue
        rows = None
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
    return found


def unquote(cell: str) -> str:
    assert cell.startswith("`") and cell.endswith("`"), f"expected `code`, got {cell!r}"
    return cell[1:-1]


def doc_type(schema: dict[str, Any]) -> str:
    """The words the page uses for a JSON-schema type."""
    if "anyOf" in schema:
        kinds = [doc_type(option) for option in schema["anyOf"] if option.get("type") != "null"]
        nullable = len(kinds) < len(schema["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if "$ref" in schema:
        return "object"
    if schema.get("format") == "date-time":
        return "date-time"
    if schema["type"] == "object" and "additionalProperties" in schema:
        return f"object of {doc_type(schema['additionalProperties'])}"
    return str(schema["type"])


def expected_fields(model: type[BaseModel], prefix: str = "") -> dict[str, tuple[str, str]]:
    """Dotted field name → (type, required) as the page must write them."""
    properties = model.model_json_schema()["properties"]
    fields: dict[str, tuple[str, str]] = {}
    for name, field in model.model_fields.items():
        required = "yes" if field.is_required() else f"no, default `{json.dumps(field.default)}`"
        fields[prefix + name] = (doc_type(properties[name]), required)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            fields.update(expected_fields(field.annotation, f"{prefix}{name}."))
    return fields


def documented_fields(section: list[list[str]]) -> dict[str, tuple[str, str]]:
    fields: dict[str, tuple[str, str]] = {}
    for row in section:
        name = unquote(row[0])
        assert name not in fields, f"field {name} documented twice"
        fields[name] = (row[1], row[2])
    return fields


@pytest.fixture(scope="module")
def doc() -> dict[str, list[list[list[str]]]]:
    return tables(DOC.read_text(encoding="utf-8"))


def test_topic_table_lists_every_topic_with_its_model_and_retain_flag(doc):
    """A JSON topic names its model; a raw one (``contract.RAW``) its media type."""
    payloads = {**{name: model.__name__ for name, model in contract.SCHEMAS.items()}, **contract.RAW}
    expected = {contract.topic("auroral", "<station>", name): (payload, "yes" if name in contract.RETAINED
                                                               else "no", "1")
                for name, payload in payloads.items()}
    (rows,) = doc["Topics"]
    documented = {unquote(row[0]): (unquote(row[1]), row[2], row[3]) for row in rows}
    assert documented == expected


@pytest.mark.parametrize("name", sorted(contract.SCHEMAS))
def test_every_field_of_every_message_is_documented(doc, name):
    model = contract.SCHEMAS[name]
    sections = doc.get(f"`{name}`")
    assert sections, f"docs/MQTT.md has no section ### `{name}`"
    documented, expected = documented_fields(sections[0]), expected_fields(model)
    missing, unknown = sorted(expected.keys() - documented.keys()), sorted(documented.keys() - expected.keys())
    assert not missing, f"{name}: fields missing from docs/MQTT.md: {missing}"
    assert not unknown, f"{name}: docs/MQTT.md documents fields the model lacks: {unknown}"
    wrong = {field: f"documented {documented[field]}, model says {expected[field]}" for field in expected
             if documented[field] != expected[field]}
    assert not wrong, f"{name}: (type, required) differ: {wrong}"
    if len(sections) > 1:
        assert model.model_config.get("extra") == "allow", f"{name}: extra fields documented, the model forbids them"


def test_every_documented_section_is_a_topic_of_the_contract(doc):
    topics = {heading.strip("`") for heading in doc if heading.startswith("`")}
    assert topics == set(contract.SCHEMAS)


def test_extra_alert_fields_belong_to_alert_types(doc):
    alert_types = set(contract.AlertMessage.model_json_schema()["properties"]["type"]["enum"])
    (_, extras) = doc["`alerts`"]
    assert extras and {unquote(row[0]) for row in extras} <= alert_types
    assert not {unquote(row[1]) for row in extras} & set(contract.AlertMessage.model_fields)
