"""Connections (§16.2): CURVE with an allow-listed key, refusal of any other, and the cut-off
of a revoked key (Failure 403 with session 0)."""

import subprocess
import time

import zmq

import ssp
from conftest import run_cli


def no_welcome(connection, identity, seconds=2.0):
    connection.send(ssp.hello(identity, "field", "d-handshake"))
    try:
        reply = connection.receive(timeout=seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"a connection the hub should refuse was answered: {ssp.describe(reply)}")


def test_curve_with_an_allow_listed_key_is_welcomed(hub):
    connection = hub.connect("hs-field")
    session = ssp.Session(connection, hub.identities["hs-field"], "field", "d-handshake")
    assert session.welcome.client.node == "hs-field"
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED in connection.events(0.2)
    connection.close()


def test_curve_with_a_key_not_on_the_allow_list_is_refused(hub):
    stranger = ssp.Identity("stranger")
    connection = ssp.Connection(hub.endpoint, stranger, hub.server_key)
    assert no_welcome(connection, stranger)
    events = connection.events(0.5)
    connection.close()
    assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in events, f"expected HANDSHAKE_FAILED_AUTH (ZAP 400), saw {events}"
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in events


def test_a_revoked_key_that_reconnects_is_refused(fresh_hub):
    """Revocation is in test_revocation_cuts_off_an_open_connection; here the allow-list entry
    is revoked before the node ever connects."""
    run_cli("keys", "revoke", "--data-dir", str(fresh_hub.directory), "--node", "bystander")
    time.sleep(1.5)  # the hub re-reads its allow-list within a second
    identity = fresh_hub.identities["bystander"]
    connection = ssp.Connection(fresh_hub.endpoint, identity, fresh_hub.server_key)
    assert no_welcome(connection, identity)
    assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in connection.events(0.5)
    connection.close()


def test_a_client_pinning_another_server_key_gets_no_session(hub):
    identity = hub.identities["hs-field"]
    wrong, _ = zmq.curve_keypair()
    connection = ssp.Connection(hub.endpoint, identity, wrong)
    assert no_welcome(connection, identity)
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in connection.events(0.2)
    connection.close()


def test_a_plaintext_client_gets_no_session_from_a_curve_hub(hub):
    identity = hub.identities["hs-field"]
    connection = ssp.Connection(hub.endpoint)  # the NULL mechanism
    assert no_welcome(connection, identity)
    events = connection.events(0.2)
    connection.close()
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED not in events


def test_revocation_cuts_off_an_open_connection_with_403_session_0(fresh_hub):
    """§16.2: a subscribed node keeps its connection open between sessions (§9.4), as
    `sitesync run` does; revoking its key cuts it off with Failure 403, session 0."""
    connection = fresh_hub.connect("revokee")
    identity = fresh_hub.identities["revokee"]
    connection.send(ssp.hello(identity, "field", "d-revoke", subscribe=True))
    assert connection.receive().WhichOneof("body") == "welcome"
    run_cli("keys", "revoke", "--data-dir", str(fresh_hub.directory), "--node", "revokee")
    reply = connection.receive(timeout=10)
    connection.close()
    assert reply.WhichOneof("body") == "failure", ssp.describe(reply)
    assert (reply.failure.code, reply.failure.session) == (403, 0), ssp.describe(reply)
