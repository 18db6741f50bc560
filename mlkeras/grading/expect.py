"""Assertions that checks use to compare a submission's answer with a reference.

Values are checked in a fixed order: type, then dtype, then shape (exactly:
no broadcasting), then the values with an explicit `rtol` and `atol`. The
first difference raises `CheckFailure`, whose message says which of these
went wrong, and for values the largest difference and where it is.
Everything here runs in the grader's process on decoded plain data, so a
submission cannot change how it compares.
"""

import numbers

import numpy as np

from mlkeras.grading import codec


class CheckFailure(AssertionError):
    """A submission's answer differs from the reference; `reason` says how.

    `reason` is one of `"type"`, `"dtype"`, `"shape"`, `"values"`.
    """

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def describe_type(value):
    """A short human name for the type of a decoded value."""
    if isinstance(value, codec.Opaque):
        return value.type_name
    if isinstance(value, codec.Remote):
        return value.type_name
    if isinstance(value, codec.Yielded):
        return "generator"
    if isinstance(value, np.ndarray):
        return f"numpy.ndarray of {value.dtype}"
    if isinstance(value, np.generic):
        return f"numpy.{type(value).__name__}"
    return type(value).__name__


def _dtype_matches(actual, wanted):
    if (
        isinstance(wanted, type)
        and issubclass(wanted, np.generic)
        and wanted
        in (
            np.integer,
            np.floating,
            np.number,
            np.signedinteger,
            np.unsignedinteger,
            np.inexact,
            np.bool_,
        )
    ):
        return np.issubdtype(actual, wanted)
    return actual == np.dtype(wanted)


def _dtype_name(wanted):
    if isinstance(wanted, type) and wanted in (np.integer, np.signedinteger):
        return "an integer dtype"
    if isinstance(wanted, type) and wanted in (np.floating, np.inexact):
        return "a floating-point dtype"
    return str(np.dtype(wanted))


def _where(name):
    return f"{name}: " if name else ""


def assert_array(
    actual,
    expected,
    *,
    rtol=1e-6,
    atol=1e-8,
    dtype="same",
    name="",
    values=True,
):
    """Asserts that `actual` is an array equal to `expected` within tolerances.

    Args:
        actual: the submission's answer (decoded).
        expected: the reference, an array-like.
        rtol: relative tolerance. Defaults to `1e-6`.
        atol: absolute tolerance. Defaults to `1e-8`.
        dtype: the dtype required: `"same"` (the reference's), a dtype, an
            abstract NumPy type such as `np.floating`, or `None` (any).
            Defaults to `"same"`.
        name: what the value is, for messages.
        values: compare the values too. Defaults to `True`; `False` checks
            only type, dtype and shape.

    Raises:
        CheckFailure: on the first of wrong type, dtype, shape or values.
    """
    expected = np.asarray(expected)
    where = _where(name)
    if not isinstance(actual, np.ndarray):
        raise CheckFailure(
            "type",
            f"{where}wrong type: expected a numpy.ndarray, "
            f"got {describe_type(actual)}",
        )
    wanted = expected.dtype if dtype == "same" else dtype
    if wanted is not None and not _dtype_matches(actual.dtype, wanted):
        raise CheckFailure(
            "dtype",
            f"{where}wrong dtype: expected {_dtype_name(wanted)}, "
            f"got {actual.dtype}",
        )
    if actual.shape != expected.shape:
        raise CheckFailure(
            "shape",
            f"{where}wrong shape: expected {expected.shape}, "
            f"got {actual.shape}",
        )
    if values:
        _assert_values(actual, expected, rtol, atol, where)


def _assert_values(actual, expected, rtol, atol, where):
    if actual.dtype == bool or expected.dtype == bool:
        actual_f, expected_f = actual.astype(float), expected.astype(float)
    else:
        actual_f = actual.astype(
            np.complex128 if np.iscomplexobj(actual) else np.float64
        )
        expected_f = expected.astype(
            np.complex128 if np.iscomplexobj(expected) else np.float64
        )
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(actual_f - expected_f)
        tolerance = atol + rtol * np.abs(expected_f)
        same_nan = np.isnan(actual_f) & np.isnan(expected_f)
        same_inf = np.isinf(actual_f) & (actual_f == expected_f)
        bad = ~(same_nan | same_inf) & ~(difference <= tolerance)
    if not bad.any():
        return
    count = int(bad.sum())
    scored = np.where(
        bad, np.nan_to_num(difference, nan=np.inf, posinf=np.inf), -1.0
    )
    flat_index = int(np.argmax(scored))
    index = np.unravel_index(flat_index, actual.shape) if actual.shape else ()
    got, want = actual[index], expected[index]
    where_index = (
        f" at index {tuple(int(i) for i in index)}" if actual.shape else ""
    )
    raise CheckFailure(
        "values",
        f"{where}wrong values: {count} of {actual.size} entries differ; "
        f"largest "
        f"difference {float(np.real(difference[index])):.3g}{where_index} "
        f"(got {got!r}, expected {want!r}; rtol={rtol:g}, atol={atol:g})",
    )


def assert_number(
    actual, expected, *, rtol=1e-6, atol=1e-8, name="", integer=False
):
    """Asserts that `actual` is a real number (Python or NumPy scalar, or a 0-d
    array) close to `expected` (`None`: any value); with `integer=True` it must
    be an integer."""
    where = _where(name)
    if isinstance(actual, np.ndarray) and actual.shape == ():
        actual = actual[()]
    allowed = (numbers.Integral,) if integer else (numbers.Real,)
    if (
        isinstance(actual, bool)
        or isinstance(actual, np.bool_)
        or not isinstance(actual, allowed)
    ):
        kind = "an integer" if integer else "a number"
        raise CheckFailure(
            "type",
            f"{where}wrong type: expected {kind}, got {describe_type(actual)}",
        )
    if expected is not None:
        _assert_values(
            np.asarray(actual, dtype=np.float64),
            np.asarray(expected, dtype=np.float64),
            rtol,
            atol,
            where,
        )


def assert_type(actual, expected_type, name=""):
    """Asserts `isinstance(actual, expected_type)` with a clear message."""
    if not isinstance(actual, expected_type):
        names = (
            expected_type
            if isinstance(expected_type, tuple)
            else (expected_type,)
        )
        wanted = " or ".join(t.__name__ for t in names)
        raise CheckFailure(
            "type",
            f"{_where(name)}wrong type: expected {wanted}, "
            f"got {describe_type(actual)}",
        )


def assert_true(condition, reason, message):
    """Fails with `message` (and `reason`) unless `condition` holds."""
    if not condition:
        raise CheckFailure(reason, message)
