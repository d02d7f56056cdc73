#!/usr/bin/env bash
# Regenerates Sources/SiteSyncWire/Generated/sitesync.pb.swift from protocol/sitesync.proto.
# Needs Debian's protobuf-compiler and protoc-gen-swift built from the pinned swift-protobuf;
# the generated file is committed, so normal builds need neither.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "install protoc: sudo apt-get install -y protobuf-compiler" >&2; exit 1; }
swift package resolve >/dev/null
swift build --package-path .build/checkouts/swift-protobuf --scratch-path .build-protoc \
    --product protoc-gen-swift -c release >/dev/null
mkdir -p Sources/SiteSyncWire/Generated
protoc --plugin=protoc-gen-swift=.build-protoc/release/protoc-gen-swift \
    --swift_opt=Visibility=Public --swift_out=Sources/SiteSyncWire/Generated \
    -I protocol protocol/sitesync.proto
echo "generated Sources/SiteSyncWire/Generated/sitesync.pb.swift"
