"""Each error code of §12 that a client can provoke, one check each, against a real hub."""

import time

import pytest

import ssp
import sitesync_pb2 as pb


def reply_to(hub, name, parts_or_message):
    connection = hub.connect(name)
    if isinstance(parts_or_message, list):
        connection.send_raw(parts_or_message)
    else:
        connection.send(parts_or_message)
    reply = connection.receive()
    connection.close()
    return reply


def failure(reply, code):
    assert reply.WhichOneof("body") == "failure", f"expected Failure {code}, got {ssp.describe(reply)}"
    assert reply.failure.code == code, ssp.describe(reply)
    assert reply.failure.reason, "a Failure without a reason"
    return reply.failure


def hello(hub, name="errors", **overrides):
    return ssp.hello(hub.identities[name], "field", "d-errors", **overrides)


@pytest.mark.parametrize("shape", ["wrong-signature", "one-frame", "three-frames", "undecodable"])
def test_400_malformed_frames_and_the_listener_serves_on(hub, shape):
    body = hello(hub).SerializeToString()
    parts = {"wrong-signature": [b"SSP2", body], "one-frame": [ssp.SIGNATURE],
             "three-frames": [ssp.SIGNATURE, body, b""], "undecodable": [ssp.SIGNATURE, b"\x0a\xff\xff"]}[shape]
    failure(reply_to(hub, "errors", parts), 400)
    # §6: the listener keeps serving its other sessions.
    session = hub.session("errors")
    assert session.welcome.session == session.id
    session.connection.close()


def test_400_a_version_vector_out_of_order(hub):
    bad = hello(hub)
    bad.hello.knowledge.replicas.extend([9, 3])
    bad.hello.knowledge.counters.extend([1, 1])
    failure(reply_to(hub, "errors", bad), 400)


def test_403_a_credential_that_is_not_the_connections_key(hub):
    other = ssp.Identity("errors")  # a valid credential, but of a key the connection did not authenticate
    message = hello(hub)
    message.hello.credential.CopyFrom(other.credential())
    message.hello.peer.replica = other.replica
    failure(reply_to(hub, "errors", message), 403)


def test_403_a_credential_whose_replica_is_not_its_keys(hub):
    message = hello(hub)
    message.hello.credential.replica ^= 1
    message.hello.peer.replica ^= 1
    failure(reply_to(hub, "errors", message), 403)


def test_404_unknown_session(hub):
    failure(reply_to(hub, "errors", pb.SyncMessage(pull=pb.Pull(session=ssp.new_session_id()))), 404)


def test_409_a_batch_out_of_sequence(hub):
    identity = hub.identities["errors"]
    identity.new_epoch()
    origin = ssp.Origin(identity)
    session = hub.session("errors")
    reply = session.send_batch(ssp.push_batch(session.id, 2, origin, [origin.write(ssp.issue("d-errors", "early"))], True))
    session.connection.close()
    failure(reply, 409)


def test_409_a_change_before_its_dependencies(hub):
    identity = hub.identities["errors"]
    identity.new_epoch()
    origin = ssp.Origin(identity)
    stranger = ssp.Identity("nobody").replica
    change = ssp.issue("d-errors", "depends on a change never seen")
    change.context.CopyFrom(ssp.vector({stranger: 7}))
    session = hub.session("errors")
    reply = session.send_batch(ssp.push_batch(session.id, 1, origin, [origin.write(change)], True))
    session.connection.close()
    failure(reply, 409)


def test_413_a_batch_over_the_receivers_batch_changes(hub):
    identity = hub.identities["errors"]
    identity.new_epoch()
    origin = ssp.Origin(identity)
    session = hub.session("errors")
    limit = session.welcome.limits.batch_changes
    changes = [origin.write(ssp.issue("d-errors", f"one too many {i}")) for i in range(limit + 1)]
    reply = session.send_batch(ssp.push_batch(session.id, 1, origin, changes, True, seal_every=256))
    session.connection.close()
    failure(reply, 413)
    session = hub.session("errors")
    assert ssp.as_dict(session.welcome.knowledge).get(identity.replica, 0) == 0, "a batch refused 413 was applied"
    session.connection.close()


@pytest.mark.parametrize("field,value", [("protocol_version", 2), ("schema_hash", "0" * 64)])
def test_426_versions_differ_and_both_are_named(hub, field, value):
    f = failure(reply_to(hub, "errors", hello(hub, **{field: value})), 426)
    assert (f.protocol_version, f.schema_version, f.schema_hash) == \
        (ssp.PROTOCOL_VERSION, ssp.SCHEMA_VERSION, ssp.SCHEMA_HASH), "a 426 must carry the listener's own versions"


def hello_burst(h, name, n):
    """`n` Hellos at once on one connection; every reply that comes within 5 s."""
    connection = h.connect(name)
    identity = h.identities[name]
    for _ in range(n):
        connection.send(ssp.hello(identity, "field", "d-rate"))
    replies = []
    try:
        while len(replies) < n:
            replies.append(connection.receive(timeout=5))
    except TimeoutError:
        pass
    connection.close()
    welcomed = sum(1 for r in replies if r.WhichOneof("body") == "welcome")
    refused = [r.failure for r in replies if r.WhichOneof("body") == "failure"]
    return welcomed, refused


def test_503_more_hellos_than_the_nodes_burst(make_hub):
    """§15 step 1: a burst of `hello_burst` Hellos (10 by default), then 2 a second; the rest
    are answered 503 at once. (The sessions cap is raised so that only the rate can refuse.)"""
    h = make_hub({"SITESYNC_SYNC_SESSIONS_PER_NODE": "1000"})
    welcomed, refused = hello_burst(h, "rate", 16)
    assert 10 <= welcomed < 16, f"{welcomed} of 16 Hellos at once were welcomed, with a burst of 10"
    assert refused and all(f.code == 503 and "too many sessions" in f.reason for f in refused), \
        [(f.code, f.reason) for f in refused]


def test_503_more_busy_sessions_than_the_nodes_cap(make_hub):
    """§15 step 3: at most `sessions_per_node` (4) sessions of one node at once; a Hello beyond
    it while every one has store work in flight is refused 503. (The rate limit is raised.)"""
    h = make_hub({"SITESYNC_SYNC_HELLO_BURST": "10000", "SITESYNC_SYNC_HELLOS_PER_SECOND": "10000"})
    welcomed, refused = hello_burst(h, "rate", 16)
    assert welcomed >= 4, f"only {welcomed} of 16 Hellos were welcomed; the cap is 4 sessions"
    assert refused and all(f.code == 503 and "too many sessions" in f.reason for f in refused), \
        [(f.code, f.reason) for f in refused]
