"""Reading target cells: numbers for regression, class labels for classification."""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.validation.config import TargetRules

MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "unknown", "n.d.", "n.d", "n/d"})
CENSOR_PREFIXES = ("<", ">", "≤", "≥", "=<", "=>")
# Error values a spreadsheet writes into a cell it could not compute (Excel, LibreOffice,
# Google Sheets); a class label "#N/A" would otherwise become a class of its own.
SPREADSHEET_ERROR = re.compile(r"#(N/?A|NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|ERROR!|SPILL!|CALC!|"
                               r"GETTING_DATA|FIELD!|BLOCKED!|CONNECT!|BUSY!|UNKNOWN!)|Err:\d{3}",
                               re.IGNORECASE)
# A number followed by a word: a measurement with its unit ("5.2 uM", "1,1 µM", "12 %").
# The unit: two or more characters from a letter on (not '2x10^-5' or an exponent 'E-3'; not a
# footnote '5a' or a class '1A'), one of a few one-letter units, or % / °.
WITH_UNIT = re.compile(r"[-+\u2212]?\d[\d.,]*(?:[eE][-+]?\d+)?\s*"
                       r"((?![xX\u00d7]\d|[eE][-+]?\d)[^\W\d_][^\s?]+|[MgLhsK]|[%\u00b0][^\s?]*)")
# Lower-case words that are units; any other such word ('1 active', '0 inactive') is a label
LOWER_CASE_UNITS = frozenset({"min", "ms", "ppm", "ppb", "mg", "ug", "ng", "pg", "kg", "mol", "mmol", "umol",
                              "nmol", "ml", "ul", "nm", "um", "mm", "pm", "kcal", "kj", "da", "kda", "days", "hours"})

# Dashes that stand for a minus in copied tables but are not one (hyphen, figure dash, en and
# em dash); read as a minus they could turn a range '1–2' into a number.
DASHES = ("\u2010", "\u2012", "\u2013", "\u2014")


class TargetOutcome(NamedTuple):
    """One target cell read: ``value`` (float or label text) or a rejection reason."""

    value: float | str | None = None
    reason: str | None = None
    message: str = ""


def is_missing(value: object) -> bool:
    """Whether a cell is empty: None, a float NaN or pandas' NA (nullable Parquet columns)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def cell_text(value: object) -> str:
    """A cell as text. Bytes (a Parquet column of text written without its UTF-8 mark, with a
    value that is not UTF-8) are decoded with U+FFFD for a bad byte, as molprop predict reads
    them, so the row is refused for that character rather than read as "b'...'"."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def is_typed_number(value: object) -> bool:
    """Whether a cell is a number already (a Parquet or SD numeric value), which data.decimal,
    the decimal mark of text files, does not apply to."""
    return isinstance(value, numbers.Number) and not isinstance(value, (bool, np.bool_, complex))


def target_text(value: object) -> str:
    """A target cell as the user would read it (for rejected.csv); missing cells are ''."""
    return "" if is_missing(value) else cell_text(value)


OTHER_MARK = {".": ",", ",": "."}  # the decimal mark's counterpart, a thousands separator


def grouped_in_thousands(text: str, decimal: str) -> bool:
    """Whether ``text`` reads as a number with the other mark between groups of three digits
    (``1,234`` or ``50,594.5`` with decimal ``.``; ``1.333,85`` with ``,``)."""
    other = OTHER_MARK[decimal]
    return re.fullmatch(rf"[-+]?[1-9]\d{{0,2}}(\{other}\d{{3}})+(\{decimal}\d*)?", text) is not None


POINT_ZEROS = re.compile(r"[+\-\u2212]?\d+\.0+(?:[eE][+\-\u2212]?\d+)?")  # 1.0, 1.0e0: a decimal point, no fraction


def parse_number(text: str, decimal: str = ".") -> float:
    """``float`` of a number written with ``decimal`` (``.`` or ``,``) as its decimal mark;
    with ``,`` a point is refused (it would be a thousands separator). The minus sign U+2212
    (as word processors and PDFs write it) reads as '-'. Raises ValueError."""
    text = text.replace("\u2212", "-")
    if "_" in text:  # Python's float() reads 1_000 as 1000; a table's number never has one
        raise ValueError(text)
    if decimal == ",":
        if "." in text:
            raise ValueError(text)
        text = text.replace(",", ".")
    return float(text)


