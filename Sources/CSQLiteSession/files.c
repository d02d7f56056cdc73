// Reserving space for SQLite's write-ahead log ahead of the writer (WalCheckpointer.swift):
// Linux's fallocate, which Swift's Glibc module does not declare.
#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#include "CSQLiteSession.h"

int sitesync_reserve(int fd, long long offset, long long length) {
    // Mode 0 allocates the blocks and extends the file's size, reading as zeros; bytes already
    // written in the range are left exactly as they are.
    return fallocate(fd, 0, (off_t)offset, (off_t)length) == 0 ? 0 : errno;
}
