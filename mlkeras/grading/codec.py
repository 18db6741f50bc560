"""The wire format between the grader and a sandboxed submission.

Values cross the process boundary as one message: a fixed frame, a UTF-8
JSON header that describes the value tree, and the raw bytes of every NumPy
array in it. Nothing is ever unpickled or evaluated: the decoder builds only
`None`, `bool`, `int`, `float`, `str`, `list`, `tuple`, `dict`, plain
`numpy.ndarray` objects of a fixed set of numeric dtypes and NumPy scalars,
plus two inert markers (`Opaque` and `Remote`) for values that cannot cross.
Every array's dtype, shape and byte count are validated before NumPy sees
its bytes, and every size is bounded, so a hostile child can at worst make
its own call fail with a `ProtocolError`.

The module depends only on the standard library and NumPy: the child
process imports it before it loads the submission.
"""

import json
import math
import os
import select
import struct
import time

import numpy as np

MAGIC = b"MLKG"
_FRAME = struct.Struct("!4sIQ")
MAX_HEADER_BYTES = 16 * 2**20
MAX_PAYLOAD_BYTES = 1024 * 2**20
MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
MAX_ITERATOR_ITEMS = 100_000
MAX_STRING = 1_000_000

# Little-endian (or byte-order free) numeric dtypes only: no objects, no
# structured or void types, no strings, no datetimes.
ALLOWED_DTYPES = frozenset(
    np.dtype(name).str
    for name in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
)


class ProtocolError(Exception):
    """A message broke the wire format, a size bound or a dtype rule."""


class ChannelClosed(ProtocolError):
    """The other end closed its pipe (it exited or crashed)."""


class ChannelTimeout(ProtocolError):
    """No complete message arrived before the deadline."""


class Opaque:
    """A value the child could not send (its type name, for messages)."""

    def __init__(self, type_name):
        self.type_name = str(type_name)

    def __repr__(self):
        return f"<{self.type_name} object that cannot leave the sandbox>"


class Remote:
    """A handle to an object that stays in the child (e.g. a Keras model).

    `facts` is plain decoded data the child reported about the object.
    """

    def __init__(self, handle, type_name, facts):
        self.handle = handle
        self.type_name = type_name
        self.facts = facts

    def __repr__(self):
        return f"<remote {self.type_name} #{self.handle}>"


class Yielded(list):
    """The items a generator or iterator produced, collected by the child."""


def type_name(value):
    """The qualified type name of `value`, for messages."""
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


# ---------------------------------------------------------------- encoding


class _Encoder:
    def __init__(self, remote_hook=None):
        self.arrays = []
        self.chunks = []
        self.offset = 0
        self.remote_hook = remote_hook
        self.count = 0

    def add_array(self, array):
        array = np.asarray(array)
        if array.dtype.str not in ALLOWED_DTYPES:
            array = array.astype(array.dtype.newbyteorder("<"))
            if array.dtype.str not in ALLOWED_DTYPES:
                return None
        data = array.tobytes(order="C")
        self.arrays.append(
            {
                "dtype": array.dtype.str,
                "shape": [int(n) for n in array.shape],
                "offset": self.offset,
                "nbytes": len(data),
            }
        )
        self.chunks.append(data)
        self.offset += len(data)
        return len(self.arrays) - 1

    def encode(self, value, depth=0):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise ProtocolError(
                "the value is nested too deeply or is too large"
            )
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            if -(2**63) <= value < 2**64:
                return value
            return {"$": "bigint", "v": str(value)}
        if type(value) is float:
            if math.isfinite(value):
                return value
            return {"$": "float", "v": repr(value)}
        if type(value) is list:
            return [self.encode(item, depth + 1) for item in value]
        if type(value) is tuple:
            return {
                "$": "tuple",
                "v": [self.encode(item, depth + 1) for item in value],
            }
        if type(value) is dict:
            items = []
            for key, item in value.items():
                if type(key) not in (str, int):
                    return {"$": "opaque", "type": "dict with non-string keys"}
                items.append([key, self.encode(item, depth + 1)])
            return {"$": "dict", "v": items}
        if isinstance(value, np.ndarray):
            index = self.add_array(value)
            if index is None:
                return {"$": "opaque", "type": f"numpy.ndarray[{value.dtype}]"}
            entry = {"$": "ndarray", "i": index}
            if type(value) is not np.ndarray:
                entry["subclass"] = type_name(value)
            return entry
        if isinstance(value, np.generic):
            index = self.add_array(np.asarray(value))
            if index is None:
                return {"$": "opaque", "type": type_name(value)}
            return {"$": "scalar", "i": index}
        if self.remote_hook is not None:
            remote = self.remote_hook(value)
            if remote is not None:
                handle, facts = remote
                return {
                    "$": "remote",
                    "id": int(handle),
                    "type": type_name(value),
                    "facts": self.encode(facts, depth + 1),
                }
        if _is_iterator(value):
            items = []
            for item in value:
                if len(items) >= MAX_ITERATOR_ITEMS:
                    raise ProtocolError(
                        f"the iterator yielded more than "
                        f"{MAX_ITERATOR_ITEMS} items"
                    )
                items.append(self.encode(item, depth + 1))
            return {"$": "iter", "v": items}
        return {"$": "opaque", "type": type_name(value)}


