"""Encryption at rest and compression from Python: raftwal.open(key=,
compression=, compress_min=), verify/repair(key=), rekey(), features() and
EncryptionKeyError.

Each test that needs an engine feature asks raftwal.features() and asserts
the behaviour when the build has it, and the documented refusal
(InvalidArgument naming the feature) when it does not: both builds test
something, and the feature's tests run as soon as the engine has it.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

import raftwal
import raftwal.aio
from raftwal import _raftwal as low

FEATURES = raftwal.features()
HAS_ENCRYPTION = "encryption" in FEATURES

KEY = bytes(range(1, 33))
OTHER_KEY = bytes(range(101, 133))
# Compressible entries: long runs of one text.
PAYLOADS = [(b"raftwal compresses this entry %d " % i) * 40 for i in range(20)]


def append_some(log, payloads=PAYLOADS):
    first = log.last_index + 1
    log.append([raftwal.Entry(first + i, 1, data) for i, data in enumerate(payloads)],
               raftwal.HardState(term=1, vote=1, commit=0))


def assert_refused_for_lack_of(excinfo, feature_words):
    """The documented refusal of a build without a feature: InvalidArgument
    (a ValueError) whose message names the feature."""
    error = excinfo.value
    assert isinstance(error, raftwal.InvalidArgument)
    assert isinstance(error, ValueError)
    assert error.code == raftwal.EINVAL
    assert any(word.lower() in str(error).lower() for word in feature_words), str(error)


def assert_no_key_material(text):
    for key in (KEY, OTHER_KEY):
        assert key.hex() not in text
        assert key.hex().upper() not in text
        assert repr(key)[2:-1] not in text


# ---- features and the error class ------------------------------------------


def test_features_decode_the_library_bits():
    bits = low.raftwal_features()
    assert isinstance(FEATURES, frozenset)
    assert FEATURES <= {"encryption", "lz4", "zstd"}
    assert ("encryption" in FEATURES) == bool(bits & low.RAFTWAL_FEATURE_ENCRYPTION)
    assert ("lz4" in FEATURES) == bool(bits & low.RAFTWAL_FEATURE_LZ4)
    assert ("zstd" in FEATURES) == bool(bits & low.RAFTWAL_FEATURE_ZSTD)
    assert raftwal.KEY_SIZE == low.RAFTWAL_KEY_SIZE == 32


def test_ekey_has_its_own_error_class():
    assert raftwal.EKEY == low.RAFTWAL_EKEY == -17
    error = raftwal._errors.error_from_code(raftwal.EKEY, "the log is encrypted: no key given")
    assert type(error) is raftwal.EncryptionKeyError
    assert isinstance(error, raftwal.Error)
    assert (error.code, error.name) == (-17, "EKEY")
    assert str(error) == "the log is encrypted: no key given"
    # Not a ValueError: a wrong key is not a malformed argument.
    assert not isinstance(error, ValueError)
    assert raftwal.strerror(raftwal.EKEY) != raftwal.strerror(-999)


# ---- argument checks (before anything is opened) ---------------------------


@pytest.mark.parametrize("size", [0, 1, 16, 31, 33, 64])
def test_a_key_of_another_size_is_a_value_error(log_dir, size):
    with pytest.raises(ValueError, match=f"32 bytes, not {size}") as excinfo:
        raftwal.open(log_dir, key=b"k" * size)
    assert not isinstance(excinfo.value, raftwal.Error)  # checked by the package
    assert not log_dir.exists()  # before anything was created
    with pytest.raises(ValueError, match="32 bytes"):
        raftwal.verify(log_dir, key=bytearray(size))
    with pytest.raises(ValueError, match="old_key must be 32 bytes"):
        raftwal.rekey(log_dir, b"k" * size, KEY)
    with pytest.raises(ValueError, match="new_key must be 32 bytes"):
        raftwal.rekey(log_dir, KEY, b"k" * size)


@pytest.mark.parametrize("bad", ["k" * 32, 12345, object(), [1] * 32])
def test_a_key_that_is_not_bytes_like_is_a_type_error(log_dir, bad):
    with pytest.raises(TypeError, match="key"):
        raftwal.open(log_dir, key=bad)
    with pytest.raises(TypeError):
        raftwal.rekey(log_dir, bad, KEY)
    assert not log_dir.exists()


def test_a_non_contiguous_key_is_refused(log_dir):
    strided = memoryview(bytes(64))[::2]  # 32 bytes, not contiguous
    with pytest.raises(ValueError, match="contiguous"):
        raftwal.open(log_dir, key=strided)


@pytest.mark.parametrize("bad, exc", [("gzip", ValueError), ("LZ4", ValueError),
                                      (1, TypeError), (b"lz4", TypeError)])
def test_an_unknown_compression_is_refused(log_dir, bad, exc):
    with pytest.raises(exc, match="compression"):
        raftwal.open(log_dir, compression=bad)
    assert not log_dir.exists()


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**32, ValueError),
                                      (True, TypeError), (1.5, TypeError)])
def test_compress_min_is_checked(log_dir, bad, exc):
    with pytest.raises(exc, match="compress_min"):
        raftwal.open(log_dir, compress_min=bad)


def test_the_low_level_options_check_the_compression_code(log_dir):
    options = (low.RAFTWAL_OPEN_CREATE, 0, None, 0, 99, None, 0)
    with pytest.raises(raftwal.InvalidArgument, match="compression"):
        low.raftwal_log_open(str(log_dir), options)
    with pytest.raises(TypeError, match="options must be"):
        low.raftwal_log_open(str(log_dir), (0, 0, None, 0, 0, None, 0, 0))


def test_plain_defaults_still_open(log_dir):
    with raftwal.open(log_dir, compression=None, key=None, compress_min=None) as log:
        append_some(log)
    with raftwal.open(log_dir, compression="none") as log:
        assert log[1].data == PAYLOADS[0]


# ---- stats and check fields ------------------------------------------------


def test_stats_and_check_report_the_new_fields(log_dir):
    with raftwal.open(log_dir) as log:
        append_some(log)
        stats = log.stats()
    for field in ("encrypted", "compressed_entries", "stored_entry_bytes"):
        assert field in stats
    assert stats["encrypted"] == 0
    assert stats["compressed_entries"] == 0
    report = raftwal.verify(log_dir)
    for field in ("encrypted", "compressed_entries", "entry_bytes", "stored_entry_bytes"):
        assert field in report
    assert report["encrypted"] == 0
    assert report["compressed_entries"] == 0


# ---- encryption --------------------------------------------------------------


@pytest.mark.parametrize("key_type", [bytes, bytearray, memoryview])
def test_an_encrypted_log_needs_its_key(log_dir, key_type):
    key = key_type(bytearray(KEY))
    if not HAS_ENCRYPTION:
        with pytest.raises(raftwal.InvalidArgument) as excinfo:
            raftwal.open(log_dir, key=key)
        assert_refused_for_lack_of(excinfo, ["encryption"])
        assert_no_key_material(str(excinfo.value) + repr(excinfo.value))
        return
    with raftwal.open(log_dir, key=key) as log:
        append_some(log)
        assert log.stats()["encrypted"] == 1
        assert_no_key_material(repr(log))
    with raftwal.open(log_dir, key=key) as log:
        assert [e.data for e in log.entries()] == PAYLOADS
    with raftwal.open(log_dir, key=key, readonly=True) as log:
        assert log[3].data == PAYLOADS[2]
    for wrong in (None, OTHER_KEY):
        with pytest.raises(raftwal.EncryptionKeyError) as excinfo:
            raftwal.open(log_dir, key=wrong)
        assert excinfo.value.code == raftwal.EKEY
        assert_no_key_material(str(excinfo.value) + repr(excinfo.value))
    # The entries are not stored in clear.
    stored = b"".join(p.read_bytes() for p in log_dir.iterdir() if p.is_file())
    assert PAYLOADS[0][:40] not in stored
    assert KEY not in stored


def test_a_key_for_a_plaintext_log_is_refused(log_dir):
    with raftwal.open(log_dir) as log:
        append_some(log)
    if not HAS_ENCRYPTION:
        with pytest.raises(raftwal.InvalidArgument) as excinfo:
            raftwal.open(log_dir, key=KEY)
        assert_refused_for_lack_of(excinfo, ["encryption"])
        return
    with pytest.raises(raftwal.EncryptionKeyError):
        raftwal.open(log_dir, key=KEY)
    with pytest.raises(raftwal.EncryptionKeyError):
        raftwal.verify(log_dir, key=KEY)


def test_verify_and_repair_take_the_key(log_dir):
    if not HAS_ENCRYPTION:
        with raftwal.open(log_dir) as log:
            append_some(log)
        for check in (raftwal.verify, raftwal.repair):
            with pytest.raises(raftwal.InvalidArgument) as excinfo:
                check(log_dir, key=KEY)
            assert_refused_for_lack_of(excinfo, ["encryption"])
        return
    with raftwal.open(log_dir, key=KEY) as log:
        append_some(log)
    report = raftwal.verify(log_dir, key=KEY)
    assert report["encrypted"] == 1
    assert (report["first_index"], report["last_index"]) == (1, len(PAYLOADS))
    assert report["entry_bytes"] == sum(map(len, PAYLOADS))
    assert report["stored_entry_bytes"] > 0
    assert raftwal.repair(log_dir, key=bytearray(KEY))["cut_bytes"] == 0
    for check in (raftwal.verify, raftwal.repair):
        for wrong in (None, OTHER_KEY):
            with pytest.raises(raftwal.EncryptionKeyError) as excinfo:
                check(log_dir, key=wrong)
            assert_no_key_material(str(excinfo.value))


def test_rekey(log_dir):
    if not HAS_ENCRYPTION:
        with raftwal.open(log_dir) as log:
            append_some(log)
        with pytest.raises(raftwal.InvalidArgument) as excinfo:
            raftwal.rekey(log_dir, KEY, OTHER_KEY)
        assert_refused_for_lack_of(excinfo, ["encryption"])
        return
    with raftwal.open(log_dir, key=KEY) as log:
        append_some(log)
        with pytest.raises(raftwal.LockedError):
            raftwal.rekey(log_dir, KEY, OTHER_KEY)
    with pytest.raises(raftwal.EncryptionKeyError) as excinfo:
        raftwal.rekey(log_dir, OTHER_KEY, KEY)  # not its key
    assert_no_key_material(str(excinfo.value))
    assert raftwal.rekey(log_dir, bytearray(KEY), memoryview(OTHER_KEY)) is None
    with pytest.raises(raftwal.EncryptionKeyError):
        raftwal.open(log_dir, key=KEY)
    with raftwal.open(log_dir, key=OTHER_KEY) as log:
        assert [e.data for e in log.entries()] == PAYLOADS
    plain = log_dir.parent / "plain"
    with raftwal.open(plain) as log:
        append_some(log)
    with pytest.raises(raftwal.EncryptionKeyError):
        raftwal.rekey(plain, KEY, OTHER_KEY)


def test_the_key_is_not_kept_after_the_open(log_dir):
    key = bytes(bytearray(KEY))  # an object of its own, counted below
    before = sys.getrefcount(key)
    try:
        log = raftwal.open(log_dir, key=key)
    except raftwal.InvalidArgument as error:
        assert not HAS_ENCRYPTION
        assert_no_key_material(str(error) + repr(error))
        del error
    else:
        assert sys.getrefcount(key) == before
        assert all(value is not key for value in vars(log).values())
        log.close()
    assert sys.getrefcount(key) == before


# ---- compression -----------------------------------------------------------


@pytest.mark.parametrize("name, words", [("lz4", ["lz4"]), ("zstd", ["zstd"])])
def test_compression(log_dir, name, words):
    if name not in FEATURES:
        with pytest.raises(raftwal.InvalidArgument) as excinfo:
            raftwal.open(log_dir, compression=name)
        assert_refused_for_lack_of(excinfo, words)
        return
    with raftwal.open(log_dir, compression=name, compress_min=16) as log:
        append_some(log)
        append_some(log, [b"tiny"])  # below compress_min: stored as it is
        stats = log.stats()
    assert stats["compressed_entries"] == len(PAYLOADS)
    assert stats["stored_entry_bytes"] < stats["appended_bytes"]
    with raftwal.open(log_dir) as log:  # readers need no option
        assert [e.data for e in log.entries()] == PAYLOADS + [b"tiny"]
        append_some(log, [b"plain after"])  # a log may mix both
    report = raftwal.verify(log_dir)
    assert report["compressed_entries"] == len(PAYLOADS)
    assert report["entry_bytes"] == sum(map(len, PAYLOADS)) + len(b"tiny") + len(b"plain after")
    assert report["entry_bytes"] / report["stored_entry_bytes"] > 2


# ---- asyncio -----------------------------------------------------------------


def test_aio_open_checks_and_forwards_the_options(log_dir):
    with pytest.raises(ValueError, match="32 bytes"):
        raftwal.aio.open(log_dir, key=b"short")
    with pytest.raises(ValueError, match="compression"):
        raftwal.aio.open(log_dir, compression="gzip")

    async def main():
        opening = raftwal.aio.open(log_dir, key=KEY)
        if not HAS_ENCRYPTION:
            with pytest.raises(raftwal.InvalidArgument) as excinfo:
                await opening
            assert_refused_for_lack_of(excinfo, ["encryption"])
            return
        log = await opening
        try:
            await log.append([raftwal.Entry(1, 1, b"secret")])
            assert all(value is not KEY for value in opening._options.values())
        finally:
            await log.close()
        with pytest.raises(raftwal.EncryptionKeyError):
            await raftwal.aio.open(log_dir)

    asyncio.run(main())
