"""An independent SSP/1 client, written from protocol/README.md, sitesync.proto and the golden
examples alone (no SiteSync source was read to write it).

Section numbers (§) are those of protocol/README.md. The protobuf classes come from
`sitesync_pb2`, which run.sh generates from protocol/sitesync.proto at test time, so the suite
always speaks the schema as it stands in the repository.
"""

from __future__ import annotations

import hashlib
import re
import pathlib
import os
import secrets
import struct
import time
import uuid as uuidlib
from dataclasses import dataclass, field

import zmq
from zmq.utils import z85
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

import sitesync_pb2 as pb

SIGNATURE = b"SSP1"  # §6: frame 1 of every message
PROTOCOL_VERSION = 1


def _schema_of_the_spec():
    """§5.2: the schema version and hash the spec states, which this suite speaks."""
    spec = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    version, digest = re.search(r"Schema version (\d+), hash `([0-9a-f]{64})`", spec).groups()
    return int(version), digest


SCHEMA_VERSION, SCHEMA_HASH = _schema_of_the_spec()

ZERO_LINK = bytes(32)


# ---------------------------------------------------------------------------------------------
# §8 varints, zigzag and strings


def put_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise ValueError("varint of a negative number")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63) if value < 0 else value << 1


def unzigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def put_signed(out: bytearray, value: int) -> None:
    put_varint(out, zigzag(value))


def put_string(out: bytearray, text: str) -> None:
    data = text.encode("utf-8")
    put_varint(out, len(data))
    out += data


