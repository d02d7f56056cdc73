// libzmq (Debian package libzmq3-dev) for Swift.
#ifndef SITESYNC_CZEROMQ_SHIM_H
#define SITESYNC_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>

// Draft options that Debian's libzmq 4.3.4 accepts but zmq.h declares only under
// ZMQ_BUILD_DRAFT_API (checked at startup by the hub's self-test).
#define SITESYNC_ZMQ_ZAP_ENFORCE_DOMAIN 93

// errno through a function: Swift cannot read the C macro directly on every libc.
static inline int sitesync_errno(void) { return errno; }

#endif
