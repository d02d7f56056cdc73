"""The golden examples (protocol/examples/) read by this client: every message decodes and
re-encodes byte for byte, §8's batch encoding round-trips, and example 03's chain recomputes to
its seal, which is signed by its credential's key. This checks the suite's own codec against
the spec before it is pointed at a server."""

import pathlib
import re

import pytest

import ssp
import sitesync_pb2 as pb

PROTOCOL = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted((PROTOCOL / "examples").glob("*.txt"))


def frames_of(path):
    return [bytes.fromhex(line.split()[1]) for line in path.read_text().splitlines()
            if line.startswith("frame ")]


def message_of(name):
    return pb.SyncMessage.FromString(frames_of(PROTOCOL / "examples" / name)[1])


def test_the_examples_speak_the_schema_the_spec_states():
    hello = message_of("01-hello.txt").hello
    assert (hello.schema_version, hello.schema_hash) == (ssp.SCHEMA_VERSION, ssp.SCHEMA_HASH)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_round_trips_byte_for_byte(path):
    parts = frames_of(path)
    assert len(parts) == 2 and parts[0] == ssp.SIGNATURE
    message = pb.SyncMessage.FromString(parts[1])
    assert message.WhichOneof("body") is not None
    assert message.SerializeToString() == parts[1]
    if message.WhichOneof("body") == "batch":
        b = message.batch
        envelopes = ssp.decode_batch_changes(b.changes, b.count)
        assert len(envelopes) == b.count
        assert ssp.encode_batch_changes(envelopes) == b.changes


def test_example_03_chain_recomputes_to_its_signed_seal():
    b = message_of("03-batch-push.txt").batch
    envelopes = ssp.decode_batch_changes(b.changes, b.count)
    assert [e.counter for e in envelopes] == [41, 42, 43]
    start = b.starts[0]
    heads = ssp.check_segments(b, envelopes, {(start.origin, start.department): (start.counter, start.link)})
    assert heads[(start.origin, start.department)][0] == 43


def test_example_03_tampered_change_breaks_the_chain():
    b = message_of("03-batch-push.txt").batch
    envelopes = ssp.decode_batch_changes(b.changes, b.count)
    envelopes[1].change.writes[0].symbol = "completed"
    start = b.starts[0]
    with pytest.raises(AssertionError, match="seal does not match"):
        ssp.check_segments(b, envelopes, {(start.origin, start.department): (start.counter, start.link)})


def test_credential_derives_its_replica():
    hello = message_of("01-hello.txt").hello
    credential = hello.credential
    assert credential.replica == hello.peer.replica
    assert ssp.replica_of(credential.signing_key, credential.salt) == credential.replica


def test_own_change_survives_the_batch_encoding():
    identity = ssp.Identity("golden")
    origin = ssp.Origin(identity)
    envelopes = [origin.write(ssp.issue("roads", f"issue {i}")) for i in range(3)]
    envelopes.append(origin.write(ssp.pb.Change(hlc=ssp.now_hlc(), collection=8, record_id="i-7",
                                                department="roads", delete=True,
                                                context=ssp.vector({identity.replica: 2}))))
    decoded = ssp.decode_batch_changes(ssp.encode_batch_changes(envelopes), len(envelopes))
    assert [(e.origin, e.counter, e.encoded) for e in decoded] == \
        [(e.origin, e.counter, e.encoded) for e in envelopes]
