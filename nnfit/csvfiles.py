"""CSV files -> data frames: each file read once into memory, parsed by pandas and hashed from those bytes.

A file that cannot be read or parsed is a DataError naming it. Reading the bytes first means pandas parses the
header, a first look and the whole file from one snapshot, the sha256 describes exactly the rows parsed, and
pandas never memory-maps a file that could be truncated under it (SIGBUS).
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .columns import blurs, declared, first_row, is_numeric, narrowed, parse_problem, spaces_around, tidy
from .errors import DataError, display_path
from .files import file_sha256
from .headers import detect_separator, other_separator_in, separator_name

_PEEK_ROWS = 2000  # rows read first to guess which columns are numeric, so the full parse can go straight to floats


def read_source(source, name: str, role: str | None = None) -> bytes:
    """The whole content of a CSV given as a path, a stream (stdin) or bytes: read once, so it can be parsed
    more than once."""
    return _open(source, name, role).getvalue()


def _open(source, name: str, role: str | None) -> io.BytesIO:
    """The CSV's bytes in memory, read once, from a path (checked to exist), a stream such as stdin, or bytes.

    pandas then parses the header, a first look and the whole from the same bytes, so a file rewritten
    meanwhile cannot mix two versions; and it never maps a file that could be truncated under it (SIGBUS).
    """
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read()
        data = data.encode("utf-8") if isinstance(data, str) else data
    else:
        data = read_file_bytes(source, name, role)
    head = data[:8192]
    if b"\x00" in head:
        raise DataError(f"{name}: looks like a binary file, not CSV text")
    if not head.strip():
        raise DataError(f"{name}: file is empty")
    return io.BytesIO(data)


def read_file_bytes(path: str, name: str, role: str | None = None) -> bytes:
    """A file's whole content; DataError when it is missing, a folder or unreadable."""
    if not os.path.exists(path):
        raise DataError(f"{name}: file not found" + (f" ({role} in the config)" if role else ""))
    if os.path.isdir(path):
        raise DataError(f"{name}: is a folder, expected a CSV file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise DataError(f"{name}: cannot read: {e.strerror}") from None


def _parse(buffer: io.BytesIO, name: str, **kw) -> pd.DataFrame:
    buffer.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # index_col=False: a trailing comma on every row is an empty last field, not a row label
            return pd.read_csv(buffer, encoding="utf-8", index_col=False, **kw)
    except pd.errors.ParserWarning:
        header = buffer.getvalue()[:65536].split(b"\n", 1)[0].decode("utf-8", "replace")
        other = other_separator_in([header], kw.get("sep", ","))
        hint = (f"the header's fields look separated by {separator_name(other)}: set data.sep" if other else
                f"check for a stray {separator_name(kw.get('sep', ','))} or a missing header name")
        raise DataError(f"{name}: some rows have more fields than the header; their extra values would be "
                        f"lost ({hint})") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text ({_first_bad_byte(buffer)}); save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: file is empty") from None
    except pd.errors.ParserError as e:
        said = parse_problem(str(e).strip().splitlines()[-1], kw.get("sep", ","))
        raise DataError(f"{name}: cannot parse CSV: {said}") from None


def _first_bad_byte(buffer: io.BytesIO) -> str:
    raw = buffer.getvalue()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return f"byte {raw[e.start]:#04x} on line {line}"
    return "an undecodable byte"


def read_csv(source, name: str, float_dtype=np.float32, exact: tuple[str, ...] = (),
             text: tuple[str, ...] = (), role: str | None = None, sep: str = "auto", decimal: str = ".",
             types: dict | None = None, allow_empty: bool = False, missing_values=(),
             strip: bool = False, named: bool = True, percent: tuple | None = None,
             used: tuple | None = None, dayfirst: dict | None = None) -> pd.DataFrame:
    """Read a CSV file (a path), stream or file content (bytes) into a data frame, rows numbered from 0 as in
    the file.

    Columns that look numeric are parsed straight to `float_dtype`, except those in `exact` (a regression
    target), which keep pandas' own types; columns in `text` are read as text. types (data.types) declares
    columns numeric, date (turned into numbers by columns.to_number / to_days) or categorical (text). sep is
    the field separator, "auto" to detect it from the header; decimal the decimal mark; missing_values
    (data.missing_values) the texts that mean a missing value besides pandas' own (an empty field, NA, null...).
    strip: spaces around a name or a value are not part of it ('yes ' is 'yes', ' ?' is '?'), as in every
    model trained since nnfit keeps the setting (Preprocessor.strip); an earlier model's files are read as it
    read them. named: a column without a name in the header is an error (not for predict's files, whose model
    names the columns it uses). percent: the data.types numeric columns the training files wrote as percentages,
    which must be written so here too (None: not known). used: the columns that must not appear twice (None:
    all of them); predict's files may repeat one its model does not read. dayfirst: {date column: whether the
    training files wrote it day first}, for the columns whose values told. df.attrs gets the separator and how
    the declared columns are written, percentages and dates, for the model to keep.
    """
    buffer = _open(source, name, role)
    if sep == "auto":
        sep = detect_separator(buffer.getvalue()[:65536], decimal)
    spaces = spaces_around(buffer.getvalue(), sep) if strip else (False, False)  # before a field, after one
    raw, header, kw = _header(buffer, name, sep, decimal, strip, spaces[0])
    kw.update({"na_values": list(missing_values)} if missing_values else {})
    seen = set()
    unnamed = [i for i, col in enumerate(raw) if not str(col).strip()]  # pandas calls them 'Unnamed: N'
    for i, col in enumerate([str(c).strip() for c in raw] if strip else raw):
        if col in seen and i not in unnamed and (used is None or col in used):  # another is renamed by _header
            raise DataError(f"{name}: column '{col}' appears twice in the header; column names must be unique")
        seen.add(col)
    types = types or {}
    peek = _parse(buffer, name, nrows=_PEEK_ROWS, **kw)
    dtypes = {c: str for c in (*text, *types) if c in peek.columns}
    for c in peek.columns:  # text stays text ("true" is a category, not a boolean), numbers go straight to floats
        if c not in exact and c not in dtypes:
            dtypes[c] = float_dtype if is_numeric(peek[c]) else str
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a number beyond float32 is reported below, by name
        try:
            df = _parse(buffer, name, dtype=dtypes, **kw)
        except (ValueError, TypeError):  # a column that looked numeric holds text further down: pandas types
            # each column from all its rows (low_memory=False), not chunk by chunk into a mix of numbers and text
            df = _parse(buffer, name, dtype={c: str for c in (*text, *types) if c in peek.columns}, low_memory=False,
                        **kw)
    if df.empty and not allow_empty:
        raise DataError(f"{name}: has a header but no data rows")
    for i in reversed(unnamed):
        if i == len(header) - 1 and df.iloc[:, i].isna().all():  # a separator at the end of every line
            df = df.iloc[:, :i]
        elif named:  # a feature nobody can name in a config (predict passes the columns its model does not use)
            index = "a row index that pandas' to_csv wrote? write the file with index=False, or " if i == 0 else ""
            raise DataError(f"{name}: column {i + 1} has no name in the header; name it ({index}name the column "
                            "and list it in data.ignore)")
    numbers = {}  # text columns that hold only numbers once the spaces after them are gone ('1.5 ', '? ')
    for c in df.columns if any(spaces) else []:  # the parser skipped those before a value, not inside quotes
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c], numbers[c] = tidy(df[c], missing_values, c in text or c in types, decimal)
    floats = [c for c in df.columns if df[c].dtype == float_dtype and c not in numbers]
    _check_range(df, floats, buffer, name, kw, np.dtype(float_dtype))
    blurred = [c for c in floats if blurs(df[c].to_numpy(), float_dtype)]
    if blurred:  # read again in float64, to be centred in float64 before they become float_dtype (extract_rows)
        wide = _parse(buffer, name, usecols=blurred, dtype={c: np.float64 for c in blurred}, **kw)
        for c in blurred:
            df[c] = wide[c].to_numpy()
    written, orders, assumed = [], {}, []  # numeric columns written as percentages; the dates' order, assumed
    for column, kind in types.items():
        if column in df.columns and kind != "categorical":
            told = None if percent is None else column in percent, (dayfirst or {}).get(column)
            numbers[column], how, guess = declared(df[column], kind, decimal, f"{name}: column '{column}'", *told)
            assumed += [column] if guess else []
            written += [column] if kind == "numeric" and how else []
            orders.update({column: how} if kind == "date" and how is not None else {})
    for column, values in numbers.items():
        if values is not None:
            df[column] = narrowed(values, column in exact, float_dtype, df.index.to_numpy(),
                                  f"{name}: column '{column}'")
    df.attrs.update(sep=sep, percent=written, dayfirst=orders, assumed=assumed)  # for notes' hints (looks_numeric) and the model
    return df


