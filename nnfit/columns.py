"""What a CSV column holds, as users write it: numbers with thousands separators or percent signs, dates,
separators and decimal commas; and when text looks like it should be one of those.

data.types declares a column numeric, categorical or date; to_number and to_days turn such text into numbers
the same way at training and at predict time. looks_numeric and looks_like_dates find the columns a user
probably meant as numbers or dates, for a warning that names the fix. blurred tells a column whose values
float32 would hold too coarsely (unix times), to be read in float64 instead; tidy takes the spaces after a
text away.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from .errors import DataError

TYPES = ("numeric", "categorical", "date")  # data.types values
_EPOCH = pd.Timestamp("1970-01-01")
_CURRENCY = re.compile(r"^([+-]?)[$€£¥]|[$€£¥]$")  # $1,234.50, -$5, 12€: the symbol goes, its sign stays
_SPACES = re.compile(r"[\s\u00a0\u202f']")  # spaces, no-break and thin spaces, apostrophes as in 1'234
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
PRECISION = 1e-4  # the widest gap, in standard deviations of a column, between neighbouring values float32 may leave
_SAMPLE = 65536  # values of a column enough to tell whether float32 blurs it
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_NUMERIC_DATE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](?:\d{4}|\d{2})(?!\d)"  # 05/01/2023: the day or the month first?
# a thousands separator ("," or ".", the one that is not the decimal mark) only between groups of three digits
_GROUPED = {sep: re.compile(rf"[+-]?\d{{1,3}}(\{sep}\d{{3}})+([{dec}]\d*)?([eE][+-]?\d+)?")
            for sep, dec in ((",", "."), (".", ","))}


def is_numeric(series) -> bool:
    """Numbers are features as they are; booleans and text are categories. Takes a Series or a dtype."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def first_row(lines: np.ndarray, mask) -> str:
    """'row N' (1-based data row of the original file) of the first True in mask."""
    return f"row {int(lines[np.argmax(np.asarray(mask))]) + 1}"


