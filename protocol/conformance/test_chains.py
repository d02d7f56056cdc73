"""Signed, chained changes (§16.4) and the refusals of §16.3, against a real hub."""

import hashlib
import os

import pytest

import ssp
import sitesync_pb2 as pb


def fresh_origin(hub, name):
    """A new replica (a new epoch of the same key, §16.1) so every check starts a new chain."""
    hub.identities[name].new_epoch()
    return ssp.Origin(hub.identities[name])


def refused_with_409(hub, name, message):
    session = hub.session(name)
    message.batch.session = session.id
    message.batch.sequence = 1
    reply = session.send_batch(message)
    session.connection.close()
    assert reply.WhichOneof("body") == "failure", f"a broken chain was answered with {ssp.describe(reply)}"
    assert reply.failure.code == 409, ssp.describe(reply)
    return reply.failure


def held_by_hub(hub, name, replica):
    session = hub.session(name)
    held = ssp.as_dict(session.welcome.knowledge).get(replica, 0)
    session.bye()
    session.connection.close()
    return held


def _flip_signature(origin, changes, message):
    seal = message.batch.seals[0]
    seal.signature = bytes([seal.signature[0] ^ 1]) + seal.signature[1:]


def _sealed_by_another_key(origin, changes, message):
    stranger = ssp.Identity("stranger")
    seal = message.batch.seals[0]
    seal.signature = stranger.signing.sign(ssp.seal_message(seal.origin, seal.department, seal.counter, seal.link))


def _change_altered_after_sealing(origin, changes, message):
    altered = [ssp.Envelope(e.origin, e.counter, pb.Change.FromString(e.encoded)) for e in changes]
    altered[0].change.writes[1].text = "altered on the way"
    message.batch.changes = ssp.encode_batch_changes(altered)


def _no_seal(origin, changes, message):
    del message.batch.seals[:]


def _seal_names_an_earlier_link(origin, changes, message):
    seal = message.batch.seals[0]
    seal.link = origin.log[0][1]
    seal.signature = origin.identity.signing.sign(
        ssp.seal_message(seal.origin, seal.department, seal.counter, seal.link))


@pytest.mark.parametrize("tamper", [_flip_signature, _sealed_by_another_key, _change_altered_after_sealing,
                                    _no_seal, _seal_names_an_earlier_link], ids=lambda f: f.__name__.strip("_"))
def test_a_batch_that_does_not_match_its_seal_is_refused_whole(hub, tamper):
    origin = fresh_origin(hub, "chain-field")
    changes = [origin.write(ssp.issue("d-chain", f"sealed {i}")) for i in range(3)]
    message = ssp.push_batch(0, 1, origin, changes, last=True)
    tamper(origin, changes, message)
    refused_with_409(hub, "chain-field", message)
    assert held_by_hub(hub, "chain-field", origin.identity.replica) == 0, "a refused batch was applied in part"
    # The same changes with an honest proof go through: the refusal was about the proof.
    session = hub.session("chain-field")
    assert session.push(origin, changes).applied == 3
    session.connection.close()


def test_a_chain_continued_from_a_link_the_hub_does_not_hold_is_refused(hub):
    origin = fresh_origin(hub, "chain-field")
    first = [origin.write(ssp.issue("d-chain", f"first {i}")) for i in range(3)]
    session = hub.session("chain-field")
    assert session.push(origin, first).applied == 3
    session.connection.close()
    more = [origin.write(ssp.issue("d-chain", f"more {i}")) for i in range(2)]
    proof = ssp.forged_proof(origin.identity, "d-chain", 3, os.urandom(32), more)
    refused_with_409(hub, "chain-field", ssp.batch_message(0, 1, more, *proof))
    assert held_by_hub(hub, "chain-field", origin.identity.replica) == 3


@pytest.mark.parametrize("start_counter,start_link", [(4, os.urandom(32)), (0, os.urandom(32)), (4, bytes(32))],
                         ids=["counter-4-made-up-link", "counter-0-made-up-link", "counter-4-zero-link"])
def test_a_new_chain_must_start_at_its_beginning_and_is_stored_nowhere_otherwise(hub, start_counter, start_link):
    """§16.4: a receiver holding none of a chain accepts only a segment starting at counter 0
    and 32 zero bytes; otherwise 409, and nothing it serves others changes."""
    origin = fresh_origin(hub, "unknown-start")
    origin.counter = 4  # the origin's changes 1-4 exist somewhere; the hub holds none of them
    changes = [origin.write(ssp.issue("d-unknown-start", f"orphan {i}")) for i in range(2)]
    proof = ssp.forged_proof(origin.identity, "d-unknown-start", start_counter, start_link, changes)
    refused_with_409(hub, "unknown-start", ssp.batch_message(0, 1, changes, *proof))
    assert held_by_hub(hub, "unknown-start", origin.identity.replica) == 0
    reader = hub.session("unknown-reader")
    envelopes, _, batches, _ = reader.pull({})
    reader.connection.close()
    assert not any(b.states for b in batches), "a refused segment turned the hub's pulls into state transfers"
    assert not any(e.origin == origin.identity.replica for e in envelopes)
    assert not any(s.origin == origin.identity.replica for b in batches for s in list(b.starts) + list(b.heads))