def _header(buffer: io.BytesIO, name: str, sep: str, decimal: str, strip: bool,
            leading: bool = True) -> tuple[list, list, dict]:
    """The header's names as written and as read, and the keywords that parse the rows under them (strip;
    leading: whether a field may begin with a space, which the parser then skips)."""
    raw = _parse(buffer, name, header=None, nrows=1, dtype=str, keep_default_na=False, sep=sep,
                 decimal=decimal).iloc[0].tolist()
    kw = {"sep": sep, "decimal": decimal}
    if not strip:
        return raw, raw, kw
    header, taken = [str(c).strip() if str(c).strip() else f"Unnamed: {i}" for i, c in enumerate(raw)], set()
    for i, c in enumerate(header):  # pandas refuses a name twice; read_csv refuses those that matter
        header[i] = f"{c} (column {i + 1})" if c in taken else c
        taken.add(header[i])
    return raw, header, {**kw, "header": 0, "names": header, "skipinitialspace": leading}


def read_as_written(source: bytes, name: str, columns, sep: str = "auto", decimal: str = ".",
                    strip: bool = False) -> pd.DataFrame:
    """Columns exactly as the file writes them, as text: leading zeros, trailing zeros and blanks kept (but
    for the spaces around them, with strip)."""
    buffer = _open(source, name, None)
    if sep == "auto":
        sep = detect_separator(buffer.getvalue()[:65536], decimal)
    *_, kw = _header(buffer, name, sep, decimal, strip)
    df = _parse(buffer, name, usecols=list(columns), dtype=str, keep_default_na=False, na_filter=False, **kw)
    return df.apply(lambda column: column.str.rstrip()) if strip else df


