// SQLite's process-wide settings, which only C can make: sqlite3_config is variadic.
#include <sqlite3.h>
#include "CSQLiteSession.h"

int sitesync_sqlite_configure_process(void) {
    // Memory statistics make every allocation SQLite does take one process-wide mutex (a bulk
    // apply allocates for each text or blob it binds): 5 - 7 % of the writer's time in a
    // profile. Nothing in SiteSync reads those statistics.
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
