"""Sessions (§7, §9): handshake, push, pull, and resuming after a cut, against a real hub."""

import json
import time

import ssp
import sitesync_pb2 as pb
from conftest import run_cli, REAL_NODE


def test_handshake_welcome_names_both_sides(hub):
    identity = hub.identities["hs-field"]
    # The Hello claims a role and department the allow-list does not give this key (§16.2).
    session = hub.session("hs-field", claim=("office", "somewhere-else"))
    w = session.welcome
    assert (w.protocol_version, w.schema_version, w.schema_hash) == \
        (ssp.PROTOCOL_VERSION, ssp.SCHEMA_VERSION, ssp.SCHEMA_HASH)
    assert w.peer.role == "hub" and w.peer.node == "hub-1"
    assert w.credential.replica == w.peer.replica == ssp.replica_of(w.credential.signing_key, w.credential.salt), \
        "the Welcome's credential does not prove the hub's replica id"
    assert 256 <= w.limits.batch_changes <= 10000 and w.limits.batch_bytes > 0 and w.limits.window >= 1
    assert (w.client.node, w.client.role, w.client.department) == ("hs-field", "field", "d-handshake"), \
        "Welcome.client must be the allow-list's entry for the key, not the Hello's claim"
    assert abs(w.wall_clock_ms - time.time() * 1000) < 60_000
    entries = {e.node: e for e in w.directory.entries}
    assert entries["hs-field"].key == identity.public_key and entries["hs-field"].active, \
        "the directory (sent because the Hello's digest was empty) lacks the client's own entry"
    assert "hub-1" in entries and entries["hub-1"].key == hub.key
    session.bye()
    session.connection.close()


def test_directory_is_not_sent_again_when_the_digest_matches(hub):
    first = hub.session("hs-field")
    directory = first.welcome.directory
    first.bye()
    first.connection.close()
    assert len(directory.entries) > 0
    connection = hub.connect("hs-field")
    connection.send(ssp.hello(hub.identities["hs-field"], "field", "d-handshake",
                              directory_digest=ssp.directory_digest(directory)))
    reply = connection.receive()
    assert reply.WhichOneof("body") == "welcome", ssp.describe(reply)
    assert len(reply.welcome.directory.entries) == 0, \
        "a Hello carrying the digest of the hub's allow-list (§16.3) was sent the directory again"
    connection.close()


def test_push_is_applied_acknowledged_and_repeatable(hub):
    identity = hub.identities["push-field"]
    origin = ssp.Origin(identity)
    changes = [origin.write(ssp.issue("d-push", f"push {i}")) for i in range(3)]
    session = hub.session("push-field", knowledge={identity.replica: 3})
    assert ssp.as_dict(session.welcome.knowledge).get(identity.replica, 0) == 0
    ack = session.push(origin, changes)
    assert (ack.applied, ack.known, list(ack.refusals)) == (3, 0, [])
    assert ssp.as_dict(ack.knowledge)[identity.replica] == 3
    session.bye()
    session.connection.close()

    # Delivery may repeat freely (§9.1): the same batch in a new session is known, not applied.
    again = hub.session("push-field", knowledge={identity.replica: 3})
    assert ssp.as_dict(again.welcome.knowledge)[identity.replica] == 3, "the Welcome forgot an acknowledged push"
    ack = again.push(origin, changes)
    assert (ack.applied, ack.known) == (0, 3)
    again.bye()
    again.connection.close()


def test_empty_pull_ends_with_an_empty_last_batch(hub):
    session = hub.session("push-field")
    knowledge = ssp.as_dict(session.welcome.knowledge)
    envelopes, holes, batches, _ = session.pull(knowledge)
    assert (envelopes, holes) == ([], [])
    assert len(batches) == 1 and batches[0].last and batches[0].count == 0
    session.bye()
    session.connection.close()


def _real_node(hub):
    return str(hub.real_node)