def _check_range(df: pd.DataFrame, columns: list[str], buffer: io.BytesIO, name: str, kw: dict, dtype) -> None:
    """A number the file writes that the dtype cannot hold (1e300 in float32) is an error saying so, not an
    infinite value: such columns are read again in float64 to tell the two apart."""
    over = [c for c in columns if c in df.columns and np.isinf(df[c].to_numpy()).any()]
    if not over or dtype == np.float64:
        return
    wide = _parse(buffer, name, usecols=over, dtype={c: np.float64 for c in over}, **kw)
    for c in over:
        values = wide[c].to_numpy()
        beyond = np.isfinite(values) & np.isinf(df[c].to_numpy())
        if beyond.any():
            row = int(np.argmax(beyond))
            raise DataError(f"{name}: column '{c}' has {values[row]:g} in {first_row(df.index.to_numpy(), beyond)}, "
                            f"beyond the range of {dtype.name} (+-{np.finfo(dtype).max:.3g}): train with "
                            "train.dtype: float64, or rescale the column")


def content_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()  # releases the GIL while it hashes


def read_files(paths: dict[str, str], options: dict) -> tuple[dict, dict]:
    """({role: (frame, display name)}, {role: sha256}): each file read once, hashed while pandas parses it;
    options are read_csv's."""
    frames, hashes = {}, {}
    with ThreadPoolExecutor(1) as pool:
        for role in sorted(paths, key=lambda role: role != "train"):
            name = display_path(paths[role])
            content = read_file_bytes(paths[role], name, f"data.{role}")
            hashing = pool.submit(content_sha256, content)
            df = read_csv(content, name, role=f"data.{role}", named=role == "train", **options)
            frames[role] = (df, name)
            hashes[role] = hashing.result()
            if role == "train":  # the other files must write percentages and dates as it does
                options = {**options, "percent": tuple(df.attrs["percent"]), "dayfirst": df.attrs["dayfirst"]}
            if role == "train" and np.dtype(options.get("float_dtype", np.float32)).itemsize < 8:
                # the columns read in float64 to be centred there (blurred): the other files' too
                narrow = np.dtype(options.get("float_dtype", np.float32))
                wider = [c for c, t in df.dtypes.items()
                         if is_numeric(t) and t.itemsize > narrow.itemsize and c not in options.get("exact", ())]
                options = {**options, "exact": (*options.get("exact", ()), *wider)}
    return {role: frames[role] for role in paths if role in frames}, hashes


def changed_since(paths: dict[str, str], before: dict[str, os.stat_result]) -> str | None:
    """The role of a file whose stat is no longer what it was before it was read, else None.

    Every write changes a file's change time, but only to the kernel's clock tick (a few ms), so a file that
    is still being written can look unchanged; nnfit cannot tell a file that is complete from one a program
    is still writing.
    """
    for role, st in before.items():
        try:
            after = os.stat(paths[role])
        except OSError:
            return role
        if (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, after.st_dev) != \
                (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev):
            return role
    return None


def give_back_freed_memory() -> None:
    """Return the memory pandas' parser has freed to the operating system (glibc's malloc_trim).

    glibc keeps freed heap memory for later use, and after parsing a large CSV that is more than the CSV's
    size that no later allocation takes (numpy maps its large arrays separately); without this, training
    shows it as resident (docs/performance.md). Elsewhere (macOS, musl) there is nothing to call, and nothing is done.
    """
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)


def file_hashes(paths: dict[str, str]) -> dict[str, str | None]:
    """sha256 of each file; None for one that cannot be read (reading it reports why)."""
    hashes = {}
    for role, path in paths.items():
        try:
            hashes[role] = file_sha256(path)
        except OSError:
            hashes[role] = None
    return hashes
