/* Atomic file replacement: a reader of `path` sees either the old file or the
 * complete new one, never a half-written file, even across a crash.
 *
 * The bytes go to "<path>.tmp.<pid>" in the same directory (so that rename is
 * atomic: same filesystem), are flushed and fsynced, the temp file is renamed
 * over `path`, and the directory is fsynced so that the rename itself is
 * durable. On any failure before the rename the temp file is removed and the
 * old `path` (if any) is left untouched; the error line names `path` and the
 * failing step with strerror. Not for two threads of one process writing the
 * same path at the same time (they would share the temp name).
 */
#ifndef NS_IO_ATOMIC_FILE_H
#define NS_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include <noisystudent/status.h>

/* Writes the file's contents into f. Returns NS_OK, or a failure status with
 * the error set (it is prefixed with the atomic write's context). Must not
 * close f. A write error that write_fn ignores is still caught (ferror). */
typedef ns_status (*ns_atomic_write_fn)(FILE *f, void *user);

/* Replaces `path` atomically with what write_fn writes. New files get mode
 * 0666 minus the umask. NS_ERR_IO for system-call failures; a failure returned
 * by write_fn is passed through with "atomic write of '<path>'" prepended.
 * If only the final directory fsync fails, the new file is already in place
 * (NS_ERR_IO is still returned: durability was not confirmed). */
ns_status ns_atomic_write(const char *path, ns_atomic_write_fn write_fn, void *user);

/* ns_atomic_write of exactly n bytes from data (data may be NULL when n is 0). */
ns_status ns_atomic_write_buffer(const char *path, const void *data, size_t n);

#endif
