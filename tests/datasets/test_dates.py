import datetime

import numpy as np
import pytest

from mlkeras import datasets
from mlkeras.datasets import dates


def _parse(source):
    for fmt in dates.SOURCE_FORMATS:
        try:
            return datetime.datetime.strptime(source, fmt).date()
        except ValueError:
            continue
    raise AssertionError(f"no known format parses {source!r}")


def test_each_source_names_the_same_date_as_its_target():
    sources, targets = datasets.make_date_pairs(500, seed=0)
    assert len(sources) == len(targets) == 500
    for source, target in zip(sources, targets):
        # strptime matches month and day names case-insensitively.
        assert _parse(source).isoformat() == target


def test_date_pairs_use_many_formats_and_are_seeded():
    sources, _ = datasets.make_date_pairs(300, seed=1)
    assert len({len(s) for s in sources}) > 5
    assert datasets.make_date_pairs(20, seed=1) == datasets.make_date_pairs(
        20, seed=1
    )
    assert datasets.make_date_pairs(20, seed=1) != datasets.make_date_pairs(
        20, seed=2
    )


def test_encoded_arrays_decode_back_and_use_bos_eos():
    data = datasets.load_date_translation(200, seed=0)
    assert data.encoder_input.shape == (200, dates.SOURCE_LENGTH)
    assert data.decoder_input.shape == data.decoder_target.shape == (200, 11)
    for arr in (data.encoder_input, data.decoder_input, data.decoder_target):
        assert arr.dtype == np.int32
    vocab = data.target_vocab
    assert np.all(data.decoder_input[:, 0] == vocab.bos_id)
    assert np.all(data.decoder_target[:, -1] == vocab.eos_id)
    # Teacher forcing: the decoder input is the target shifted right by one.
    np.testing.assert_array_equal(
        data.decoder_input[:, 1:], data.decoder_target[:, :-1]
    )
    for i in range(20):
        assert vocab.decode(data.decoder_target[i]) == data.targets[i]
        assert (
            data.source_vocab.decode(data.encoder_input[i]) == data.sources[i]
        )
    assert not np.any(data.encoder_input == data.source_vocab.unk_id)


def test_reversed_sources_encode_the_reversed_string():
    plain = datasets.load_date_translation(10, seed=3)
    flipped = datasets.load_date_translation(10, seed=3, reverse_source=True)
    for i in range(10):
        assert (
            flipped.source_vocab.decode(flipped.encoder_input[i])
            == plain.sources[i][::-1]
        )


def test_vocabulary_rejects_texts_longer_than_the_length():
    vocab = datasets.CharVocabulary("abc")
    assert len(vocab) == 7
    with pytest.raises(ValueError, match="length=2"):
        vocab.encode(["abc"], length=2)
    assert (
        vocab.decode(vocab.encode(["cab"], 5, add_bos=True, add_eos=True)[0])
        == "cab"
    )
