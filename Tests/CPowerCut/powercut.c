// A power-cut model for SQLite: every file's durable image is its content at its last xSync.
// Writes, truncations and everything else go straight to the real file (so the running process
// sees what it wrote); only the image taken at each sync is what survives a cut.
#include "powercut.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Image {
    char *path;
    unsigned char *bytes;   // NULL: never synced
    sqlite3_int64 size;
    struct Image *next;
} Image;

typedef struct {
    sqlite3_file base;      // must come first
    sqlite3_file *real;
    char *path;
} CutFile;

static sqlite3_vfs *underlying;
static sqlite3_vfs powercut;
static Image *images;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
// Only files under these prefixes are imaged (others only pass through).
static char *watched[64];
static int watched_count;

int sitesync_powercut_watch(const char *prefix) {
    pthread_mutex_lock(&lock);
    int ok = watched_count < 64;
    if (ok) watched[watched_count++] = strdup(prefix);
    pthread_mutex_unlock(&lock);
    return ok ? 0 : -1;
}

static int is_watched(const char *path) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < watched_count && !found; i++) found = strncmp(path, watched[i], strlen(watched[i])) == 0;
    pthread_mutex_unlock(&lock);
    return found;
}

static Image *image_for(const char *path) {
    for (Image *image = images; image; image = image->next) {
        if (strcmp(image->path, path) == 0) return image;
    }
    Image *image = calloc(1, sizeof(Image));
    image->path = strdup(path);
    image->next = images;
    images = image;
    return image;
}

static int cut_close(sqlite3_file *file) {
    CutFile *f = (CutFile *)file;
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->real);
    free(f->path);
    return rc;
}
static int cut_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xRead(f->real, buffer, amount, offset);
}
static int cut_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xWrite(f->real, buffer, amount, offset);
}
static int cut_truncate(sqlite3_file *file, sqlite3_int64 size) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xTruncate(f->real, size);
}
// The moment a file's content becomes durable: take its image.
static int cut_sync(sqlite3_file *file, int flags) {
    CutFile *f = (CutFile *)file;
    int rc = f->real->pMethods->xSync(f->real, flags);
    if (rc != SQLITE_OK || !f->path || !is_watched(f->path)) return rc;
    sqlite3_int64 size = 0;
    rc = f->real->pMethods->xFileSize(f->real, &size);
    if (rc != SQLITE_OK) return rc;
    unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
    if (size > 0) {
        rc = f->real->pMethods->xRead(f->real, bytes, (int)size, 0);
        if (rc != SQLITE_OK) { free(bytes); return rc; }
    }
    pthread_mutex_lock(&lock);
    Image *image = image_for(f->path);
    free(image->bytes);
    image->bytes = bytes;
    image->size = size;
    pthread_mutex_unlock(&lock);
    return SQLITE_OK;
}
static int cut_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xFileSize(f->real, size);
}
static int cut_lock(sqlite3_file *file, int level) { CutFile *f = (CutFile *)file; return f->real->pMethods->xLock(f->real, level); }
static int cut_unlock(sqlite3_file *file, int level) { CutFile *f = (CutFile *)file; return f->real->pMethods->xUnlock(f->real, level); }
static int cut_check_reserved(sqlite3_file *file, int *out) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int cut_file_control(sqlite3_file *file, int op, void *arg) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int cut_sector_size(sqlite3_file *file) { CutFile *f = (CutFile *)file; return f->real->pMethods->xSectorSize(f->real); }
static int cut_device_characteristics(sqlite3_file *file) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}
static int cut_shm_map(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}
static int cut_shm_lock(sqlite3_file *file, int offset, int n, int flags) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
static void cut_shm_barrier(sqlite3_file *file) { CutFile *f = (CutFile *)file; f->real->pMethods->xShmBarrier(f->real); }
static int cut_shm_unmap(sqlite3_file *file, int delete) {
    CutFile *f = (CutFile *)file;
    return f->real->pMethods->xShmUnmap(f->real, delete);
}

