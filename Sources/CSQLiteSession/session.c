#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include <sqlite3.h>
#include <stddef.h>
#include "CSQLiteSession.h"

int sitesync_session_open(void *db, void **session) {
    sqlite3_session *created = NULL;
    int rc = sqlite3session_create((sqlite3 *)db, "main", &created);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3session_attach(created, NULL);
    if (rc != SQLITE_OK) {
        sqlite3session_delete(created);
        return rc;
    }
    *session = created;
    return SQLITE_OK;
}

void sitesync_session_close(void *session) {
    sqlite3session_delete((sqlite3_session *)session);
}

int sitesync_session_changeset(void *session, int *size, void **bytes) {
    return sqlite3session_changeset((sqlite3_session *)session, size, bytes);
}

void sitesync_free(void *pointer) {
    sqlite3_free(pointer);
}

static int abort_on_conflict(void *context, int conflict, sqlite3_changeset_iter *iterator) {
    (void)context; (void)conflict; (void)iterator;
    return SQLITE_CHANGESET_ABORT;
}

int sitesync_changeset_apply(void *db, int size, const void *bytes) {
    return sqlite3changeset_apply((sqlite3 *)db, size, (void *)bytes, NULL, abort_on_conflict, NULL);
}

int sitesync_changeset_start(void **iterator, int size, const void *bytes) {
    return sqlite3changeset_start((sqlite3_changeset_iter **)iterator, size, (void *)bytes);
}

int sitesync_changeset_next(void *iterator) {
    return sqlite3changeset_next((sqlite3_changeset_iter *)iterator);
}

int sitesync_changeset_finish(void *iterator) {
    return sqlite3changeset_finalize((sqlite3_changeset_iter *)iterator);
}

int sitesync_changeset_operation(void *iterator, const char **table, int *columns, int *kind) {
    int indirect = 0;
    return sqlite3changeset_op((sqlite3_changeset_iter *)iterator, table, columns, kind, &indirect);
}

int sitesync_changeset_primary_key(void *iterator, unsigned char **flags, int *columns) {
    return sqlite3changeset_pk((sqlite3_changeset_iter *)iterator, flags, columns);
}

int sitesync_changeset_value(void *iterator, int old, int column, int *present, int *type,
                             int64_t *integer, double *real, const void **bytes, int *length) {
    sqlite3_value *value = NULL;
    int rc = old ? sqlite3changeset_old((sqlite3_changeset_iter *)iterator, column, &value)
                 : sqlite3changeset_new((sqlite3_changeset_iter *)iterator, column, &value);
    if (rc != SQLITE_OK) return rc;
    *present = value != NULL;
    if (value == NULL) return SQLITE_OK;
    *type = sqlite3_value_type(value);
    switch (*type) {
    case SQLITE_INTEGER: *integer = sqlite3_value_int64(value); break;
    case SQLITE_FLOAT: *real = sqlite3_value_double(value); break;
    case SQLITE_TEXT: *bytes = sqlite3_value_text(value); *length = sqlite3_value_bytes(value); break;
    case SQLITE_BLOB: *bytes = sqlite3_value_blob(value); *length = sqlite3_value_bytes(value); break;
    default: break;
    }
    return SQLITE_OK;
}
