/* The run directory: where a self-training run keeps its config, checkpoints
 * and metrics log, so that an interrupted run can resume.
 *
 *   <dir>/config.json     pretty JSON, sorted keys, replaced atomically
 *   <dir>/metrics.jsonl   one compact JSON object per line, replaced atomically
 *   <dir>/...             checkpoints and other files (ns_run_dir_path)
 *
 * metrics.jsonl is written like every other file of a run: whole, to a temp
 * name, fsynced, renamed, directory fsynced (io/atomic_file.h), once per
 * record. A crash leaves the log as it was before or after a record, never a
 * torn line; logs are a record per epoch, so rewriting costs nothing that
 * matters. A trainer writes an epoch's record before that epoch's checkpoint
 * and, when it starts or resumes, drops records past the checkpoint's epoch
 * (ns_metrics_keep_epochs): a kill between the two writes leaves no orphan
 * or duplicated epoch. (Logs of older versions, appended in place, may end
 * with a torn line: the reader still skips it.)
 */
#ifndef NS_IO_RUN_DIR_H
#define NS_IO_RUN_DIR_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include <noisystudent/status.h>

#define NS_METRICS_FILE "metrics.jsonl"

/* Creates the run directory and its parents (mkdir -p). An existing directory
 * is fine; something else at `path` is NS_ERR_IO naming it. */
ns_status ns_run_dir_create(const char *path);

/* Writes "<dir>/<name>" into buf (len bytes). name is relative and may name a
 * subfolder ("ckpt/student-1.safetensors"). NS_ERR_INVALID_ARG when name is
 * empty or absolute, or the result does not fit in len bytes. */
ns_status ns_run_dir_path(const char *dir, const char *name, char *buf, size_t len);

/* Removes the temp files that an atomic write (io/atomic_file.h) left in `dir`
 * when its process died before the rename: "<name>.tmp.<pid>" whose pid is no
 * running process. A checkpoint's temp file is as large as the checkpoint, so
 * a run resumed after crashes would otherwise pile them up. Files of a live
 * process, and anything else, are left alone. When `report` is not NULL and
 * something was removed, one line there says how many. A missing dir removes
 * nothing; failures are NS_ERR_IO naming the file. */
ns_status ns_run_dir_remove_stale_temps(const char *dir, FILE *report);

/* Replaces "<dir>/<name>" atomically with `value` printed with 2-space indent,
 * sorted keys and a final newline. The caller keeps its reference. */
ns_status ns_run_dir_write_json(const char *dir, const char *name, const json_t *value);

/* Adds `record` (must be a JSON object) as the last line of
 * <dir>/metrics.jsonl, creating it when absent, by rewriting the whole file
 * atomically (a torn line of an older log is dropped on the way). On failure
 * the file is as it was. NS_ERR_INVALID_ARG for a non-object, NS_ERR_FORMAT
 * when the existing log is corrupt, NS_ERR_IO naming the file and step
 * otherwise (e.g. "No space left on device"). */
ns_status ns_metrics_append(const char *dir, const json_t *record);

/* Drops every record whose integer "epoch" is greater than last_epoch (what a
 * run killed after logging an epoch but before checkpointing it left behind),
 * rewriting the file atomically; records without an integer "epoch" stay.
 * Writes nothing when nothing is dropped (or the file is absent). *dropped
 * (may be NULL) gets how many went. Errors as ns_metrics_append. */
ns_status ns_metrics_keep_epochs(const char *dir, int last_epoch, size_t *dropped);

/* Reads <dir>/metrics.jsonl into a new JSON array of the records in order;
 * the caller owns *array (json_decref). A missing file gives an empty array
 * (a run that has logged nothing yet); a missing dir is NS_ERR_NOT_FOUND. A
 * torn last line (no final newline) is skipped. Any complete line that is
 * not a JSON object is NS_ERR_FORMAT naming "<file>:<line>". *array is NULL
 * on failure. */
ns_status ns_metrics_read(const char *dir, json_t **array);

#endif