static const sqlite3_io_methods cut_methods = {
    2, cut_close, cut_read, cut_write, cut_truncate, cut_sync, cut_file_size, cut_lock, cut_unlock,
    cut_check_reserved, cut_file_control, cut_sector_size, cut_device_characteristics,
    cut_shm_map, cut_shm_lock, cut_shm_barrier, cut_shm_unmap, 0, 0,
};

static int cut_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    CutFile *f = (CutFile *)file;
    memset(f, 0, sizeof(CutFile));
    f->real = calloc(1, (size_t)underlying->szOsFile);
    int rc = underlying->xOpen(underlying, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) { free(f->real); f->real = NULL; return rc; }
    f->path = name ? strdup(name) : NULL;
    f->base.pMethods = &cut_methods;
    return SQLITE_OK;
}
// A deleted file is gone from the disk too (taken as durable at once: SQLite syncs the
// directory where it matters).
static int cut_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs;
    pthread_mutex_lock(&lock);
    for (Image *image = images; image; image = image->next) {
        if (strcmp(image->path, name) == 0) { free(image->bytes); image->bytes = NULL; image->size = 0; }
    }
    pthread_mutex_unlock(&lock);
    return underlying->xDelete(underlying, name, sync_dir);
}
static int cut_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return underlying->xAccess(underlying, name, flags, out);
}
static int cut_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return underlying->xFullPathname(underlying, name, size, out);
}
static void *cut_dl_open(sqlite3_vfs *vfs, const char *name) { (void)vfs; return underlying->xDlOpen(underlying, name); }
static void cut_dl_error(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; underlying->xDlError(underlying, size, out); }
static void (*cut_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return underlying->xDlSym(underlying, handle, symbol);
}
static void cut_dl_close(sqlite3_vfs *vfs, void *handle) { (void)vfs; underlying->xDlClose(underlying, handle); }
static int cut_randomness(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; return underlying->xRandomness(underlying, size, out); }
static int cut_sleep(sqlite3_vfs *vfs, int micros) { (void)vfs; return underlying->xSleep(underlying, micros); }
static int cut_current_time(sqlite3_vfs *vfs, double *out) { (void)vfs; return underlying->xCurrentTime(underlying, out); }
static int cut_last_error(sqlite3_vfs *vfs, int size, char *out) { (void)vfs; return underlying->xGetLastError(underlying, size, out); }
static int cut_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return underlying->xCurrentTimeInt64(underlying, out);
}

int sitesync_powercut_install(void) {
    if (underlying) return 0;
    underlying = sqlite3_vfs_find(NULL);
    if (!underlying) return -1;
    powercut = (sqlite3_vfs){
        2, (int)sizeof(CutFile), underlying->mxPathname, NULL, "sitesync-powercut", NULL,
        cut_open, cut_delete, cut_access, cut_full_pathname, cut_dl_open, cut_dl_error, cut_dl_sym, cut_dl_close,
        cut_randomness, cut_sleep, cut_current_time, cut_last_error, cut_current_time_int64, 0, 0, 0,
    };
    return sqlite3_vfs_register(&powercut, 1) == SQLITE_OK ? 0 : -1;
}

int sitesync_powercut_snapshot(const char *prefix, const char *directory) {
    int written = 0;
    size_t length = strlen(prefix);
    pthread_mutex_lock(&lock);
    for (Image *image = images; image; image = image->next) {
        if (!image->bytes || strncmp(image->path, prefix, length) != 0) continue;
        const char *base = strrchr(image->path, '/');
        base = base ? base + 1 : image->path;
        char target[4096];
        snprintf(target, sizeof(target), "%s/%s", directory, base);
        FILE *out = fopen(target, "wb");
        if (!out) { written = -1; break; }
        if (image->size > 0 && fwrite(image->bytes, 1, (size_t)image->size, out) != (size_t)image->size) { fclose(out); written = -1; break; }
        fclose(out);
        written++;
    }
    pthread_mutex_unlock(&lock);
    return written;
}