def _missing(text: str, what: str) -> TargetOutcome | None:
    """The missing_target outcome of an empty / NA cell or a spreadsheet error value."""
    if text.lower() in MISSING_MARKERS:
        if not text:
            return TargetOutcome(reason="missing_target", message=f"The {what} is missing.")
        rename = "; if it names a class, rename that class in the file (e.g. 'no_effect')" if "label" in what else ""
        return TargetOutcome(reason="missing_target",
                             message=f"The {what} '{text}' is read as a missing-value marker{rename}.")
    if SPREADSHEET_ERROR.fullmatch(text):
        return TargetOutcome(reason="missing_target", message=f"The {what} is the spreadsheet error "
                             f"'{text}': the spreadsheet could not compute it. Fix the formula or "
                             "leave the cell empty.")
    return None


def unit_of(text: str) -> str | None:
    """The unit of a target written as a number and a unit ("5.2 uM": "uM"), else None (a
    word of lower-case letters alone must be a known unit: '1 active' is a label)."""
    found = WITH_UNIT.fullmatch(text.strip())
    unit = found.group(1) if found else None
    if unit and unit.isalpha() and unit.islower() and len(unit) > 1 and unit not in LOWER_CASE_UNITS:
        return None
    return unit


def read_number(value: object, rules: TargetRules) -> TargetOutcome:
    """A regression target as a finite float inside the plausible range, or why not."""
    text = target_text(value).strip()
    missing = _missing(text, "target value")
    if missing is not None:
        return missing
    if text.startswith(CENSOR_PREFIXES) and any(c.isdigit() for c in text):
        return TargetOutcome(reason="censored_target", message=f"'{text}' is a censored value "
                             "(only a bound is known); the model needs exact measurements.")
    try:
        number = parse_number(text, "." if is_typed_number(value) else rules.decimal)
    except ValueError:
        hint = ""
        thousands = OTHER_MARK[rules.decimal]
        if grouped_in_thousands(text, rules.decimal):
            hint = f" (a '{thousands}' between thousands? remove it, e.g. 1{thousands}234 -> 1234)"
        elif rules.decimal == "." and "," in text:
            hint = " (a decimal comma? set data.decimal: ',' in params.yaml)"
        elif rules.decimal == "," and "." in text:
            hint = " (data.decimal is ',': a point is not read as a decimal mark)"
        elif any(dash in text for dash in DASHES):
            hint = " (a dash where a minus sign '-' belongs?)"
        if unit_of(text):
            hint += (f" (a unit, '{unit_of(text)}'? give plain numbers, all in one unit, and potencies or "
                     "concentrations as logarithms, e.g. pIC50)")
        return TargetOutcome(reason="non_numeric_target",
                             message=f"The target '{text[:40]}' is not a number{hint}.")
    if not math.isfinite(number):
        return TargetOutcome(reason="non_finite_target", message=f"The target '{text}' is not finite.")
    low, high = rules.min_value, rules.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        return TargetOutcome(reason="target_out_of_range", message=f"The target {number:g} is "
                             f"outside the plausible range [{low}, {high}] ({rules.range_from}).")
    return TargetOutcome(value=number)


def read_label(value: object, decimal: str = ".") -> TargetOutcome:
    """A classification target as label text; integral numbers, given as numbers or as text
    ("1", "1.0"; "1,0" with ``decimal`` ","; "1.0" with either mark), become the same label "1"."""
    text = target_text(value).strip()
    missing = _missing(text, "class label")
    if missing is not None:
        return missing
    try:
        number = parse_number(text, "." if is_typed_number(value) else decimal)
    except ValueError:
        if not POINT_ZEROS.fullmatch(text):  # "1.0" next to decimal-comma numbers: still 1
            return TargetOutcome(value=text)
        number = float(text.replace("\u2212", "-"))
    if math.isfinite(number) and number.is_integer():
        text = str(int(number))
    return TargetOutcome(value=text)