class Reader:
    """Reads §8's primitives off a byte string, failing loudly on truncation."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ValueError("batch encoding ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("batch encoding ends early")
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value

    def varint(self) -> int:
        shift = 0
        value = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def signed(self) -> int:
        return unzigzag(self.varint())

    def string(self) -> str:
        return self.raw(self.varint()).decode("utf-8")

    def done(self) -> bool:
        return self.pos == len(self.data)


# ---------------------------------------------------------------------------------------------
# §5 changes, canonical encoding, §8 compact batch encoding


@dataclass
class Envelope:
    """A change beside its dot (§5's ChangeEnvelope), holding the decoded Change."""
    origin: int
    counter: int
    change: "pb.Change"

    @property
    def encoded(self) -> bytes:
        return canonical(self.change)


def canonical(change: "pb.Change") -> bytes:
    """§5: fields in ascending number order, defaults left out, repeated scalars packed.

    proto3 serialisers do exactly this for messages without unknown fields; the golden example
    03's seal (recomputed in test_golden.py) confirms the library agrees with the origin's bytes.
    """
    return change.SerializeToString(deterministic=True)


def record_key(change) -> str:
    which = change.WhichOneof("record")
    if which == "record_uuid":
        return str(uuidlib.UUID(bytes=change.record_uuid))
    return change.record_id


_KIND = {"null_value": 0, "text": 1, "int": 2, "decimal": 3, "date": 4, "symbol": 5, "ref": 6}
_KIND_NAME = {v: k for k, v in _KIND.items()}


def encode_batch_changes(envelopes: list[Envelope]) -> bytes:
    """§8, tables in order of first appearance (the spec does not fix their order)."""
    replicas: list[int] = []
    departments: list[str] = []

    def replica_index(replica: int) -> int:
        if replica not in replicas:
            replicas.append(replica)
        return replicas.index(replica)

    def department_index(department: str) -> int:
        if department not in departments:
            departments.append(department)
        return departments.index(department)

    for env in envelopes:
        replica_index(env.origin)
        for replica in env.change.context.replicas:
            replica_index(replica)
        department_index(env.change.department)

    body = bytearray()
    previous_counter: dict[int, int] = {}
    previous_hlc = 0
    for env in envelopes:
        c = env.change
        put_varint(body, replica_index(env.origin))
        put_varint(body, env.counter - previous_counter.get(env.origin, 0))
        previous_counter[env.origin] = env.counter
        put_signed(body, c.hlc - previous_hlc)
        previous_hlc = c.hlc
        is_uuid = c.WhichOneof("record") == "record_uuid"
        has_context = len(c.context.replicas) > 0
        body.append((1 if c.delete else 0) | (2 if is_uuid else 0) | (4 if has_context else 0))
        put_varint(body, c.collection)
        if is_uuid:
            body += c.record_uuid
        else:
            put_string(body, c.record_id)
        put_varint(body, department_index(c.department))
        if has_context:
            put_varint(body, len(c.context.replicas))
            for replica, counter in zip(c.context.replicas, c.context.counters):
                put_varint(body, replica_index(replica))
                put_varint(body, counter)
        if not c.delete:
            put_varint(body, len(c.writes))
            for w in c.writes:
                _encode_write(body, w)

    out = bytearray([1])
    put_varint(out, len(replicas))
    for replica in replicas:
        out += struct.pack("<Q", replica)
    put_varint(out, len(departments))
    for department in departments:
        put_string(out, department)
    return bytes(out + body)


def _encode_write(out: bytearray, w: "pb.FieldWrite") -> None:
    put_varint(out, w.field)
    which = w.WhichOneof("value")
    kind = 7 if which is None else _KIND[which]
    kind |= (8 if w.supersede else 0) | (16 if w.tag else 0)
    out.append(kind)
    if w.tag:
        put_varint(out, w.tag)
    if which is None:
        put_varint(out, len(w.add))
        for element in w.add:
            put_string(out, element)
        put_varint(out, len(w.remove))
        for element in w.remove:
            put_string(out, element)
    elif which == "null_value":
        pass
    elif which in ("int", "date"):
        put_signed(out, getattr(w, which))
    else:
        put_string(out, getattr(w, which))


def decode_batch_changes(data: bytes, count: int) -> list[Envelope]:
    """§8, the inverse of encode_batch_changes; checks the format byte and that nothing is left."""
    r = Reader(data)
    if r.byte() != 1:
        raise ValueError("batch encoding: unknown format")
    replicas = [struct.unpack("<Q", r.raw(8))[0] for _ in range(r.varint())]
    departments = [r.string() for _ in range(r.varint())]
    envelopes = []
    previous_counter: dict[int, int] = {}
    previous_hlc = 0
    for _ in range(count):
        origin = replicas[r.varint()]
        counter = previous_counter.get(origin, 0) + r.varint()
        previous_counter[origin] = counter
        hlc = previous_hlc + r.signed()
        previous_hlc = hlc
        flags = r.byte()
        c = pb.Change(hlc=hlc, collection=r.varint())
        if flags & 2:
            c.record_uuid = r.raw(16)
        else:
            c.record_id = r.string()
        c.department = departments[r.varint()]
        if flags & 4:
            for _ in range(r.varint()):
                c.context.replicas.append(replicas[r.varint()])
                c.context.counters.append(r.varint())
        if flags & 1:
            c.delete = True
        else:
            for _ in range(r.varint()):
                c.writes.append(_decode_write(r))
        envelopes.append(Envelope(origin, counter, c))
    if not r.done():
        raise ValueError("batch encoding: bytes left after the last change")
    return envelopes


def _decode_write(r: Reader) -> "pb.FieldWrite":
    w = pb.FieldWrite(field=r.varint())
    kind = r.byte()
    if kind & 8:
        w.supersede = True
    if kind & 16:
        w.tag = r.varint()
    value = kind & 7
    if value == 7:
        w.add.extend(r.string() for _ in range(r.varint()))
        w.remove.extend(r.string() for _ in range(r.varint()))
    elif value == 0:
        w.null_value = True
    elif value in (2, 4):
        setattr(w, _KIND_NAME[value], r.signed())
    else:
        setattr(w, _KIND_NAME[value], r.string())
    return w


# ---------------------------------------------------------------------------------------------
# §16.1 keys and credentials, §16.4 links and seals


def be64(value: int) -> bytes:
    return struct.pack(">Q", value)


def replica_of(signing_key: bytes, salt: bytes) -> int:
    digest = hashlib.sha256(b"sitesync/replica/v1" + signing_key + salt).digest()
    return struct.unpack(">Q", digest[:8])[0]


def link(previous: bytes, origin: int, counter: int, encoded_change: bytes) -> bytes:
    return hashlib.sha256(b"sitesync/link/v1" + previous + be64(origin) + be64(counter)
                          + hashlib.sha256(encoded_change).digest()).digest()


def seal_message(origin: int, department: str, counter: int, link_value: bytes) -> bytes:
    dept = department.encode("utf-8")
    return b"sitesync/seal/v1" + be64(origin) + bytes([len(dept)]) + dept + be64(counter) + link_value


def verify_seal(seal: "pb.Seal", signing_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(signing_key).verify(
            seal.signature, seal_message(seal.origin, seal.department, seal.counter, seal.link))
        return True
    except Exception:
        return False


class Identity:
    """A node's two key pairs (§16.1) and its current replica (credential)."""

    def __init__(self, node: str):
        self.node = node
        public, secret = zmq.curve_keypair()
        self.curve_public, self.curve_secret = public, secret
        self.signing = Ed25519PrivateKey.generate()
        self.signing_public = self.signing.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.new_epoch()

    def new_epoch(self) -> None:
        self.salt = secrets.token_bytes(8)
        self.replica = replica_of(self.signing_public, self.salt)

    @property
    def public_key(self) -> str:
        """§16.1: 80 Z85 characters, the CURVE public key then the Ed25519 public key."""
        return z85.encode(z85.decode(self.curve_public) + self.signing_public).decode()

    def credential(self) -> "pb.ReplicaCredential":
        return pb.ReplicaCredential(replica=self.replica, node=self.node,
                                    signing_key=self.signing_public, salt=self.salt)

    def seal(self, department: str, counter: int, link_value: bytes) -> "pb.Seal":
        signature = self.signing.sign(seal_message(self.replica, department, counter, link_value))
        return pb.Seal(origin=self.replica, department=department, counter=counter,
                       link=link_value, signature=signature)


class Origin:
    """An origin writing changes: its counter and, per department, its chain's head (§16.4)."""

    def __init__(self, identity: Identity):
        self.identity = identity
        self.counter = 0
        self.heads: dict[str, tuple[int, bytes]] = {}   # department -> (counter, link)
        self.log: list[tuple[Envelope, bytes]] = []     # every change written, with its link

    def write(self, change: "pb.Change") -> Envelope:
        self.counter += 1
        env = Envelope(self.identity.replica, self.counter, change)
        _, previous = self.heads.get(change.department, (0, ZERO_LINK))
        value = link(previous, env.origin, env.counter, env.encoded)
        self.heads[change.department] = (env.counter, value)
        self.log.append((env, value))
        return env


def segment_proof(origin: Origin, envelopes: list[Envelope], seal_every: int | None = None):
    """starts, seals and credentials (§16.4) for a run of `origin`'s changes taken from its log:
    a seal at each chain's last change, and with `seal_every` also after every that many
    changes of the run (where an origin sealing a long transaction would, §16.4)."""
    links = {e.counter: (e, l) for e, l in origin.log}
    starts, seals = [], []
    by_department: dict[str, list[Envelope]] = {}
    for env in envelopes:
        by_department.setdefault(env.change.department, []).append(env)
    for department, run in by_department.items():
        previous = [(e.counter, l) for e, l in origin.log
                    if e.change.department == department and e.counter < run[0].counter]
        start_counter, start_link = previous[-1] if previous else (0, ZERO_LINK)
        starts.append(pb.ChainStart(origin=origin.identity.replica, department=department,
                                    counter=start_counter, link=start_link))
        points = [e.counter for e in run[seal_every - 1::seal_every]] if seal_every else []
        for counter in sorted(set(points + [run[-1].counter])):
            seals.append(origin.identity.seal(department, counter, links[counter][1]))
    return starts, seals, [origin.identity.credential()]


def forged_proof(identity: Identity, department: str, start_counter: int, start_link: bytes,
                 envelopes: list[Envelope]):
    """A segment proof computed from a start of the caller's choosing, sealed with a valid
    signature: self-consistent, so only the start's continuity can be wrong (§16.4)."""
    value = start_link
    for env in envelopes:
        value = link(value, env.origin, env.counter, env.encoded)
    start = pb.ChainStart(origin=identity.replica, department=department, counter=start_counter, link=start_link)
    return [start], [identity.seal(department, envelopes[-1].counter, value)], [identity.credential()]


def batch_message(session: int, sequence: int, envelopes: list[Envelope], starts, seals, credentials,
                  last: bool = True, holes=()) -> "pb.SyncMessage":
    """A push batch assembled from parts, for checks that break one of them."""
    return pb.SyncMessage(batch=pb.Batch(
        session=session, pull=False, sequence=sequence, changes=encode_batch_changes(envelopes),
        count=len(envelopes), last=last, starts=starts, seals=seals, credentials=credentials, holes=list(holes)))


def check_segments(batch: "pb.Batch", envelopes: list[Envelope], held: dict) -> dict:
    """What §16.4 asks of a receiver: recompute every segment from its start through changes and
    holes to its seal, check the seal with the origin credential's key, and check that the start
    is the link held (or counter 0 and zero bytes). Returns the new heads; raises AssertionError
    naming the chain otherwise. `held` maps (origin, department) to (counter, link)."""
    keys = {}
    for credential in batch.credentials:
        assert credential.replica == replica_of(credential.signing_key, credential.salt), \
            f"credential of {credential.node} does not derive its replica id"
        keys[credential.replica] = credential.signing_key
    items = []
    for index in range(len(envelopes) + 1):
        items += [(hole, None) for hole in batch.holes if hole.position == index]
        if index < len(envelopes):
            items.append((None, envelopes[index]))
    heads = {}
    for start in batch.starts:
        chain = (start.origin, start.department)
        expected = held.get(chain, (0, ZERO_LINK))
        assert (start.counter, start.link) == expected, \
            f"chain {chain} starts at {start.counter}, not at the held {expected[0]}"
        heads[chain] = (start.counter, start.link)
    for hole, env in items:
        if env is not None:
            chain = (env.origin, env.change.department)
            digest = hashlib.sha256(env.encoded).digest()
            counter = env.counter
        else:
            chain = (hole.origin, hole.department)
            digest = hole.payload_hash
            counter = hole.counter
        assert chain in heads, f"chain {chain} has no ChainStart"
        previous_counter, previous_link = heads[chain]
        assert counter > previous_counter, f"chain {chain}: counter {counter} does not rise"
        value = hashlib.sha256(b"sitesync/link/v1" + previous_link + be64(chain[0]) + be64(counter)
                               + digest).digest()
        heads[chain] = (counter, value)
    for chain in heads:
        seals = [s for s in batch.seals if (s.origin, s.department) == chain]
        assert seals, f"chain {chain} has no seal"
        final = [s for s in seals if s.counter == heads[chain][0]]
        assert final and final[0].link == heads[chain][1], f"chain {chain}: the seal does not match"
        for s in seals:
            assert verify_seal(s, keys[chain[0]]), f"chain {chain}: seal at {s.counter} not signed by its origin"
    return heads


# ---------------------------------------------------------------------------------------------
# Changes this suite writes


def text_write(field_code: int, text: str) -> "pb.FieldWrite":
    return pb.FieldWrite(field=field_code, text=text)


def issue(department: str, title: str, project: str = "p-conformance", hlc: int | None = None,
          record: str | None = None) -> "pb.Change":
    """An `issue` (collection 8): project ref (1), title (2), priority (4, enum)."""
    return pb.Change(
        hlc=hlc if hlc is not None else now_hlc(),
        collection=8,
        record_uuid=uuidlib.UUID(record).bytes if record else uuidlib.uuid4().bytes,
        department=department,
        writes=[pb.FieldWrite(field=1, ref=project), text_write(2, title),
                pb.FieldWrite(field=4, symbol="medium")])


_last_hlc = 0


def now_hlc() -> int:
    """§5: milliseconds << 16 | logical, strictly rising within this process."""
    global _last_hlc
    value = max(int(time.time() * 1000) << 16, _last_hlc + 1)
    _last_hlc = value
    return value


# ---------------------------------------------------------------------------------------------
# §6 framing and §7 sessions


def vector(entries: dict[int, int]) -> "pb.VersionVector":
    """§4: replicas strictly ascending, no zero, counters at least 1."""
    items = sorted((r, c) for r, c in entries.items() if c > 0)
    return pb.VersionVector(replicas=[r for r, _ in items], counters=[c for _, c in items])


def as_dict(v: "pb.VersionVector") -> dict[int, int]:
    return dict(zip(v.replicas, v.counters))


def frames(message: "pb.SyncMessage") -> list[bytes]:
    return [SIGNATURE, message.SerializeToString()]


class Connection:
    """A DEALER connected to a listener (§3), with CURVE when `server_key` is given (§16.2)."""

    def __init__(self, endpoint: str, identity: Identity | None = None, server_key: bytes | None = None,
                 context: zmq.Context | None = None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, 8 * 1024 * 1024)
        self.socket.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        self.socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        if server_key is not None:
            self.socket.curve_serverkey = server_key
            self.socket.curve_publickey = identity.curve_public
            self.socket.curve_secretkey = identity.curve_secret
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_ALL)
        self.socket.connect(endpoint)

    def send(self, message: "pb.SyncMessage") -> None:
        self.socket.send_multipart(frames(message))

    def send_raw(self, parts: list[bytes]) -> None:
        self.socket.send_multipart(parts)

    def receive(self, timeout: float = 10.0) -> "pb.SyncMessage":
        """The next message, checked for §6's framing; raises TimeoutError when none comes."""
        if not self.socket.poll(int(timeout * 1000)):
            raise TimeoutError(f"no message from the listener within {timeout} s")
        parts = self.socket.recv_multipart()
        assert len(parts) == 2 and parts[0] == SIGNATURE, f"not an SSP1 message: {parts[:1]!r}, {len(parts)} frames"
        message = pb.SyncMessage()
        message.ParseFromString(parts[1])
        return message

    def events(self, timeout: float) -> list[int]:
        """Socket monitor events seen within `timeout` seconds (§16.2 handshake outcomes)."""
        from zmq.utils.monitor import recv_monitor_message
        seen = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self.monitor.poll(int(left * 1000)):
                seen.append(recv_monitor_message(self.monitor)["event"])
        return seen

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close(linger=0)
        self.socket.close(linger=0)


def new_session_id() -> int:
    return secrets.randbits(64) | 1


def hello(identity: Identity, role: str, department: str, knowledge: dict[int, int] | None = None,
          session: int | None = None, **overrides) -> "pb.SyncMessage":
    h = pb.Hello(protocol_version=PROTOCOL_VERSION, schema_version=SCHEMA_VERSION, schema_hash=SCHEMA_HASH,
                 peer=pb.PeerInfo(node=identity.node, replica=identity.replica, role=role, department=department),
                 knowledge=vector(knowledge or {}), session=session or new_session_id(),
                 limits=pb.Limits(batch_changes=1000, batch_bytes=512 * 1024, window=4),
                 credential=identity.credential(), directory_digest="",
                 wall_clock_ms=int(time.time() * 1000))
    for name, value in overrides.items():
        if isinstance(value, pb.Limits):
            h.limits.CopyFrom(value)
        else:
            setattr(h, name, value)
    return pb.SyncMessage(hello=h)


def push_batch(session: int, sequence: int, origin: Origin, envelopes: list[Envelope], last: bool,
               vouched: dict[int, int] | None = None, seal_every: int | None = None) -> "pb.SyncMessage":
    starts, seals, credentials = segment_proof(origin, envelopes, seal_every) if envelopes else ([], [], [])
    batch = pb.Batch(session=session, pull=False, sequence=sequence,
                     changes=encode_batch_changes(envelopes), count=len(envelopes),
                     vouched=vector(vouched or ({origin.identity.replica: envelopes[-1].counter} if envelopes else {})),
                     last=last, starts=starts, seals=seals, credentials=credentials)
    return pb.SyncMessage(batch=batch)


class Session:
    """One session as a client drives it (§9.1), asserting the listener's side as it goes."""

    def __init__(self, connection: Connection, identity: Identity, role: str, department: str,
                 knowledge: dict[int, int] | None = None):
        self.connection = connection
        self.identity = identity
        self.id = new_session_id()
        self.connection.send(hello(identity, role, department, knowledge, session=self.id))
        reply = self.connection.receive()
        assert reply.WhichOneof("body") == "welcome", f"expected a Welcome, got {describe(reply)}"
        self.welcome = reply.welcome
        assert self.welcome.session == self.id, "the Welcome does not repeat the Hello's session"
        self.push_sequence = 0

    def push(self, origin: Origin, envelopes: list[Envelope], last: bool = True,
             seal_every: int | None = None) -> "pb.Ack":
        self.push_sequence += 1
        self.connection.send(push_batch(self.id, self.push_sequence, origin, envelopes, last,
                                        seal_every=seal_every))
        return self.expect_ack()

    def send_batch(self, batch_message: "pb.SyncMessage") -> "pb.SyncMessage":
        """Sends a batch built by the caller (possibly broken on purpose) and returns the reply."""
        self.push_sequence += 1
        self.connection.send(batch_message)
        return self.connection.receive()

    def expect_ack(self) -> "pb.Ack":
        reply = self.connection.receive()
        assert reply.WhichOneof("body") == "ack", f"expected an Ack, got {describe(reply)}"
        assert not reply.ack.pull and reply.ack.sequence == self.push_sequence and reply.ack.session == self.id
        return reply.ack

    def pull(self, knowledge: dict[int, int], held: dict | None = None, ack: bool = True,
             stop_after: int | None = None):
        """Sends Pull and receives batches up to the `last` one, checking each one's chains
        (§16.4) and acknowledging it (§7.5). Returns the envelopes, holes and batches."""
        held = dict(held or {})
        self.connection.send(pb.SyncMessage(pull=pb.Pull(session=self.id, knowledge=vector(knowledge))))
        envelopes, holes, batches = [], [], []
        expected = 1
        mine = dict(knowledge)
        while True:
            reply = self.connection.receive()
            assert reply.WhichOneof("body") == "batch", f"expected a pull Batch, got {describe(reply)}"
            b = reply.batch
            assert b.pull and b.session == self.id, "a pull batch of another session or direction"
            assert b.sequence == expected, f"pull batch {b.sequence} where {expected} was due"
            expected += 1
            got = decode_batch_changes(b.changes, b.count)
            held.update(check_segments(b, got, held))
            envelopes += got
            holes += list(b.holes)
            batches.append(b)
            for env in got:
                mine[env.origin] = max(mine.get(env.origin, 0), env.counter)
            if stop_after is not None and len(batches) >= stop_after:
                return envelopes, holes, batches, held
            if ack:
                self.connection.send(pb.SyncMessage(ack=pb.Ack(
                    session=self.id, pull=True, sequence=b.sequence, knowledge=vector(mine),
                    applied=len(got), known=0)))
            if b.last:
                return envelopes, holes, batches, held

    def bye(self) -> None:
        self.connection.send(pb.SyncMessage(bye=pb.Bye(session=self.id)))


def directory_digest(directory: "pb.Directory") -> str:
    """§16.3: SHA-256, in hex, of one line `node role department key active|revoked` per entry,
    sorted by node. The spec does not say how lines are joined; this suite ends every line with
    a newline (see the report in README.md, "Spec gaps")."""
    lines = sorted(f"{e.node} {e.role} {e.department} {e.key} {'active' if e.active else 'revoked'}\n"
                   for e in directory.entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def describe(message: "pb.SyncMessage") -> str:
    body = message.WhichOneof("body")
    if body == "failure":
        return f"Failure {message.failure.code}: {message.failure.reason}"
    return body or "an empty SyncMessage"
