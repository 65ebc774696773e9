"""params.yaml checked against molprop's JSON Schema (``params.schema.json`` beside this module).

The schema holds every key the stages read, with its type, range or allowed values, so that
a misspelt key (``train.lrr`` in a hand edit, or added by ``dvc exp run -S +train.lrr=...``)
or a wrong value (``lr: fast``, ``batch_size: 0``) stops a stage with one line per problem
before any work, instead of being ignored or failing deep inside a library. Editors that
read JSON Schema (the YAML language server) use the same file: see the first line of
params.yaml.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("params.schema.json")


def params_problems(params: Mapping[str, Any], require_keys: bool = True) -> list[str]:
    """One line per problem in ``params`` (sections of params.yaml): the key, and what is wrong
    or what to write instead. Empty when the sections conform to the schema. ``require_keys``:
    the keys the stages read without a default must be there (False: check the values of a
    partial section)."""
    validator = _validator()
    errors = sorted((e for e in validator.iter_errors(dict(params)) if require_keys or e.validator != "required"),
                    key=lambda e: [str(p) for p in e.absolute_path])
    problems = list(dict.fromkeys(_describe(error) for error in errors))  # one line per missing-keys list
    return problems or _search_space_problems(params.get("baseline"), validator)


def unknown_sections(params: Mapping[str, Any]) -> list[str]:
    """One line per top-level key of params.yaml that is a misspelling of a section of molprop's
    (also ``dvc exp run -S +trian.lr=...``: no stage would read it): the section's name in other
    letter case (``Train``), with one letter more (``trainn``, ``splits``), or, for a section of
    5+ letters, one letter off (``trian``, ``featurise``). Other names are left alone, as sections
    of a user's own stages: a section's name with a digit, '_' or a word added (``train2``,
    ``training``), or a word of its own (``plot``, ``export``)."""
    known = list(_validator().schema["properties"])
    problems = []
    for key in map(str, params):
        lower = key.lower()
        if key in known or any(_extended(lower, section) for section in known):
            continue
        meant = [s for s in known if s == lower or _one_letter_more(lower, s)
                 or (len(s) >= 5 and _edit_distance(lower, s) == 1)]
        if meant:
            problems.append(f"{key}: not a section molprop reads (did you mean {meant[0]}?); rename it, or delete it")
    return problems


def _one_letter_more(name: str, section: str) -> bool:
    """``name`` is ``section`` with one letter inserted."""
    return len(name) == len(section) + 1 and any(
        name[:i] + name[i + 1:] == section for i in range(len(name)) if name[i].isalpha())


def _extended(name: str, section: str) -> bool:
    """``name`` holds ``section`` and more than one added letter (a user's own section)."""
    return section in name and name != section and not _one_letter_more(name, section)


def _edit_distance(a: str, b: str) -> int:
    """Letters inserted, deleted, replaced or swapped with a neighbour to turn ``a`` into ``b``."""
    rows = [list(range(len(b) + 1))]
    for i, x in enumerate(a, 1):
        row = [i]
        for j, y in enumerate(b, 1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (x != y)))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    """The schema's validator, with JSON Schema's types made stricter."""
    from jsonschema import Draft202012Validator, validators

    # Stricter than JSON's types: 3.0 or 1e2 is not an integer (torch and scikit-learn refuse
    # floats for sizes and counts), and NaN is not a number (no range check would catch it:
    # every comparison with NaN is false). Infinity is, where the range allows it (a target
    # range [-.inf, 10]).
    checker = Draft202012Validator.TYPE_CHECKER.redefine_many({
        "integer": lambda _, value: isinstance(value, int) and not isinstance(value, bool),
        "number": lambda _, value: (isinstance(value, (int, float)) and not isinstance(value, bool)
                                    and not (isinstance(value, float) and math.isnan(value))),
    })
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(json.loads(SCHEMA_FILE.read_text()))