def sorted_classes(labels: list[str]) -> list[str]:
    """Distinct labels in a deterministic order: numerically when all are numbers, else as text.

    Class index i is the position of its label in this list."""
    unique = set(labels)
    try:
        return sorted(unique, key=lambda label: (float(label), label))
    except ValueError:  # regardless of letter case: 'no' before 'Yes', as a reader sorts them
        return sorted(unique, key=lambda label: (label.casefold(), label))


def order_classes(classes: list[str], positive: str | None) -> list[str]:
    """``classes`` (sorted) with the ``positive`` label last, so that it is class 1 of a binary
    task; unchanged when ``positive`` is None. Raises ValueError when ``positive`` is not one
    of two labels."""
    if positive is None:
        return classes
    if positive not in classes:
        raise UserInputError(f"data.positive_class '{positive}' is not a label of the target; its labels: {classes}")
    if len(classes) != 2:
        raise UserInputError(f"data.positive_class applies to two classes; the target has {len(classes)}: "
                         f"{classes}. Set it to null.")
    return [label for label in classes if label != positive] + [positive]


# Labels that name the absence of the property (class 1 of agonist / inactive is 'inactive')
NEGATIVE_LABELS = frozenset({"inactive", "inactives", "decoy", "decoys", "negative", "negatives", "neg", "no",
                             "false", "non", "not", "absent", "nonactive", "nonbinder", "nonbinders", "nein",
                             "nee", "nej", "nicht", "ne", "nem", "hayır", "нет", "όχι", "아니요", "否", "无", "無"})


def reads_as_negative(label: str) -> bool:
    """Whether ``label`` (case-folded) names an absence on its own: 'inactive', 'decoy', 'no',
    'false', or 'non-' / 'not ' / 'no ' followed by a word ('non-binder', 'not toxic')."""
    return label.strip() in NEGATIVE_LABELS or label.startswith(
        ("non-", "non_", "non ", "not-", "not_", "not ", "no-", "no_", "no ", "非", "不", "无"))


def negated_positive(classes: list[str]) -> str | None:
    """A warning when the positive class (class 1) of two labels reads as the negation of the
    other ('inactive' against 'active': F1 and PR-AUC would measure the inactive molecules;
    '-' sorts after '+', so of 'BBB+' and 'BBB-' the second is class 1), else None."""
    if len(classes) != 2:
        return None
    negative, positive = (label.casefold().replace("\u2212", "-") for label in classes)  # U+2212 minus
    prefixes = ("non", "non-", "non_", "non ", "not", "not-", "not_", "not ", "no ", "no-", "no_", "非", "不")
    signs = len(negative) == len(positive) and [
        pair for pair in zip(negative, positive) if pair[0] != pair[1]] == [("+", "-")]
    # in- / un- only before a word of 5 letters or more (inactive, unstable; not inform, union),
    # a bare no- before one of 3 or more (nohit; not node, none)
    paired = signs or any(positive == prefix + negative for prefix in prefixes) or (
        len(negative) >= 5 and positive in ("in" + negative, "un" + negative)) or (
        len(negative) >= 3 and positive == "no" + negative)
    if not paired and not (reads_as_negative(positive) and not reads_as_negative(negative)):
        return None
    return (f"class 1, the positive class of F1, PR-AUC and calibration, is '{classes[1]}' (the second "
            f"label in sorted order); if '{classes[0]}' is the class to find, set data.positive_class: "
            f"{classes[0]}")


def case_variants(labels: list[str | None]) -> dict[str, list[int]]:
    """Labels that another label equals but for letter case ('Active' and 'active'): each
    spelling with the positions where it occurs; empty when every class is written one way.
    None entries (unreadable labels) are skipped."""
    spellings: dict[str, dict[str, list[int]]] = {}
    for position, label in enumerate(labels):
        if label is not None:
            spellings.setdefault(label.casefold(), {}).setdefault(label, []).append(position)
    return {label: rows for group in spellings.values() if len(group) > 1 for label, rows in group.items()}


