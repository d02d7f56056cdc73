// SQLite's session extension (sqlite3session_*, sqlite3changeset_*) and its process-wide
// settings, reached through small C functions: the extension's declarations in <sqlite3.h> exist
// only when SQLITE_ENABLE_SESSION is defined, sqlite3_config is variadic, and this header keeps
// <sqlite3.h> out of Swift's view (GRDB's module already imports it).
// Handles are passed as `void *`; the database handle is GRDB's `Database.sqliteConnection`.
#ifndef CSQLITESESSION_H
#define CSQLITESESSION_H

#include <stdint.h>

/// A session recording every change to every table of the "main" database of `db`.
int sitesync_session_open(void *db, void **session);
void sitesync_session_close(void *session);
/// The changeset recorded so far; `*bytes` is freed with `sitesync_free`.
int sitesync_session_changeset(void *session, int *size, void **bytes);
void sitesync_free(void *pointer);

/// Applies a changeset to the "main" database of `db`. Any conflict (a row missing, present,
/// or not as the changeset's old values say) aborts the whole changeset: SQLITE_ABORT.
int sitesync_changeset_apply(void *db, int size, const void *bytes);

/// Iterating a changeset: start, then `next` until it returns SQLITE_DONE (101), then finish.
int sitesync_changeset_start(void **iterator, int size, const void *bytes);
int sitesync_changeset_next(void *iterator);
int sitesync_changeset_finish(void *iterator);
/// The current operation: its table, its number of columns and its kind (SQLITE_INSERT 18,
/// SQLITE_DELETE 9, SQLITE_UPDATE 23).
int sitesync_changeset_operation(void *iterator, const char **table, int *columns, int *kind);
/// Which columns form the table's primary key: `(*flags)[i]` is 1 for a key column.
int sitesync_changeset_primary_key(void *iterator, unsigned char **flags, int *columns);

/// One value of the current operation: `old` 1 for the row before, 0 for the row after. For an
/// update, a column that did not change has no new value and a non-key column that did not
/// change no old value: `*present` is 0. `*type` is SQLITE_INTEGER 1, SQLITE_FLOAT 2,
/// SQLITE_TEXT 3, SQLITE_BLOB 4 or SQLITE_NULL 5; text and blobs are in `*bytes`, `*length` long,
/// valid until the next call on the iterator.
int sitesync_changeset_value(void *iterator, int old, int column, int *present, int *type,
                             int64_t *integer, double *real, const void **bytes, int *length);

/// Turns SQLite's memory statistics off for the whole process (SQLITE_CONFIG_MEMSTATUS), which
/// makes its allocations take no lock. Only before SQLite's first use in the process: later it
/// changes nothing and returns SQLITE_MISUSE (21).
int sitesync_sqlite_configure_process(void);

/// Allocates `length` bytes of the file `fd` from `offset` (Linux fallocate, mode 0): the file
/// grows to cover them and they read as zeros; bytes already written stay as they are.
/// Returns 0, or the errno (EOPNOTSUPP where the file system cannot).
int sitesync_reserve(int fd, long long offset, long long length);

#endif
