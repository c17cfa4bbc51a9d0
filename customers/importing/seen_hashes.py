"""Whether a line's row hash may have come earlier in a file: a Bloom filter over the file's
hashes, fixed in size whatever the file's (a transactions import looks up only the lines it
says "maybe" for)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

# The file's hashes seen so far, as a Bloom filter of 2**27 bits (16 MiB, whatever the size of
# the file) set at 4 places per hash: after 10 million lines 1 new line in 200 still looks
# seen (and is looked up in the database for nothing); after 50 million, 1 in 3.
SEEN_BITS = 1 << 27
SEEN_PLACES = 4


class SeenHashes:
    """Whether a row hash may have come earlier in the file (a Bloom filter: "no" is sure)."""

    def __init__(self):
        self.words = np.zeros(SEEN_BITS // 64, dtype=np.uint64)

    @staticmethod
    def _places(hashes: pd.Series) -> np.ndarray:
        # the hash's 32 hex digits as two 64-bit numbers a and b; places a + i * b (i < 4)
        array = pa.array(hashes, type=pa.string(), from_pandas=True)
        array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset: array.offset + len(array) + 1]
        if (np.diff(offsets) == 32).all():  # the bytes of the Arrow array as they are
            text = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
        else:  # never, for hashes from row_hashes
            text = np.frombuffer("".join(hashes.tolist()).encode("ascii"), dtype=np.uint8)
        digits = text.reshape(-1, 32)
        nibbles = _HEX_VALUES[digits]
        octets = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
        words = octets.view(">u8").astype(np.uint64)
        first, second = words[:, 0], words[:, 1] | np.uint64(1)
        steps = np.arange(SEEN_PLACES, dtype=np.uint64)
        return (first[:, None] + steps[None, :] * second[:, None]) % np.uint64(SEEN_BITS)

    def check_and_add(self, hashes: pd.Series) -> np.ndarray:
        """For each (distinct) hash, whether it may have been added before; then add them."""
        if hashes.empty:
            return np.zeros(0, dtype=bool)
        places = self._places(hashes)
        words, bits = places >> np.uint64(6), np.uint64(1) << (places & np.uint64(63))
        seen = ((self.words[words] & bits) != 0).all(axis=1)
        np.bitwise_or.at(self.words, words.ravel(), bits.ravel())
        return seen


_HEX_VALUES = np.zeros(256, dtype=np.uint8)
_HEX_VALUES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