def class_like_target(values: list[float], max_distinct: int = 2) -> str | None:
    """A warning when a regression target takes at most ``max_distinct`` distinct values over
    more molecules (e.g. 0 / 1: a class column read as numbers), else None."""
    distinct = sorted(set(values))
    if len(values) <= max_distinct or not 1 < len(distinct) <= max_distinct:
        return None
    shown = ", ".join(f"{v:g}" for v in distinct)
    return (f"the target takes only {len(distinct)} distinct values ({shown}) over {len(values)} molecules: "
            "if these are classes, set data.task: classification (regression would fit them as numbers)")


MAX_ZERO_SHARE = 0.05  # of a positive target's values at 0 (rounded IC50s), judged without them


def unlogged_target(values: list[float], min_decades: float = 3.0, min_skewness: float = 2.0) -> str | None:
    """A warning when a regression target looks like an untransformed concentration or rate:
    every value positive (but for up to ``MAX_ZERO_SHARE`` of them at exactly 0, named apart),
    the rest spanning at least ``min_decades`` orders of magnitude, with a long
    right tail (sample skewness at least ``min_skewness``, without a maximum that repeats),
    else None. Fitted by squared error, such a target is dominated by its largest values; its
    logarithm usually is not."""
    y = np.asarray(values, dtype=np.float64)
    zeros = int(np.count_nonzero(y == 0))  # IC50s rounded to 0.0: a few, beside a positive target
    if len(y) < 3 or zeros > MAX_ZERO_SHARE * len(y) or y.min() < 0:  # below 0: a signed quantity
        return None
    y = y[y > 0]
    if len(y) < 3:
        return None
    low, high = float(y.min()), float(y.max())
    decades = math.log10(high / low)
    if np.count_nonzero(y == high) > 1:  # a cap (100000 nM for every inactive) piles up at the
        y = y[y < high]  # top and hides the tail's skew: judged without it
    spread = float(y.std())
    skewness = float(np.mean(((y - y.mean()) / spread) ** 3)) if spread else 0.0
    if decades < min_decades or skewness < min_skewness:
        return None
    which = "the target is positive and spans" if not zeros else (
        f"the target's positive values (all but {zeros} at 0, which have no logarithm: rounded, or "
        "below a limit of detection? give them as measured, or leave them out) span")
    return (f"{which} {decades:.1f} orders of magnitude ({low:g} to {high:g}) with a long right tail (skewness "
            f"{skewness:.1f}): the models' squared error is then dominated by the largest values. If it is a "
            "concentration, a potency or a rate (IC50, Ki, mol/L, clearance), give its logarithm instead (e.g. "
            "pIC50 = 9 - log10(IC50 in nM))")


def _robust_sd(x: np.ndarray, centre: float) -> float:
    """1.4826 x the median absolute deviation from ``centre``; where over half the values equal
    it (censored data: pIC50 5.0 for every inactive), that of the values that do not."""
    deviation = np.abs(x - centre)
    if np.median(deviation) > 0:
        return 1.4826 * float(np.median(deviation))
    differing = deviation[deviation > 0]
    return 1.4826 * float(np.median(differing)) if len(differing) else 0.0


MAX_REPEATED_CODES = 3  # distinct far values repeated in several rows: -999, 9999, ...
# Values written as a code for a missing measurement: +-99, +-999, ... +-9999999
CODE_MAGNITUDES = [float(10**k - 1) for k in range(2, 8)]


def repeated_far_values(values: Sequence[float]) -> list[float]:
    """The values that recur among ``values`` (far targets), when there are at most
    ``MAX_REPEATED_CODES`` of them: a missing-value code such as -999 or 9999, not a tail."""
    counts = Counter(float(v) for v in values)
    repeated = sorted(v for v, n in counts.items() if n > 1)
    return repeated if len(repeated) <= MAX_REPEATED_CODES else []


class _Far(NamedTuple):
    far: np.ndarray  # which values are far
    codes: np.ndarray  # which are codes (CODE_MAGNITUDES, or repeated) beyond every other value
    median: float  # of the values that are no code
    spread: float  # their robust standard deviation


def _beyond(x: np.ndarray, basis: np.ndarray, min_robust_z: float) -> np.ndarray | None:
    """Which of ``x`` lie more than ``min_robust_z`` robust standard deviations of ``basis``
    from its median (NaN, off the scale: yes); None when ``basis`` has no spread."""
    median = float(np.median(basis))
    spread = _robust_sd(basis, median)
    if not spread > 0:
        return None
    with np.errstate(invalid="ignore"):
        return ~(np.abs(x - median) <= min_robust_z * spread)


