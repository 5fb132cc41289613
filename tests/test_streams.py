"""Named streams: a str maps to a 64-bit stream id by a fixed, documented hash."""

import hashlib

import numpy as np
import pytest

import fastinit as fi
from fastinit._validate import stream_id


def _spec_stream_id(*names):
    """docs/stream.md, written out independently."""
    data = b"".join(len(n.encode()).to_bytes(8, "little") + n.encode() for n in names)
    digest = hashlib.blake2b(data, digest_size=8, person=b"fastinit.strm.v1").digest()
    return int.from_bytes(digest, "little")


# Frozen ids: changing the mapping changes every name-keyed initialization.
GOLDEN_IDS = {("weight",): 0xA58A31CD3632FAE4}


def test_golden_stream_ids():
    for names, expected in GOLDEN_IDS.items():
        assert stream_id(*names) == expected


@pytest.mark.parametrize("names", [("weight",), ("encoder.layers.0.attn.q_proj.weight",),
                                   ("ünïcødé", "名前"), ("",), ("a", "bc"), ("ab", "c")])
def test_stream_id_follows_the_documented_hash(names):
    assert stream_id(*names) == _spec_stream_id(*names)
    assert 0 <= stream_id(*names) < 2**64


def test_length_prefix_separates_concatenations():
    assert stream_id("ab", "c") != stream_id("a", "bc") != stream_id("abc")
    assert stream_id("a", "") != stream_id("a")


def test_str_stream_equals_its_id():
    name = "decoder.embed_tokens.weight"
    a = fi.normal((64, 33), seed=5, stream=name)
    b = fi.normal((64, 33), seed=5, stream=stream_id(name))
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, fi.normal((64, 33), seed=5, stream="decoder.embed_tokens.bias"))


def test_stream_id_rejects_non_str_and_nothing():
    with pytest.raises(TypeError, match="stream names must be str; got int 3"):
        stream_id("a", 3)
    with pytest.raises(ValueError, match="at least one name"):
        stream_id()
