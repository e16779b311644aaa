/* The run report: RUN_DIR/report.html, one self-contained page (inline CSS
 * and SVG, images as PNG data URIs, no script, nothing fetched) that shows a
 * train or selftrain run from the files it leaves: metrics.jsonl, config.json,
 * eval.json, pseudo_labels.json, the label files, selftrain.json, and the
 * images of the data source its configuration names.
 *
 * It shows what exists and says what is missing, so it works on a run in
 * progress, a finished run and a run made before eval.json existed. The page
 * is replaced atomically (io/atomic_file.h): a browser refresh shows either
 * the previous or the new page, never a torn one. */
#ifndef NS_REPORT_REPORT_H
#define NS_REPORT_REPORT_H

#include <stdio.h>

#include <noisystudent/status.h>

#include "report/html.h"

#define NS_REPORT_FILE "report.html"

/* Renders the report of the run in `dir` (a train run directory, or a
 * selftrain one holding selftrain.json) into *out (zeroed first; the caller
 * frees it). NS_ERR_NOT_FOUND when dir is not a directory or holds neither
 * config.json, metrics.jsonl nor selftrain.json; NS_ERR_FORMAT naming a file
 * that exists but cannot be read. */
ns_status ns_report_render(const char *dir, ns_html *out);

/* ns_report_render, then writes <dir>/report.html atomically. When `path_out`
 * is not NULL it receives the file's path (len bytes). */
ns_status ns_report_write(const char *dir, char *path_out, size_t len);

/* The trainer's per-epoch call: rewrites <stage_dir>/report.html and, when
 * the stage belongs to a selftrain run (selftrain.json one or two levels up),
 * that run's report too. A report is a view, never a reason to stop a
 * training run: failures print one line on `out` (when not NULL) and are
 * otherwise ignored. */
void ns_report_refresh(const char *stage_dir, FILE *out);

#endif