def _scales(basis: np.ndarray) -> list:
    """The scales values are judged on: linear, and for a positive (non-negative) ``basis`` log10
    (log1p) too, so that the tail of raw IC50s or counts is not taken for typos."""
    logged = np.log10 if basis.min() > 0 else np.log1p if basis.min() == 0 else None
    return [lambda x: x] + ([logged] if logged is not None else [])


def _far_on(scale, y: np.ndarray, basis: np.ndarray, min_robust_z: float) -> np.ndarray | None:
    with np.errstate(invalid="ignore", divide="ignore"):
        return _beyond(scale(y), scale(basis), min_robust_z)


def _repeated_codes(basis: np.ndarray, min_robust_z: float) -> list[float]:
    """Values held by 3 or more rows that lie beyond all the others and far from them on every
    scale, judged without their own rows (-88 in 100 of 220 rows had moved the median to it)."""
    counts = Counter(basis.tolist())
    found = []
    for value, n in counts.most_common(MAX_REPEATED_CODES):
        rest = basis[basis != value]
        if n < 3 or len(rest) < 10 or rest.min() <= value <= rest.max():
            continue
        point = np.array([value])
        verdicts = [_far_on(scale, point, rest, min_robust_z) for scale in _scales(rest)]
        if all(v is not None and bool(v[0]) for v in verdicts):
            found.append(value)
    return found


BOUNDS = (1.0, 100.0)  # of a fraction and of a percentage
BOUND_SHARE = 0.98  # of the values within [0, bound] for a target to read as bounded


def _bound_kept(y: np.ndarray) -> float | None:
    """1 or 100 when ``BOUND_SHARE`` of ``y`` (and 10 values or more) lie within 0 to it, and
    some beyond a tenth of it: a fraction or a percentage. None otherwise."""
    for bound in BOUNDS:
        inside = y[(y >= 0) & (y <= bound)]
        if len(inside) >= max(10, BOUND_SHARE * len(y)) and inside.max() > bound / 10:
            return bound
    return None


def _far(y: np.ndarray, min_robust_z: float) -> _Far | None:
    """Far values of ``y`` judged against those that are no code (-999 in most rows had made
    the code the median and every measurement far): a code is a value written +-99, 999, ...
    (``CODE_MAGNITUDES``) or one repeated beyond all the others (:func:`_repeated_codes`).
    Values must be far on every scale (:func:`_scales`); a code beyond every other value need
    only be far on one (9999 among percentages lies near them in log1p, -999 among IC50s in nM
    near them in nM), and a code among the other values (a real 99 %) is none."""
    bound = _bound_kept(y)
    codes = np.isin(np.abs(y), CODE_MAGNITUDES)
    if np.count_nonzero(~codes) >= 10:
        codes |= np.isin(y, _repeated_codes(y[~codes], min_robust_z))
    if bound is not None:  # 0 and the bound itself are a fraction's or a percentage's own values
        codes &= ~np.isin(y, [0.0, bound])
    basis = y[~codes] if np.count_nonzero(~codes) >= 10 else y
    verdicts = [_far_on(scale, y, basis, min_robust_z) for scale in _scales(basis)]
    if verdicts[0] is None:
        return None
    linear = verdicts[0]
    verdicts = [v for v in verdicts if v is not None]
    everywhere, anywhere = np.logical_and.reduce(verdicts), np.logical_or.reduce(verdicts)
    beyond = (y < basis.min()) | (y > basis.max())
    # a fraction or a percentage: a value over twice its bound that is far on the linear scale
    # is a typo (45 among fractions, a percentage), however near the rest it lies in logarithms
    # (110 % inhibition is an assay's ordinary overshoot)
    far = everywhere | (codes & beyond & anywhere) | ((y > 2 * bound) & linear if bound is not None else False)
    if bound is not None:
        far &= ~np.isin(y, [0.0, bound])
    median = float(np.median(basis))
    return _Far(far, codes & beyond, median, _robust_sd(basis, median))