def _is_iterator(value):
    return hasattr(type(value), "__next__") and hasattr(type(value), "__iter__")


def encode(message, remote_hook=None):
    """Encodes a message (a value tree) into bytes.

    Args:
        message: the value to send.
        remote_hook: optional `callable(value) -> (handle, facts) | None`
            that turns objects which must stay in this process into handles.

    Returns:
        The bytes of one frame.
    """
    encoder = _Encoder(remote_hook)
    tree = encoder.encode(message)
    header = json.dumps(
        {"tree": tree, "arrays": encoder.arrays},
        allow_nan=False,
        separators=(",", ":"),
    ).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES or encoder.offset > MAX_PAYLOAD_BYTES:
        raise ProtocolError("the message exceeds the size limits")
    return b"".join(
        [
            _FRAME.pack(MAGIC, len(header), encoder.offset),
            header,
            *encoder.chunks,
        ]
    )


# ---------------------------------------------------------------- decoding


def _reject_constant(name):
    raise ProtocolError(f"non-standard JSON constant {name}")


class _Decoder:
    def __init__(self, arrays, payload):
        self.payload = payload
        self.arrays = self._check_arrays(arrays, len(payload))
        self.count = 0

    @staticmethod
    def _check_arrays(arrays, payload_size):
        if not isinstance(arrays, list) or len(arrays) > MAX_ITEMS:
            raise ProtocolError("bad array table")
        checked = []
        for entry in arrays:
            if not isinstance(entry, dict):
                raise ProtocolError("bad array entry")
            dtype, shape = entry.get("dtype"), entry.get("shape")
            offset, nbytes = entry.get("offset"), entry.get("nbytes")
            if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
                raise ProtocolError(f"array dtype {dtype!r} is not allowed")
            if (
                not isinstance(shape, list)
                or len(shape) > 32
                or not all(type(n) is int and 0 <= n < 2**48 for n in shape)
            ):
                raise ProtocolError(f"bad array shape {shape!r}")
            if not all(type(n) is int and n >= 0 for n in (offset, nbytes)):
                raise ProtocolError("bad array offset or size")
            dtype = np.dtype(dtype)
            if math.prod(shape) * dtype.itemsize != nbytes:
                raise ProtocolError(
                    "array size does not match its shape and dtype"
                )
            if offset + nbytes > payload_size:
                raise ProtocolError("array bytes run past the payload")
            checked.append((dtype, tuple(shape), offset, nbytes))
        return checked

    def array(self, index):
        if type(index) is not int or not 0 <= index < len(self.arrays):
            raise ProtocolError("bad array reference")
        dtype, shape, offset, nbytes = self.arrays[index]
        flat = np.frombuffer(
            self.payload,
            dtype=dtype,
            count=nbytes // dtype.itemsize,
            offset=offset,
        )
        # A bytearray payload (what `read_message` returns) is private: the
        # arrays share it without a copy.
        array = flat.reshape(shape)
        return array if array.flags.writeable else array.copy()

    def decode(self, tree, depth=0):
        self.count += 1
        if depth > MAX_DEPTH or self.count > MAX_ITEMS:
            raise ProtocolError(
                "the value is nested too deeply or is too large"
            )
        if tree is None or type(tree) in (bool, int, float):
            return tree
        if type(tree) is str:
            if len(tree) > MAX_STRING:
                raise ProtocolError("string too long")
            return tree
        if type(tree) is list:
            return [self.decode(item, depth + 1) for item in tree]
        if type(tree) is not dict:
            raise ProtocolError("bad value")
        tag = tree.get("$")
        if tag == "tuple":
            return tuple(
                self.decode(item, depth + 1) for item in self._list(tree)
            )
        if tag == "iter":
            return Yielded(
                self.decode(item, depth + 1) for item in self._list(tree)
            )
        if tag == "dict":
            out = {}
            for pair in self._list(tree):
                if (
                    type(pair) is not list
                    or len(pair) != 2
                    or type(pair[0]) not in (str, int)
                ):
                    raise ProtocolError("bad dict item")
                out[pair[0]] = self.decode(pair[1], depth + 1)
            return out
        if tag == "ndarray":
            return self.array(tree.get("i"))
        if tag == "scalar":
            value = self.array(tree.get("i"))
            if value.shape != ():
                raise ProtocolError("a scalar must have shape ()")
            return value[()]
        if tag == "float":
            text = tree.get("v")
            if text not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad float")
            return float(text)
        if tag == "bigint":
            text = tree.get("v")
            if type(text) is not str or len(text) > 4000:
                raise ProtocolError("bad integer")
            try:
                return int(text)
            except ValueError:
                raise ProtocolError("bad integer") from None
        if tag == "opaque":
            return Opaque(self._text(tree.get("type")))
        if tag == "remote":
            handle = tree.get("id")
            if type(handle) is not int:
                raise ProtocolError("bad remote handle")
            return Remote(
                handle,
                self._text(tree.get("type")),
                self.decode(tree.get("facts"), depth + 1),
            )
        raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")

    @staticmethod
    def _list(tree):
        items = tree.get("v")
        if type(items) is not list:
            raise ProtocolError("bad sequence")
        return items

    @staticmethod
    def _text(value):
        if type(value) is not str:
            raise ProtocolError("bad type name")
        return value[:200]


