/* Shared by the libFuzzer targets: the parsers take paths, so an input is put
 * in an anonymous in-memory file (memfd) and handed over as /proc/self/fd/N.
 * Nothing touches the disk, nothing is printed, and every fd is closed again.
 * An input that cannot be staged (memfd_create or write failing) is a bug in
 * the environment, not a finding: the target aborts with one line. */
#ifndef NS_FUZZ_UTIL_H
#define NS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct ns_fuzz_file {
    int fd;
    char path[64]; /* "/proc/self/fd/N" */
} ns_fuzz_file;

/* Creates a memfd holding exactly data[0..size). */
void ns_fuzz_file_open(ns_fuzz_file *f, const uint8_t *data, size_t size);
void ns_fuzz_file_close(ns_fuzz_file *f);

/* Once per process: silences the core's log (level 0 warnings included) so
 * that a target prints nothing of its own. */
void ns_fuzz_quiet(void);

/* A NUL-terminated copy of data[0..size) (caller frees), for the string parsers. */
char *ns_fuzz_strndup(const uint8_t *data, size_t size);

#endif
