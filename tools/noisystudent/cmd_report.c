/* noisystudent report RUN_DIR: (re)builds RUN_DIR/report.html from what the
 * run left (report/report.h), for a finished run, a running one, or one made
 * before the report existed. */
#include <stdio.h>

#include "cli_options.h"
#include "commands.h"
#include "report/report.h"
#include "util/error.h"

int ns_cmd_report(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0, help = 0;
    ns_status st = ns_cli_parse("report", argc, argv, 1, NULL, 0, pos, 2, &n_pos, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("report", "RUN_DIR",
                          "Writes RUN_DIR/report.html: learning curves, the teacher -> student summary,\n"
                          "per-class accuracy and confusion matrices, the pseudo-label table, confidence\n"
                          "histogram and image grids, and the students' noise, as one self-contained page\n"
                          "(no network needed to view it). Works on train and selftrain run directories,\n"
                          "finished or not; training rewrites it after every epoch.",
                          NULL, 0);
        return 0;
    }
    if (n_pos != 1) {
        ns_set_error("report: expected one RUN_DIR (a train or selftrain run directory), got %d arguments", n_pos);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    char path[1200];
    st = ns_report_write(pos[0], path, sizeof path);
    if (st == NS_OK)
        printf("%s\n", path);
    return ns_cli_fail(st);
}