def parse_problem(said: str, sep: str = ",") -> str:
    """pandas' words for a row it cannot split, in a user's: 'Error tokenizing data. C error: Expected 2 fields
    in line 3, saw 3' says which line, and what usually causes it."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", said)
    if fields is None:
        return said
    expected, line, saw = fields.groups()
    comma = " a number with a decimal comma in a file of commas?" if sep == "," else ""
    return (f"line {line} has {saw} fields where the lines before it have {expected} (a separator inside a value "
            f"that is not quoted?{comma})")


def to_number(series: pd.Series, decimal: str = ".") -> tuple[np.ndarray, np.ndarray]:
    """Text such as '1,234.5', '12%', '$5' or '-3' as float64 (n,), and a mask of the values that are not numbers
    (missing values are NaN, not bad). Thousands separators (',' or '.' opposite the decimal mark, spaces,
    apostrophes) are dropped; a trailing % divides by 100, so '12%' is 0.12."""
    text = series.astype("string").str.strip()
    percent = text.str.endswith("%").fillna(False).to_numpy(bool)
    text = text.str.rstrip("%").str.replace(_SPACES, "", regex=True).str.replace(_CURRENCY, r"\1", regex=True)
    thousands = "." if decimal == "," else ","
    misplaced = (text.str.contains(thousands, regex=False) & ~text.str.fullmatch(_GROUPED[thousands])).fillna(False)
    text = text.str.replace(thousands, "", regex=False)  # 7,6143 is no number with a decimal point: not 76143
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    values = pd.to_numeric(text.mask(misplaced), errors="coerce").to_numpy(np.float64, na_value=np.nan)
    values[percent] /= 100
    bad = np.isnan(values) & series.notna().to_numpy() & (text.fillna("") != "").to_numpy(bool)
    return values, bad


def declared(series: pd.Series, kind: str, decimal: str, what: str, percent: bool | None = None,
             dayfirst: bool | None = None) -> tuple[np.ndarray, bool | None, bool]:
    """A data.types column (numeric or date) as float64 (n,), how it is written: numeric, whether as
    percentages; date, whether day first (05/01/2023 as 5 January; None: no such dates), and whether that order
    was assumed, no row telling it (to_days). A value it
    cannot read, percentages mixed with plain numbers ('78%' is 0.78, '78' is 78), dates written both ways, or,
    given how the training files wrote them (percent, dayfirst), the other way, is an error naming it (what:
    'FILE: column NAME')."""
    lines = series.index.to_numpy()
    assumed = False
    if kind == "date":
        values, bad, dayfirst, assumed = to_days(series, what, dayfirst)
    else:
        values, bad = to_number(series, decimal)
    if bad.any():
        example = series[bad].iloc[0]
        raise DataError(f"{what} (data.types: {kind}) has {example!r} in {first_row(lines, bad)}, which is not a"
                        f"{' number' if kind == 'numeric' else ' date'}{type_hint(str(example), kind, decimal)}")
    if kind != "numeric":
        return values, dayfirst, assumed
    pct = series.astype("string").str.strip().str.endswith("%").fillna(False).to_numpy(bool) & ~np.isnan(values)
    plain = ~pct & ~np.isnan(values)
    if pct.any() and plain.any():
        i, j = int(np.argmax(pct)), int(np.argmax(plain))
        raise DataError(f"{what} (data.types: numeric) holds percentages ({series.iloc[i]!r}) and plain numbers "
                        f"({series.iloc[j]!r} in {first_row(lines, plain)}), which read as {values[i]:g} and "
                        f"{values[j]:g}: write them one way")
    if percent is not None and (pct | plain).any() and bool(pct.any()) != percent:
        k = int(np.argmax(pct | plain))
        how = {True: "percentages", False: "plain numbers"}
        raise DataError(f"{what} (data.types: numeric) was written as {how[percent]} in training, and here as "
                        f"{how[bool(pct.any())]} ({series.iloc[k]!r} in {first_row(lines, pct | plain)}, which reads "
                        f"as {values[k]:g}): write them as the training files did")
    return values, bool(pct.any()), False


def to_days(series: pd.Series, what: str = "", dayfirst: bool | None = None) -> tuple[np.ndarray, np.ndarray,
                                                                                         bool | None, bool]:
    """Dates (ISO 8601, or other common forms) as days since 1970-01-01, float64 (n,), a mask of the values
    that are not dates, whether numbers such as 05/01/2023 are read day first (None: there are none), and
    whether that order was assumed. A time of day is a fraction of a day; a time zone is converted to UTC.

    05/01/2023 is read the same way in every row: day first when a row says so (13/01/2023: a day past 12, a
    month up to 12), month first when one says that (01/13/2023), both an error. dayfirst, the order the
    training files were read in, decides when no row says; with neither, month first, as pandas reads them,
    assumed (and then kept for the other files, so that all of them are read one way)."""
    text = series.astype("string").str.strip()
    assumed = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' format inference warns about every guess
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
        fields = text.where(parsed.isna()).str.extract(_NUMERIC_DATE).astype("Float64").to_numpy(np.float64,
                                                                                                  na_value=np.nan)
        numeric = ~np.isnan(fields[:, 0])  # rows written 05/01/2023, 5.1.23, 05-01-2023 ...
        if numeric.any():
            first, second = fields[:, 0], fields[:, 1]
            day = (first > 12) & (first <= 31) & (second >= 1) & (second <= 12)  # 13/01/2023
            month = (second > 12) & (second <= 31) & (first >= 1) & (first <= 12)  # 01/13/2023
            lines, said = series.index.to_numpy(), {True: "day first", False: "month first"}
            if day.any() and month.any():
                raise DataError(f"{what} (data.types: date) writes dates day first ({series[day].iloc[0]!r} in "
                                f"{first_row(lines, day)}) and month first ({series[month].iloc[0]!r} in "
                                f"{first_row(lines, month)}): write them one way, or as 2023-01-13 (ISO 8601)")
            told = True if day.any() else False if month.any() else None
            if None not in (told, dayfirst) and told != dayfirst:
                example = series[day | month].iloc[0]
                raise DataError(f"{what} (data.types: date) was read {said[dayfirst]} in training, and here is "
                                f"written {said[told]} ({example!r} in {first_row(lines, day | month)}): write the "
                                "dates as the training files did, or as 2023-01-13 (ISO 8601)")
            assumed = told is None and dayfirst is None
            dayfirst = told if told is not None else bool(dayfirst)
            parsed = parsed.fillna(pd.to_datetime(text.where(numeric), errors="coerce", format="mixed",
                                                  dayfirst=dayfirst, utc=True))
        others = (parsed.isna() & (text.fillna("") != "")).to_numpy(bool)  # 'Jan 5, 2023': in words
        if others.any():
            parsed = parsed.fillna(pd.to_datetime(text.where(others), errors="coerce", format="mixed", utc=True))
    days = ((parsed.dt.tz_localize(None) - _EPOCH) / pd.Timedelta(days=1)).to_numpy(np.float64, na_value=np.nan)
    bad = np.isnan(days) & series.notna().to_numpy() & (text.fillna("") != "").to_numpy(bool)
    return days, bad, dayfirst if numeric.any() else None, assumed


_CHUNK_BYTES = 1 << 22  # spaces_around looks at a file in pieces this long, so its arrays stay small


def spaces_around(content: bytes, sep: str) -> tuple[bool, bool]:
    """Whether a space begins a field somewhere (before an opening quote, or after it: ' "x"', '" x"'), and
    whether one may end a field (or a quoted text: '"x ",'): found from the bytes by table lookups, which cost
    far less than stripping every field when, as in most files, there is none. A space is a space, tab,
    vertical tab or form feed; any byte of a character beyond ASCII (a no-break space's, but an 'é''s too) at a
    field's edge counts as one, so that tidy, which strips every kind, runs then."""
    spaces = [c for c in (32, 9, 11, 12) if c != ord(sep)]  # not a tab that separates
    bound = np.zeros(256, bool)
    bound[[ord(sep), 10, 13]] = True  # a separator or a line end, or the file's start or end (10 below)
    b, pad = np.frombuffer(content, np.uint8), np.full(2, 10, np.uint8)
    before = after = False
    for start in range(0, len(b), _CHUNK_BYTES):  # each piece with 2 bytes of context on either side
        w = b[max(start - 2, 0):start + _CHUNK_BYTES + 2]
        w = np.concatenate([pad if start == 0 else w[:0], w, pad if start + _CHUNK_BYTES + 2 >= len(b) else w[:0]])
        edge = w[2:-2] >= 0x80
        for c in spaces:
            edge |= w[2:-2] == c
        at = np.flatnonzero(edge) + 2  # few, in most files: look around those bytes only
        p1, p2, n1, n2 = w[at - 1], w[at - 2], w[at + 1], w[at + 2]
        before |= bool((bound[p1] | (p1 == 34) & bound[p2]).any())
        after |= bool((bound[n1] | (n1 == 34) & bound[n2]).any())
        if before and after:
            break
    return before, after