def far_targets(values: Sequence[float], min_robust_z: float = 10.0, max_share: float = 0.02) -> np.ndarray:
    """Positions of the few regression targets (at most ``max_share`` of them, and at least
    one) more than ``min_robust_z`` robust standard deviations (:func:`_robust_sd`) from the
    median (:func:`_far`), farthest first; empty when there are none, or more (a long tail, not
    a few mistakes), except that far values written or repeated as a missing-value code
    (``CODE_MAGNITUDES``, :func:`repeated_far_values`) are named however many rows hold them."""
    y = np.asarray(values, dtype=np.float64)
    found = _far(y, min_robust_z) if len(y) >= 10 else None
    if found is None:
        return np.zeros(0, dtype=np.int64)
    where = np.flatnonzero(found.far)
    coded = found.codes[where]
    coded |= np.isin(y[where], repeated_far_values(y[where][~coded]))
    if np.count_nonzero(~coded) > max(1, max_share * len(y)):
        where = where[coded]  # a long tail, in which only codes are named
    return where[np.argsort(-np.abs(y[where] - found.median), kind="stable")]


def outlying_targets(values: Sequence[float], rows: Sequence[int], min_robust_z: float = 10.0,
                     max_share: float = 0.02) -> str | None:
    """A warning naming :func:`far_targets` with their rows (0-based data rows), else None. A
    typo or a value in other units: five such values among 300 FreeSolv-like targets (500
    where the rest spans -25 to 4) made the network's test RMSE 13.6 instead of 1.7."""
    far = far_targets(values, min_robust_z, max_share)
    if len(far) == 0:
        return None
    y = np.asarray(values, dtype=np.float64)
    found = _far(y, min_robust_z)
    shown = ", ".join(f"row {rows[i]}: {y[i]:g}" for i in far[:5])
    shown += f" and {len(far) - 5} more" if len(far) > 5 else ""
    coded = sorted(set(repeated_far_values(y[far][~found.codes[far]])) | set(y[far][found.codes[far]].tolist()))
    if coded:
        counts = ", ".join(f"{v:g} in {np.count_nonzero(y == v)} row(s)" for v in coded)
        shown += (f" ({counts}: a code for a missing value? Leave such cells empty, and the rows are rejected "
                  "as missing_target)")
    return (f"{len(far)} target value(s) lie more than {min_robust_z:g} robust standard deviations from the "
            f"median ({found.median:g}; robust sd {found.spread:.3g}): {shown}. A few such values (a typo, other "
            "units, or a molecule unlike all the others) pull the models' squared error away from every other "
            "molecule: check them, and correct a mistake or reject such rows with "
            "validate.target_range: {<target column>: [min, max]}")