def _sync_real_node(hub, timeout=10):
    """`sitesync sync` at the real node; the hub takes `keys allow` within a second, so retry."""
    deadline = time.monotonic() + timeout
    while True:
        result = run_cli("sync", "--data-dir", _real_node(hub), check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, f"sitesync sync failed:\n{result.stdout}{result.stderr}"
            return result.stdout
        time.sleep(0.5)


def test_changes_travel_between_this_client_and_a_real_node(hub):
    """Push: a project this client writes reaches a real node. Pull: what the real node writes
    on top of it reaches this client, chained and sealed (§16.4) and decodable (§8)."""
    office = ssp.Origin(hub.identities["interop-office"])
    project = ssp.pb.Change(hlc=ssp.now_hlc(), collection=2, record_id="p-interop", department="d-interop",
                            writes=[ssp.text_write(1, "P-INTEROP"), ssp.text_write(2, "Written in Python"),
                                    ssp.pb.FieldWrite(field=3, ref="d-interop")])
    push = hub.session("interop-office")
    ack = push.push(office, [office.write(project)])
    assert (ack.applied, list(ack.refusals)) == (1, [])
    push.bye()
    push.connection.close()

    _sync_real_node(hub)
    shown = run_cli("record", "get", "--data-dir", _real_node(hub), "project", "p-interop").stdout
    assert "Written in Python" in shown, f"the real node does not show the pushed project:\n{shown}"

    run_cli("record", "put", "--data-dir", _real_node(hub), "issue", "i-interop", "project=p-interop",
            "title=Written by SiteSync", "priority=high", "opened_on=2026-11-02")
    _sync_real_node(hub)

    reader = hub.session("interop-reader")
    envelopes, holes, batches, _ = reader.pull({})
    reader.bye()
    reader.connection.close()
    by_record = {(e.change.collection, ssp.record_key(e.change)): e for e in envelopes}
    assert (2, "p-interop") in by_record, "the pull lacks the project this client pushed"
    issue = by_record.get((8, "i-interop"))
    assert issue is not None, f"the pull lacks the real node's issue: {sorted(by_record)}"
    titles = [w.text for w in issue.change.writes if w.field == 2]
    assert titles == ["Written by SiteSync"]
    assert any(c.node == REAL_NODE[0] for b in batches for c in b.credentials)


def test_push_resumes_after_a_cut(hub):
    """§9.2: a session cut after an unacknowledged batch; the next one sends only what the
    listener lacks, and the listener ends up holding every change once."""
    identity = hub.identities["resume-writer"]
    origin = ssp.Origin(identity)
    changes = [origin.write(ssp.issue("d-resume", f"resume {i}")) for i in range(30)]
    first = hub.session("resume-writer", knowledge={identity.replica: 30})
    assert first.push(origin, changes[:10], last=False).applied == 10
    first.push_sequence += 1
    first.connection.send(ssp.push_batch(first.id, first.push_sequence, origin, changes[10:20], last=False))
    first.connection.close()  # the cut: batch 2 in flight, never acknowledged here

    second = hub.session("resume-writer", knowledge={identity.replica: 30})
    held = ssp.as_dict(second.welcome.knowledge).get(identity.replica, 0)
    assert held in (10, 20), f"after the cut the hub holds {held} of this client's changes, not 10 or 20"
    ack = second.push(origin, changes[held:])
    assert ack.applied + ack.known == 30 - held and list(ack.refusals) == []
    assert ssp.as_dict(ack.knowledge)[identity.replica] == 30
    second.bye()
    second.connection.close()


def test_pull_resumes_after_a_cut_and_continues_the_chain(hub):
    """A reader cut after its first pull batch starts a new session from what it holds: the
    hub sends exactly the rest, starting its chain at the link the reader holds (§16.4)."""
    hub.identities["resume-writer"].new_epoch()  # a new replica of the same key (§16.1)
    writer = ssp.Origin(hub.identities["resume-writer"])
    changes = [writer.write(ssp.issue("d-resume", f"pull {i}")) for i in range(300)]
    push = hub.session("resume-writer")
    already = ssp.as_dict(push.welcome.knowledge).get(writer.identity.replica, 0)
    assert already == 0  # a new Origin: a fresh replica
    for i in range(0, 300, 100):  # three transactions, each sealed at its end
        assert push.push(writer, changes[i:i + 100], last=(i == 200)).applied == 100
    push.bye()
    push.connection.close()

    small = pb.Limits(batch_changes=256, batch_bytes=512 * 1024, window=1)
    reader_id = hub.identities["resume-reader"]
    connection = hub.connect("resume-reader")
    first = _session_with_limits(connection, reader_id, small)
    got, _, batches, held = first.pull({}, ack=False, stop_after=1)
    assert not batches[0].last, "expected the hub to need more than one batch of at most 256 changes"
    connection.close()  # the cut: batch 1 received, never acknowledged

    mine = {}
    for e in got:
        mine[e.origin] = max(mine.get(e.origin, 0), e.counter)
    connection = hub.connect("resume-reader")
    second = _session_with_limits(connection, reader_id, small)
    rest, _, _, _ = second.pull(mine, held=held)
    second.bye()
    connection.close()
    counters = [e.counter for e in got + rest if e.origin == writer.identity.replica]
    assert counters == list(range(1, 301)), "the resumed pull did not continue exactly where the first stopped"


def _session_with_limits(connection, identity, limits):
    session = ssp.Session.__new__(ssp.Session)
    session.connection, session.identity, session.id, session.push_sequence = connection, identity, ssp.new_session_id(), 0
    connection.send(ssp.hello(identity, "field", "d-resume", session=session.id, limits=limits))
    reply = connection.receive()
    assert reply.WhichOneof("body") == "welcome", ssp.describe(reply)
    session.welcome = reply.welcome
    return session


def test_pull_batches_stay_within_the_receivers_batch_changes(hub):
    """§7.4: a batch MUST NOT exceed the receiver's `batch_changes`. The origin sealed its
    600-change transaction every 256 changes (§16.4), so the hub can cut there."""
    writer = ssp.Origin(hub.identities["limit-writer"])
    changes = [writer.write(ssp.issue("d-limit", f"limit {i}")) for i in range(600)]
    push = hub.session("limit-writer")
    assert push.push(writer, changes, seal_every=256).applied == 600
    push.bye()
    push.connection.close()

    reader = hub.identities["limit-reader"]
    connection = hub.connect("limit-reader")
    session = _session_with_limits(connection, reader, pb.Limits(batch_changes=256, batch_bytes=4 << 20, window=4))
    got, _, batches, _ = session.pull({})
    session.bye()
    connection.close()
    assert len(got) == 600
    sizes = [b.count for b in batches]
    assert max(sizes) <= 256, f"pull batches of {sizes} changes for a receiver accepting 256"