def test_a_refused_change_travels_as_a_hole_and_is_published_as_a_refusal(hub):
    origin = fresh_origin(hub, "hole-writer")
    replica = origin.identity.replica
    ok_1 = origin.write(ssp.issue("d-holes", "kept 1"))
    department_record = origin.write(pb.Change(hlc=ssp.now_hlc(), collection=1, record_id="d-holes",
                                               department="d-holes", writes=[ssp.text_write(1, "Holes")]))
    ok_2 = origin.write(ssp.issue("d-holes", "kept 2"))
    session = hub.session("hole-writer")
    ack = session.push(origin, [ok_1, department_record, ok_2])
    session.connection.close()
    assert [(r.origin, r.counter, r.code) for r in ack.refusals] == [(replica, 2, "hub-owned")]
    assert ack.applied == 2 and ssp.as_dict(ack.knowledge)[replica] == 3, \
        "the refused change is a hole: the chain and the knowledge go on past it"

    reader = hub.session("hole-reader")
    envelopes, holes, batches, _ = reader.pull({})  # checks the chain through the hole (§16.4)
    reader.connection.close()
    assert [e.counter for e in envelopes if e.origin == replica] == [1, 3]
    mine = [h for h in holes if h.origin == replica]
    assert len(mine) == 1
    hole = mine[0]
    assert (hole.counter, hole.department, hole.collection, hole.record_id) == (2, "d-holes", 1, "d-holes")
    assert hole.payload_hash == hashlib.sha256(department_record.encoded).digest()
    refusals = [e for e in envelopes if e.change.collection == 12]
    ids = [ssp.record_key(e.change).lower() for e in refusals]
    assert f"{replica:016x}:2" in ids, f"no refusal record for change 2 among {ids}"
    record = refusals[ids.index(f"{replica:016x}:2")].change
    assert record.department == "d-holes"
    assert [w.symbol for w in record.writes if w.field == 6] == ["hub-owned"]


def _plan_field(hub):
    origin = fresh_origin(hub, "errors")
    return "errors", origin, [origin.write(pb.Change(
        hlc=ssp.now_hlc(), collection=2, record_id="p-field-made", department="d-errors",
        writes=[ssp.text_write(1, "P-X"), ssp.text_write(2, "Not mine to plan"), pb.FieldWrite(field=3, ref="d-errors")]))]


def _forbidden_department(hub):
    origin = fresh_origin(hub, "errors")
    return "errors", origin, [origin.write(ssp.issue("d-elsewhere", "not my department"))]


def _read_only(hub):
    origin = fresh_origin(hub, "auditor")
    return "auditor", origin, [origin.write(ssp.issue("d-errors", "auditors write nothing"))]


def _append_only(hub):
    origin = fresh_origin(hub, "errors")
    entry = origin.write(pb.Change(hlc=ssp.now_hlc(), collection=5, record_id="q-1", department="d-errors",
                                   writes=[pb.FieldWrite(field=1, ref="a-1"), pb.FieldWrite(field=2, date=20000),
                                           pb.FieldWrite(field=3, decimal="12.5")]))
    update = origin.write(pb.Change(hlc=ssp.now_hlc(), collection=5, record_id="q-1", department="d-errors",
                                    context=ssp.vector({origin.identity.replica: entry.counter}),
                                    writes=[pb.FieldWrite(field=4, text="changed later")]))
    return "errors", origin, [entry, update]


def _invalid_value(hub):
    origin = fresh_origin(hub, "relay")
    return "relay", origin, [origin.write(pb.Change(
        hlc=ssp.now_hlc(), collection=2, record_id="p-negative", department="d-errors",
        writes=[ssp.text_write(1, "P-NEG"), ssp.text_write(2, "Negative budget"),
                pb.FieldWrite(field=3, ref="d-errors"), pb.FieldWrite(field=4, decimal="-5")]))]


def _foreign_actor(hub):
    """The relay forwards a change signed by a key that is on no allow-list."""
    stranger = ssp.Origin(ssp.Identity("stranger"))
    return "relay", stranger, [stranger.write(ssp.issue("d-errors", "from nobody known"))]


@pytest.mark.parametrize("code,build", [
    ("plan-field", _plan_field), ("forbidden-department", _forbidden_department), ("read-only", _read_only),
    ("append-only", _append_only), ("invalid-value", _invalid_value), ("foreign-actor", _foreign_actor)])
def test_a_forbidden_change_is_refused_with_its_code(hub, code, build):
    """§16.3: the batch is applied and acknowledged; the refused change named in Ack.refusals."""
    sender, origin, changes = build(hub)
    session = hub.session(sender)
    ack = session.push(origin, changes)
    session.connection.close()
    refused = [(r.origin, r.counter, r.code) for r in ack.refusals]
    assert (origin.identity.replica, changes[-1].counter, code) in refused, f"refusals: {refused}"
    assert all(r.reason for r in ack.refusals), "a refusal without a reason"
