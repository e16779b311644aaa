#include "train/progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int terminal_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void ns_progress_begin(ns_progress *p, const char *label, size_t total)
{
    memset(p, 0, sizeof *p);
    p->enabled = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->start = ns_now();
    p->last_draw = -1;
    if (p->enabled)
        p->columns = terminal_columns();
}

/* "M:SS", or "H:MM:SS" from an hour on. */
static void format_duration(char *buf, size_t len, double s)
{
    long t = s > 0 && s < 1e8 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

char *ns_progress_format(char *buf, size_t len, const char *label, size_t done, size_t total, double elapsed,
                         double loss, int columns)
{
    if (done > total)
        done = total;
    double frac = total ? (double)done / (double)total : 1.0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char eta[40], dur[24], tail[160], counts[64], rate_s[32], loss_s[32] = "";
    if (done >= total) { /* finished: how long it took */
        format_duration(dur, sizeof dur, elapsed);
        snprintf(eta, sizeof eta, "took %s", dur);
    } else if (rate > 0) {
        format_duration(dur, sizeof dur, (double)(total - done) / rate);
        snprintf(eta, sizeof eta, "ETA %s", dur);
    } else {
        snprintf(eta, sizeof eta, "ETA -:--");
    }
    snprintf(counts, sizeof counts, "%zu/%zu", done, total);
    snprintf(rate_s, sizeof rate_s, "%.0f img/s", rate);
    if (loss >= 0)
        snprintf(loss_s, sizeof loss_s, "  loss %.4f", loss);
    snprintf(tail, sizeof tail, " %3d%%  %s  %s%s  %s", (int)(100.0 * frac), counts, rate_s, loss_s, eta);
    const int limit = (columns > 0 ? columns : 80) - 1; /* 0: width unknown */
    int head = (int)strlen(label);
    int bar = limit - head - 3 - (int)strlen(tail); /* " [" + "]" */
    if (bar > 30)
        bar = 30;
    if (bar < 8) { /* too narrow for a bar: the numbers alone, cut to fit */
        snprintf(buf, len, "%s%s", label, tail);
        if ((int)strlen(buf) > limit && limit >= 0 && (size_t)limit < len)
            buf[limit] = '\0';
        return buf;
    }
    char cells[32];
    int fill = (int)(frac * bar);
    for (int i = 0; i < bar; i++)
        cells[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    cells[bar] = '\0';
    snprintf(buf, len, "%s [%s]%s", label, cells, tail);
    return buf;
}

void ns_progress_update(ns_progress *p, size_t done, double loss)
{
    if (!p->enabled)
        return;
    double now = ns_now();
    if (done < p->total && p->last_draw >= 0 && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    char line[512];
    ns_progress_format(line, sizeof line, p->label, done, p->total, now - p->start, loss, p->columns);
    /* \r to the row's start, the line, then erase whatever a longer earlier line left. */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

void ns_progress_end(ns_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