# pandas' own texts for a missing value (read_csv's default na_values), which it matches before any space
# after a value is gone
_PANDAS_MISSING = frozenset(("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"))


def tidy(column: pd.Series, missing_values=(), as_text: bool = False,
         decimal: str = ".") -> tuple[pd.Series, np.ndarray | None]:
    """A text column without the spaces around its values (inside quotes too), and with those that then spell a
    missing value ('? ', 'NA ') missing; and, when that changed it and it then holds only numbers written with
    the decimal mark ('1.5 '), its values as float64 (n,), else None (always None with as_text). Works on the
    distinct values, so a long column costs one hashing pass."""
    codes, uniques = pd.factorize(column)
    texts = np.array([u.strip() if isinstance(u, str) else u for u in uniques] + [np.nan], dtype=object)
    missing = _PANDAS_MISSING.union(missing_values)
    texts[[isinstance(t, str) and t in missing for t in texts]] = np.nan
    tidied = pd.Series(texts[codes], index=column.index, dtype=column.dtype)  # code -1 (missing) -> the nan
    if as_text or len(uniques) == 0 or all(t is u or t == u for t, u in zip(texts, uniques)):
        return tidied, None
    written = pd.Series(texts).astype(object)
    if decimal == ",":  # as pandas reads them: 1,5 and no thousands separator
        written = written.where(~written.astype(str).str.contains(".", regex=False)).str.replace(",", ".")
    numbers = pd.to_numeric(written, errors="coerce").to_numpy(np.float64)
    if np.isnan(numbers[pd.notna(texts)]).any():
        return tidied, None
    return tidied, numbers[codes]


