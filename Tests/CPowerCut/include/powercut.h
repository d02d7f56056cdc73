#ifndef SITESYNC_POWERCUT_H
#define SITESYNC_POWERCUT_H

/// A test-only SQLite VFS that models a power cut: it passes everything through to the
/// default VFS, and keeps, for every file, its content as of its last xSync — what a disk
/// holds after the power fails. Install it as the default VFS before opening databases.
///
/// Returns 0 on success.
int sitesync_powercut_install(void);

/// Images the files whose paths start with `prefix` (only those: others just pass through).
int sitesync_powercut_watch(const char *prefix);

/// Writes, into `directory`, every file opened under `prefix` as the disk would hold it after
/// a power cut now: its content at its last sync (a file never synced is left out).
/// Returns the number of files written, or -1 on an error.
int sitesync_powercut_snapshot(const char *prefix, const char *directory);

#endif
