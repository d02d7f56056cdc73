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


def test_503_too_many_hellos_from_one_node(fresh_hub):
    """§15: a burst of `hello_burst` Hellos (10 by default), then 2 a second; the rest 503."""
    connection = fresh_hub.connect("rate")
    identity = fresh_hub.identities["rate"]
    for _ in range(16):
        connection.send(ssp.hello(identity, "field", "d-rate"))
    replies = []
    try:
        while len(replies) < 16:
            replies.append(connection.receive(timeout=5))
    except TimeoutError:
        pass
    connection.close()
    bodies = [r.WhichOneof("body") for r in replies]
    codes = [r.failure.code for r in replies if r.WhichOneof("body") == "failure"]
    assert "welcome" in bodies, f"the first Hellos of a burst were not welcomed: {bodies}"
    assert 503 in codes, f"16 Hellos at once drew no 503: {bodies} {codes}"
    assert any("too many sessions" in r.failure.reason for r in replies if r.WhichOneof("body") == "failure")