def looks_numeric(values: pd.Series, decimal: str = ".", sep: str = ",") -> str | None:
    """For a text column: the data.types / data.decimal setting that would read it as numbers, when nearly all
    its values are numbers written with separators, percent signs or decimal commas; else None. sep: the file's
    field separator."""
    sample = values.dropna().astype(str).head(2000)
    if sample.empty:
        return None
    comma = sample.str.strip().str.match(_DECIMAL_COMMA)
    # 2,5 and 7,6143 are decimal commas; 56,911 could be either: thousands in a file of commas (where it must be
    # quoted), a decimal comma in one of semicolons or tabs, as spreadsheets in such locales write them
    grouped = sample[comma].str.strip().str.fullmatch(_GROUPED[","]).all()
    if decimal == "." and comma.mean() >= 0.95 and (sep != "," or not grouped):
        return 'data.decimal: ","'
    plain = pd.to_numeric(sample, errors="coerce").notna().mean()  # a stray word among plain numbers is not this
    parsed, bad = to_number(sample, decimal)
    if plain < 0.95 and (~bad).mean() >= 0.95 and not np.isnan(parsed).all():
        return "data.types: {COLUMN: numeric}"
    return None


def type_hint(value: str, kind: str, decimal: str) -> str:
    """What to set instead, for a value that data.types' kind refused: '' when there is nothing to suggest."""
    if kind == "date" and not pd.isna(pd.to_numeric(value.strip(), errors="coerce")):
        return " (a number, such as a unix time, is a feature as it is: leave the column out of data.types)"
    other = "," if decimal == "." else "."
    if kind == "numeric" and re.fullmatch(rf"\s*[+-]?\d+\{other}\d+\s*", value):
        return f" with data.decimal: '{decimal}' (if its decimal mark is '{other}', set data.decimal: '{other}')"
    return ""


def looks_like_dates(values: pd.Series) -> bool:
    """For a text column: whether nearly all its values are dates, ISO 8601 (2024-01-31, 2024-01-31T08:00) or
    numbers as spreadsheets write them (31/01/2024, 01.31.24), which data.types: date reads too."""
    sample = values.dropna().astype(str).str.strip().head(2000)
    return not sample.empty and (sample.str.match(_ISO_DATE) | sample.str.match(_NUMERIC_DATE)).mean() >= 0.95


def blurred(mean: float, std: float, dtype) -> bool:
    """Whether dtype holds a column's values, around its mean, more than PRECISION of its standard deviation
    apart (a constant column's: of 1, its scale in preprocessing): float32 holds a unix time in seconds (1.7e9)
    to 128 s, so an hour of them becomes 29 values. Such a column is read in float64 and centred there, then
    becomes dtype (rows.extract_rows): what the network sees is then as fine as dtype can hold it."""
    dtype = np.dtype(dtype)
    gap = float(np.spacing(dtype.type(abs(mean)))) if dtype.itemsize < 8 else 0.0  # nan for infinite values
    return gap > PRECISION * (std if std > 0 else 1.0)


def blurs(values: np.ndarray, dtype) -> bool:
    """blurred() on the mean and standard deviation of a column's values (as read: float32 holds them close
    enough to tell), missing ones left out; of every k-th value of a long column, which tells as well."""
    if np.dtype(dtype).itemsize >= 8:
        return False
    values = values[::max(1, len(values) // _SAMPLE)]
    present = values[~np.isnan(values)] if np.isnan(values).any() else values
    if present.size == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return blurred(present.mean(dtype=np.float64), present.std(dtype=np.float64), dtype)


def narrowed(values: np.ndarray, exact: bool, dtype, lines: np.ndarray, what: str) -> np.ndarray:
    """float64 values as dtype, but kept in float64 when exact or blurred (columns.blurs); a value beyond dtype
    is an error naming it (what: 'FILE: column NAME')."""
    if exact or blurs(values, dtype):
        return values
    with np.errstate(over="ignore"):
        narrow = values.astype(dtype)
    beyond = np.isinf(narrow) & np.isfinite(values)
    if beyond.any():
        raise DataError(f"{what} has {values[np.argmax(beyond)]:g} in {first_row(lines, beyond)}, beyond the range "
                        f"of {np.dtype(dtype).name} (+-{np.finfo(dtype).max:.3g}): train with train.dtype: float64, "
                        "or rescale the column")
    return narrow
