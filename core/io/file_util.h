/* Small filesystem helpers shared by the io module: read a whole file under a
 * size cap, mkdir -p, existence tests, fsync of a directory, dirname.
 *
 * Every function that can fail returns ns_status and sets one error line that
 * names the path and the failing system call with strerror(errno).
 */
#ifndef NS_IO_FILE_UTIL_H
#define NS_IO_FILE_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <noisystudent/status.h>

/* Reads all of `path` into a new buffer. The buffer holds *size bytes plus a
 * terminating NUL that is not counted (so text can be parsed in place); the
 * caller frees it with free(). A file larger than max_bytes is refused with
 * NS_ERR_FORMAT before anything is allocated. A missing file is
 * NS_ERR_NOT_FOUND, other failures NS_ERR_IO, allocation NS_ERR_NOMEM.
 * On failure *data is NULL and *size 0. */
ns_status ns_read_file(const char *path, size_t max_bytes, unsigned char **data,
                       size_t *size);

/* Creates `path` and any missing parents (mode 0777 before umask), like
 * `mkdir -p`. An existing directory is fine; an existing non-directory at
 * `path` or at a parent is NS_ERR_IO naming that component. */
ns_status ns_mkdir_p(const char *path);

/* Whether something exists at `path` (following symlinks). */
bool ns_path_exists(const char *path);
/* Whether `path` exists and is a directory (following symlinks). */
bool ns_path_is_dir(const char *path);
/* Whether `path` exists and is a regular file (following symlinks). */
bool ns_path_is_file(const char *path);

/* Opens directory `dir` and fsyncs it, so that a rename or create inside it
 * survives a crash. NS_ERR_IO naming the directory and the step on failure. */
ns_status ns_fsync_dir(const char *dir);

/* Writes the directory part of `path` into buf ("." when there is no '/',
 * "/" for a file in the root), like dirname(3) without touching `path`.
 * NS_ERR_INVALID_ARG if it does not fit in len bytes. */
ns_status ns_path_dirname(const char *path, char *buf, size_t len);

#endif
