#include "train/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void ns_progress_begin(ns_progress *p, const char *label, size_t total)
{
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start = ns_now();
}

void ns_progress_update(ns_progress *p, size_t done, double loss)
{
    if (!p->enabled)
        return;
    double now = ns_now();
    if (done < p->total && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    double el = now - p->start;
    double rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (p->total - done) / rate : 0;
    const int width = 24;
    int fill = p->total ? (int)((double)done / p->total * width) : width;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %6.0f img/s", p->label, bar,
            p->total ? (int)(100.0 * done / p->total) : 100, rate);
    if (loss >= 0)
        fprintf(stderr, "  loss %.4f", loss);
    fprintf(stderr, "  ETA %d:%02d\033[K", (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

void ns_progress_end(ns_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
