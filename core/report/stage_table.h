/* The table selftrain prints at its end: teacher -> students, one row per
 * stage, aligned for a terminal (report.md keeps the Markdown version), then
 * where to look next: the HTML report when the run has one, else report.md,
 * and the TensorBoard command. */
#ifndef NS_REPORT_STAGE_TABLE_H
#define NS_REPORT_STAGE_TABLE_H

#include <stdio.h>

typedef struct ns_stage_row {
    char name[32];     /* "teacher", "student 1", ... */
    char model[160];
    double test_acc;   /* 0..1 */
    double pseudo_acc; /* of the pseudo-labels a student learned; NaN: unknown or teacher */
    double seconds;    /* training time (the sum of its epochs' seconds); NaN: unknown */
} ns_stage_row;

/* Sum of the "seconds" of a train run's metrics.jsonl records; NaN when unreadable. */
double ns_stage_train_seconds(const char *run_dir);

/* rows[0] is the teacher; the gain of every student is against it. */
void ns_print_stage_table(FILE *out, const ns_stage_row *rows, int n, const char *run_dir);

#endif