def decimal_mark_mistake(values: Sequence[object], decimal: str, sample: int = 5000) -> str | None:
    """A message when most of ``values`` (a target column) are not numbers with the decimal
    mark ``decimal`` but are with the other one: data.decimal is then set wrong, and the rows
    left would be the few whole numbers. None otherwise. Judged on at most ``sample`` evenly
    spaced values (curate reads every target anyway; a million took this check ~0.5 s)."""
    other = OTHER_MARK[decimal]
    step = max(1, -(-len(values) // sample))
    texts = [target_text(v).strip() for v in list(values)[::step] if not is_typed_number(v)]
    # censored values ('<0,5') are rejected as such whatever the mark: judged without them
    texts = [t for t in texts if t and t.lower() not in MISSING_MARKERS and not t.startswith(CENSOR_PREFIXES)]

    def reads(text: str, mark: str) -> bool:
        try:
            return math.isfinite(parse_number(text, mark))
        except ValueError:
            return False

    unread = [t for t in texts if not reads(t, decimal)]
    if 2 * len(unread) <= len(texts) or 10 * sum(reads(t, other) for t in unread) < 9 * len(unread):
        return None
    checked = " checked" if step > 1 else ""
    both = sum(reads(t, other) for t in unread)  # '1,5 mM' is a number with neither mark
    counted = f"{len(unread)} of {len(texts)} target values{checked} are not numbers with data.decimal '{decimal}'"
    if both < len(unread):
        counted = (f"{both} of {len(texts)} target values{checked} are numbers only with '{other}', not with "
                   f"data.decimal '{decimal}'")
    thousands = [t for t in unread if grouped_in_thousands(t, decimal)]
    if 2 * len(thousands) >= len(unread):  # 50,594: a decimal comma, or a comma between thousands?
        return (f"{counted} (e.g. '{thousands[0]}'): if '{other}' separates thousands there, remove it in the "
                f"file (1{other}234 -> 1234); if it is the decimal mark, set data.decimal: '{other}'")
    example = next(t for t in unread if reads(t, other))
    if both < len(unread):
        return f"{counted} (e.g. '{example}'): set data.decimal: '{other}' in params.yaml"
    return f"{counted} but are with '{other}' (e.g. '{example}'): set data.decimal: '{other}' in params.yaml"


# Markers no class is named after (R and pandas write them for a missing value)
NOT_A_CLASS = frozenset({"na", "n/a", "nan", "null"})


def marker_labels_warning(target_inputs: Sequence[object], n_in: int, min_share: float = 0.05) -> str | None:
    """A warning when many rows (at least 3 and ``min_share`` of the ``n_in`` rows) of a
    classification target were rejected as missing for a written marker that could name a class
    ('none', 'unknown', ...; not ``NOT_A_CLASS``): such a word is often a class ('none' among
    'low' / 'high'), lost as a whole. None otherwise."""
    spellings = Counter(text for text in (target_text(v).strip() for v in target_inputs)
                        if text and text.lower() in MISSING_MARKERS - NOT_A_CLASS)
    n = sum(spellings.values())
    if n < max(3, min_share * n_in):
        return None
    shown = ", ".join(f"'{label}' ({count} rows)" for label, count in spellings.most_common(5))
    return (f"{n} of {n_in} rows were rejected as missing_target for the label(s) {shown}, which are read as "
            f"missing values ({', '.join(repr(m) for m in sorted(MISSING_MARKERS) if m)}, in any letter case): if "
            "one names a class, rename it in the file (e.g. 'none' -> 'no_effect'), or the class is lost")


MIN_CLASS_SIZE = 3  # fewer molecules cannot be in training, validation and test at once
RARE_SHARE = 0.1  # of the second-largest class: a further class this small is more often a placeholder


def rare_class_warning(labels: Sequence[str], rows: Sequence[int]) -> str | None:
    """A warning naming the classes (of three or more; not the two largest) with fewer than
    ``MIN_CLASS_SIZE`` molecules or ``RARE_SHARE`` of the second-largest class, and their rows
    (0-based data rows): often a typo or a placeholder, which makes a two-class task a
    three-class one (macro F1, one-vs-rest ROC-AUC, no positive class)."""
    counts = Counter(labels)
    if len(counts) < 3:
        return None
    top = counts.most_common(2)
    below = max(MIN_CLASS_SIZE, math.ceil(RARE_SHARE * top[1][1]))
    # the two largest are no suspects, unless another class is as large as the second ('no' and
    # 'n/o' in 2 rows each beside 40 'yes': both, not whichever came first)
    tied = sum(n == top[1][1] for n in counts.values()) > 1
    exempt = {top[0][0]} if tied else set(dict(top))
    rare = sorted(label for label, n in counts.items() if label not in exempt and n < below)
    if not rare:
        return None

    def where(label: str) -> str:
        found = [str(r) for r, lab in sorted(zip(rows, labels)) if lab == label]
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        return f"'{label}' ({len(found)} molecule{'s' if len(found) > 1 else ''}: " \
               f"row{'s' if len(found) > 1 else ''} {', '.join(found[:5])}{more})"

    found = "; ".join(where(label) for label in rare[:5])
    second = f"{MIN_CLASS_SIZE} and a tenth of the {top[1][1]} of the second-largest class" + (
        "es" if tied else f", '{top[1][0]}'")
    return (f"{len(counts)} classes, and {found} {'has' if len(rare) == 1 else 'have'} fewer than "
            f"{below} molecules (the larger of {second}): "
            "a typo or a placeholder for a missing value? Correct the label, or leave the cell empty (the "
            "row is then rejected as missing_target); a real rare class is hard to learn and test.")
