// libpq, PostgreSQL's C client library (Debian package libpq-dev), for Swift.
#ifndef SITESYNC_CLIBPQ_SHIM_H
#define SITESYNC_CLIBPQ_SHIM_H

// pkg-config's libpq puts /usr/include/postgresql on the include path; without pkg-config,
// Debian's header is still found under its directory.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

#endif
