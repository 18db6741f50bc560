"""Date-format translation: written-out dates to ISO 8601, per character.

A small sequence-to-sequence task that needs no download: "25 March 2024",
"Mar 25, 2024" or "25/03/2024" all translate to "2024-03-25".
"""

import dataclasses
import datetime

import numpy as np

from mlkeras.datasets.toy import _check_count

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)

_FORMATS = (
    "%d %B %Y",  # 25 March 2024
    "%B %d, %Y",  # March 25, 2024
    "%d %b %Y",  # 25 Mar 2024
    "%b %d %Y",  # Mar 25 2024
    "%A, %d %B %Y",  # Monday, 25 March 2024
    "%a %d %b %Y",  # Mon 25 Mar 2024
    "%d/%m/%Y",  # 25/03/2024
    "%d.%m.%Y",  # 25.03.2024
    "%Y %b %d",  # 2024 Mar 25
    "%d %B, %Y",  # 25 March, 2024
)
SOURCE_FORMATS = _FORMATS
TARGET_FORMAT = "%Y-%m-%d"
# The longest source, e.g. "wednesday, 27 september 2023", has 28 characters.
SOURCE_LENGTH = 28


class CharVocabulary:
    """Maps characters to integer ids and back, with four special tokens.

    Ids 0..3 are `<pad>`, `<bos>`, `<eos>` and `<unk>`; characters follow in
    sorted order.

    Args:
        characters: the characters to include.

    Example:
    >>> vocab = CharVocabulary("0123456789-")
    >>> ids = vocab.encode(["2024-03-25"], length=12, add_eos=True)
    >>> vocab.decode(ids[0])
    '2024-03-25'
    """

    def __init__(self, characters):
        self.tokens = list(SPECIAL_TOKENS) + sorted(set(characters))
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    pad_id = 0
    bos_id = 1
    eos_id = 2
    unk_id = 3

    def __len__(self):
        return len(self.tokens)

    def encode(self, texts, length, add_bos=False, add_eos=False):
        """Encodes strings into an int32 array of shape (len(texts), length).

        Sequences are right-padded with `pad_id`. A text longer than `length`
        (with its BOS/EOS) raises, rather than being silently cut.
        """
        out = np.full((len(texts), length), self.pad_id, dtype="int32")
        for row, text in enumerate(texts):
            ids = [self._ids.get(c, self.unk_id) for c in text]
            if add_bos:
                ids.insert(0, self.bos_id)
            if add_eos:
                ids.append(self.eos_id)
            if len(ids) > length:
                raise ValueError(
                    f"Text {text!r} needs {len(ids)} tokens, more than "
                    f"length={length}."
                )
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids):
        """Decodes one sequence of ids, stopping at the first EOS."""
        chars = []
        for i in np.asarray(ids).tolist():
            if i == self.eos_id:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            chars.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return "".join(chars)


def make_date_pairs(n_samples=1000, seed=0, start_year=1950, end_year=2049):
    """Random dates written in varied human formats, with their ISO form.

    Args:
        n_samples: number of pairs.
        seed: random seed.
        start_year: first year drawn.
        end_year: last year drawn.

    Returns:
        `(sources, targets)`: two lists of strings; `targets[i]` is the ISO
        date ("YYYY-MM-DD") that `sources[i]` names.
    """
    _check_count("n_samples", n_samples, 1)
    if start_year > end_year:
        raise ValueError(
            f"`start_year` must not exceed `end_year`. Received: "
            f"start_year={start_year}, end_year={end_year}"
        )
    rng = np.random.default_rng(seed)
    first = datetime.date(start_year, 1, 1).toordinal()
    last = datetime.date(end_year, 12, 31).toordinal()
    days = rng.integers(first, last + 1, size=n_samples)
    formats = rng.integers(0, len(_FORMATS), size=n_samples)
    sources, targets = [], []
    for day, fmt in zip(days, formats):
        date = datetime.date.fromordinal(int(day))
        text = date.strftime(_FORMATS[fmt])
        if rng.random() < 0.3:
            text = text.lower()
        sources.append(text)
        targets.append(date.strftime(TARGET_FORMAT))
    return sources, targets


@dataclasses.dataclass
class DateTranslation:
    """Encoded date-translation pairs, ready for an encoder-decoder.

    Attributes:
        sources: the human-written dates.
        targets: their ISO forms.
        source_vocab: `CharVocabulary` of the sources.
        target_vocab: `CharVocabulary` of the targets.
        encoder_input: int32 (n, SOURCE_LENGTH), right-padded.
        decoder_input: int32 (n, 11), `<bos>` then the ten target characters
            (teacher forcing input).
        decoder_target: int32 (n, 11), the ten target characters then `<eos>`.
    """

    sources: list
    targets: list
    source_vocab: CharVocabulary
    target_vocab: CharVocabulary
    encoder_input: np.ndarray
    decoder_input: np.ndarray
    decoder_target: np.ndarray


def load_date_translation(n_samples=5000, seed=0, reverse_source=False):
    """Date pairs encoded as integer arrays for a character seq2seq model.

    Args:
        n_samples: number of pairs.
        seed: random seed.
        reverse_source: reverse each source string before encoding (Sutskever
            et al. 2014's trick for models without attention).

    Returns:
        A `DateTranslation`.
    """
    sources, targets = make_date_pairs(n_samples, seed)
    names = "".join(
        datetime.date(2000, m, 1).strftime("%B%b") for m in range(1, 13)
    ) + "".join(
        datetime.date(2000, 1, d).strftime("%A%a") for d in range(3, 10)
    )
    source_vocab = CharVocabulary(names + names.lower() + "0123456789/., ")
    target_vocab = CharVocabulary("0123456789-")
    texts = [s[::-1] for s in sources] if reverse_source else sources
    source_length = SOURCE_LENGTH
    target_length = len(targets[0]) + 1
    return DateTranslation(
        sources=sources,
        targets=targets,
        source_vocab=source_vocab,
        target_vocab=target_vocab,
        encoder_input=source_vocab.encode(texts, source_length),
        decoder_input=target_vocab.encode(targets, target_length, add_bos=True),
        decoder_target=target_vocab.encode(
            targets, target_length, add_eos=True
        ),
    )
