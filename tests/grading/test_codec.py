"""Tests of mlkeras.grading.codec: round trips, and what a hostile child
cannot send."""

import json
import os
import pickle
import struct

import numpy as np
import pytest

from mlkeras.grading import codec


def _roundtrip(value):
    data = codec.encode(value)
    magic, header_size, payload_size = struct.unpack("!4sIQ", data[:16])
    assert magic == codec.MAGIC
    return codec.decode(data[16 : 16 + header_size], data[16 + header_size :])


def _frame(header, payload=b""):
    text = json.dumps(header).encode()
    return text, payload


def test_plain_values_and_arrays_round_trip():
    value = {
        "a": [1, 2.5, None, True, "text"],
        "b": (np.arange(6, dtype="int32").reshape(2, 3), np.float32(1.5)),
        "c": float("nan"),
        "d": -float("inf"),
        3: 2**70,
    }
    back = _roundtrip(value)
    assert back["a"] == [1, 2.5, None, True, "text"]
    assert isinstance(back["b"], tuple)
    np.testing.assert_array_equal(back["b"][0], value["b"][0])
    assert back["b"][0].dtype == np.int32 and type(back["b"][0]) is np.ndarray
    assert type(back["b"][1]) is np.float32 and back["b"][1] == np.float32(1.5)
    assert np.isnan(back["c"]) and back["d"] == -np.inf and back[3] == 2**70


def test_ndarray_subclass_arrives_as_a_plain_ndarray():
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    back = _roundtrip(np.zeros(3).view(Sneaky))
    assert type(back) is np.ndarray
    assert not np.array_equal(back, np.ones(3))


def test_unsendable_objects_become_opaque_markers():
    back = _roundtrip([object(), np.array([object()], dtype=object)])
    assert all(isinstance(item, codec.Opaque) for item in back)
    assert back[1].type_name == "numpy.ndarray[object]"


def test_generators_are_collected_into_yielded_lists():
    back = _roundtrip((i for i in range(3)))
    assert isinstance(back, codec.Yielded) and back == [0, 1, 2]


def test_decoder_rejects_object_dtype_from_the_child():
    header, payload = _frame(
        {
            "tree": {"$": "ndarray", "i": 0},
            "arrays": [{"dtype": "|O", "shape": [1], "offset": 0, "nbytes": 8}],
        },
        b"\0" * 8,
    )
    with pytest.raises(codec.ProtocolError, match="not allowed"):
        codec.decode(header, payload)


def test_decoder_rejects_a_shape_that_does_not_match_the_bytes():
    header, payload = _frame(
        {
            "tree": {"$": "ndarray", "i": 0},
            "arrays": [
                {"dtype": "<f8", "shape": [1000000], "offset": 0, "nbytes": 8}
            ],
        },
        b"\0" * 8,
    )
    with pytest.raises(codec.ProtocolError, match="size"):
        codec.decode(header, payload)


def test_decoder_never_unpickles_a_pickle_payload():
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch /tmp/mlkeras-codec-pwned",))

    with pytest.raises(codec.ProtocolError):
        codec.decode(pickle.dumps(Boom()), b"")
    assert not os.path.exists("/tmp/mlkeras-codec-pwned")


@pytest.mark.parametrize(
    "tree",
    [
        {"$": "pickle", "v": "x"},
        {"$": "float", "v": "1e999"},
        {"$": "ndarray", "i": 5},
        {"$": "dict", "v": [[[1], 2]]},
    ],
)
def test_decoder_rejects_unknown_tags_and_bad_references(tree):
    header, payload = _frame({"tree": tree, "arrays": []})
    with pytest.raises(codec.ProtocolError):
        codec.decode(header, payload)


def test_reader_rejects_oversized_frames_before_reading_them():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, struct.pack("!4sIQ", codec.MAGIC, 10, 2**40))
    try:
        with pytest.raises(codec.ProtocolError, match="too large"):
            codec.read_message(read_fd, deadline=None)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_reader_times_out_on_a_silent_channel():
    import time

    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(codec.ChannelTimeout):
            codec.read_message(read_fd, deadline=time.monotonic() + 0.2)
    finally:
        os.close(read_fd)
        os.close(write_fd)