def decode(header, payload):
    """Decodes a header (bytes) and payload (bytes) into a value tree."""
    try:
        document = json.loads(
            header.decode("utf-8"), parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ProtocolError(f"unreadable header: {err}") from None
    if type(document) is not dict or set(document) != {"tree", "arrays"}:
        raise ProtocolError("bad header")
    try:
        decoder = _Decoder(document["arrays"], payload)
        return decoder.decode(document["tree"])
    except RecursionError:
        raise ProtocolError("the value is nested too deeply") from None


# ---------------------------------------------------------------- pipes


def write_message(fd, message, remote_hook=None, deadline=None):
    """Encodes `message` and writes it to file descriptor `fd`.

    With a `deadline` (a `time.monotonic()` value) it raises
    `ChannelTimeout` when the reader does not take the bytes in time.
    """
    data = memoryview(encode(message, remote_hook))
    while data:
        if deadline is not None:
            wait = deadline - time.monotonic()
            ready = wait > 0 and select.select([], [fd], [], wait)[1]
            if not ready:
                raise ChannelTimeout("the other process took no input")
        written = os.write(fd, data[: 1 << 16])
        data = data[written:]


def _read_exactly(fd, size, deadline):
    """Reads `size` bytes into one buffer allocated once, up front."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise ChannelTimeout("no answer before the deadline")
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise ChannelTimeout("no answer before the deadline")
        count = os.readv(fd, [view[filled : filled + (1 << 20)]])
        if not count:
            raise ChannelClosed("the other process closed the channel")
        filled += count
    return buffer


def read_message(
    fd,
    deadline=None,
    max_payload=MAX_PAYLOAD_BYTES,
    max_header=MAX_HEADER_BYTES,
):
    """Reads and decodes one message from file descriptor `fd`.

    The frame's sizes are checked against the bounds before any buffer is
    allocated, so a reader never holds more than `max_header +
    max_payload` bytes of one message.

    Args:
        fd: a readable file descriptor (a pipe).
        deadline: a `time.monotonic()` value, or `None` to wait forever.
        max_payload: the largest array payload accepted, in bytes.
        max_header: the largest JSON header accepted, in bytes.

    Raises:
        ChannelTimeout, ChannelClosed or ProtocolError.
    """
    magic, header_size, payload_size = _FRAME.unpack(
        _read_exactly(fd, _FRAME.size, deadline)
    )
    if magic != MAGIC:
        raise ProtocolError("bad frame marker")
    if header_size > min(max_header, MAX_HEADER_BYTES) or payload_size > (
        max_payload
    ):
        raise ProtocolError(
            f"message too large ({header_size} header bytes, "
            f"{payload_size} payload bytes; the limits are {max_header} "
            f"and {max_payload})"
        )
    header = _read_exactly(fd, header_size, deadline)
    payload = _read_exactly(fd, payload_size, deadline)
    return decode(bytes(header), payload)
