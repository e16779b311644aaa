#include "report/stage_table.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "io/run_dir.h"

double ns_stage_train_seconds(const char *run_dir)
{
    json_t *all;
    if (ns_metrics_read(run_dir, &all) != NS_OK)
        return NAN;
    double s = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        json_t *v = json_object_get(rec, "seconds");
        if (json_is_number(v))
            s += json_number_value(v);
    }
    json_decref(all);
    return s;
}

static void duration(char *buf, size_t len, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, len, "-");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void ns_print_stage_table(FILE *out, const ns_stage_row *rows, int n, const char *run_dir)
{
    if (!out || n < 1)
        return;
    int mw = 5;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].model) > mw)
            mw = (int)strlen(rows[i].model);
    fprintf(out, "\n%-10s  %-*s  %8s  %10s  %13s  %10s\n", "stage", mw, "model", "test acc", "vs teacher",
            "pseudo right", "train time");
    for (int i = 0; i < n; i++) {
        const ns_stage_row *r = rows + i;
        char acc[16], gain[16] = "", pl[16] = "", t[24];
        snprintf(acc, sizeof acc, "%.2f%%", 100 * r->test_acc);
        if (i > 0)
            snprintf(gain, sizeof gain, "%+.2f", 100 * (r->test_acc - rows[0].test_acc));
        if (isfinite(r->pseudo_acc))
            snprintf(pl, sizeof pl, "%.2f%%", 100 * r->pseudo_acc);
        else if (i > 0)
            snprintf(pl, sizeof pl, "-");
        duration(t, sizeof t, r->seconds);
        fprintf(out, "%-10s  %-*s  %8s  %10s  %13s  %10s\n", r->name, mw, r->model, acc, gain, pl, t);
    }
    char html[1200];
    struct stat st;
    snprintf(html, sizeof html, "%s/report.html", run_dir);
    fprintf(out, "report: %s/%s   TensorBoard: tensorboard --logdir %s\n", run_dir,
            stat(html, &st) == 0 ? "report.html" : "report.md", run_dir);
    fflush(out);
}