def _search_space_problems(baseline: Any, validator: Any) -> list[str]:
    """Each value a search may try (a list's items, a range's ends) checked against the rules
    of the hyperparameter itself (``baseline.search.space.ridge.alpha`` against
    ``baseline.ridge.alpha``), and ranges with low <= high (> 0 on a log scale)."""
    space = ((baseline or {}).get("search") or {}).get("space") or {}
    models = validator.schema["properties"]["baseline"]["properties"]
    problems = []
    for model, dimensions in space.items():
        rules = models[model]["properties"]
        for name, spec in (dimensions or {}).items():
            where = f"baseline.search.space.{model}.{name}"
            if name not in rules:
                problems.append(f"{where}: {model} has no hyperparameter {name!r}; it has {', '.join(rules)}")
                continue
            is_range = isinstance(spec, Mapping)
            values = [spec["low"], spec["high"]] if is_range else list(spec)
            rule, label = validator.evolve(schema=rules[name]), f"baseline.{model}.{name}"
            refused = _refusals(rule, where, label, values)
            # a range samples whole numbers only between two integers, else any decimal in it,
            # so both ends must be valid as decimals ({low: 0.5, high: 4} of a leaf size: 2.42)
            if is_range and not refused and not all(isinstance(v, int) for v in values):
                refused = _refusals(rule, where, label, [float(v) for v in values],
                                    " (a range with a decimal end is sampled as decimals)")
            problems += refused
            if is_range and not refused:
                if spec["low"] > spec["high"]:
                    problems.append(f"{where}: low {spec['low']} is above high {spec['high']}")
                elif spec.get("log") and spec["low"] <= 0:
                    problems.append(f"{where}: a log range needs low > 0, got {spec['low']}")
    return problems


def _refusals(rule: Any, where: str, label: str, values: list, note: str = "") -> list[str]:
    """A line for each of ``values`` that ``rule`` (a validator of one hyperparameter) refuses."""
    found = []
    for value in values:
        errors = list(rule.iter_errors(value))
        if errors:
            text = _describe(errors[0]).split(";", 1)[-1].strip()
            found.append(f"{where}: {_shown(value)}{note} is not a value of {label} ({text})")
    return found


TYPE_NAMES = {"string": "text", "number": "a number", "integer": "an integer", "boolean": "true or false",
              "object": "a mapping (key: value lines)", "array": "a list", "null": "null"}
BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _shown(value: Any) -> str:
    """``value`` as it would be written in params.yaml (JSON is YAML's flow style), cut short."""
    text = json.dumps(value, default=str).replace("-Infinity", "-.inf").replace("Infinity", ".inf").replace(
        "NaN", ".nan")  # YAML's spellings
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "params.yaml"
    kind, hint = error.validator, error.schema.get("description")
    if kind == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        return f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; the known keys are {', '.join(known)}"
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return (f"{where}: missing key(s) {', '.join(map(repr, missing))}; add them back: molprop's own "
                "params.yaml has each, with a comment on what it does")
    if kind in BOUNDS:
        return f"{where} is {_shown(error.instance)}; it must be {BOUNDS[kind]} {error.validator_value}"
    if kind == "enum":
        return f"{where} is {_shown(error.instance)}; use one of {', '.join(map(_shown, error.validator_value))}"
    whole = (isinstance(error.instance, float) and error.instance.is_integer()
             and "integer" in json.dumps(error.schema.get("type", "")))
    if isinstance(error.instance, float) and math.isnan(error.instance):
        return f"{where} is .nan (not a number); give a value"
    if whole:  # 1e2 or 3.0 where a count belongs
        return f"{where} is {_shown(error.instance)}; write it as an integer ({int(error.instance)})"
    if hint:
        return f"{where} is {_shown(error.instance)}; expected {hint}"
    if kind == "type":
        types = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
        return f"{where} is {_shown(error.instance)}; expected {' or '.join(TYPE_NAMES.get(t, t) for t in types)}"
    return f"{where}: {error.message}"
