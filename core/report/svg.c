#include "report/svg.h"

#include <math.h>
#include <stdio.h>

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

int ns_line_chart_points(const ns_line_chart *c)
{
    int n = 0;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++)
            n += isfinite(c->series[s].y[i]) && isfinite(c->series[s].x[i]);
    return n;
}

/* A tick step of 1, 2 or 5 times a power of ten giving about 5 ticks. */
static double nice_step(double span)
{
    if (!(span > 0))
        return 1;
    double raw = span / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(char *buf, size_t len, double v, int percent)
{
    if (percent)
        snprintf(buf, len, "%g%%", round(v * 1000) / 10);
    else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5))
        snprintf(buf, len, "%.1e", v);
    else
        snprintf(buf, len, "%g", round(v * 1e6) / 1e6);
}

void ns_svg_line_chart(ns_html *h, const ns_line_chart *c)
{
    const double W = 420, H = 240, L = 56, R = 12, T = 12, B = 34;
    const int points = ns_line_chart_points(c);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!isfinite(x) || !isfinite(y))
                continue;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    if (isfinite(c->ref) && points)
        y0 = fmin(y0, c->ref), y1 = fmax(y1, c->ref);
    ns_html_raw(h, "<figure class=\"chart\"><figcaption>");
    ns_html_text(h, c->title);
    ns_html_raw(h, "</figcaption><svg id=\"");
    ns_html_text(h, c->id);
    ns_html_raw(h, "\" data-chart=\"");
    ns_html_text(h, c->id);
    ns_html_printf(h, "\" data-points=\"%d\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" role=\"img\">", points,
                   W, H, W, H);
    if (!points) {
        ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"empty\">no data yet</text></svg></figure>\n", W / 2,
                       H / 2);
        return;
    }
    if (x1 == x0)
        x0 -= 1, x1 += 1;
    if (y1 == y0)
        y0 -= fabs(y0) > 0 ? fabs(y0) * 0.1 : 1, y1 += fabs(y1) > 0 ? fabs(y1) * 0.1 : 1;
    const double pw = W - L - R, ph = H - T - B;
#define PX(x) (L + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (T + ph - ((y) - y0) / (y1 - y0) * ph)
    char buf[32];
    ns_html_printf(h, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" class=\"plot\"/>", L, T, pw, ph);
    double step = nice_step(y1 - y0);
    for (double t = ceil(y0 / step) * step; t <= y1 + step * 1e-9; t += step) {
        fmt_tick(buf, sizeof buf, t, c->percent);
        ns_html_printf(h, "<line x1=\"%g\" x2=\"%g\" y1=\"%.2f\" y2=\"%.2f\" class=\"grid\"/>"
                          "<text x=\"%g\" y=\"%.2f\" class=\"ytick\">%s</text>",
                       L, L + pw, PY(t), PY(t), L - 4, PY(t) + 4, buf);
    }
    double xs = nice_step(x1 - x0);
    if (xs < 1)
        xs = 1;
    for (double t = ceil(x0 / xs) * xs; t <= x1 + xs * 1e-9; t += xs) {
        fmt_tick(buf, sizeof buf, t, 0);
        ns_html_printf(h, "<text x=\"%.2f\" y=\"%g\" class=\"xtick\">%s</text>", PX(t), T + ph + 14, buf);
    }
    ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"xlabel\">", L + pw / 2, H - 4);
    ns_html_text(h, c->x_label ? c->x_label : "epoch");
    ns_html_raw(h, "</text>");
    if (isfinite(c->ref)) {
        ns_html_printf(h, "<line x1=\"%g\" x2=\"%g\" y1=\"%.2f\" y2=\"%.2f\" class=\"ref\" data-ref=\"%.6g\"><title>",
                       L, L + pw, PY(c->ref), PY(c->ref), c->ref);
        ns_html_text(h, c->ref_label);
        ns_html_raw(h, "</title></line>");
    }
    for (int s = 0; s < c->n_series; s++) {
        const ns_series *se = &c->series[s];
        const char *col = palette[s % (int)(sizeof palette / sizeof *palette)];
        ns_html_printf(h, "<g class=\"series\" data-name=\"");
        ns_html_text(h, se->name);
        ns_html_printf(h, "\" stroke=\"%s\" fill=\"%s\"><polyline fill=\"none\" points=\"", col, col);
        for (int i = 0; i < se->n; i++)
            if (isfinite(se->y[i]) && isfinite(se->x[i]))
                ns_html_printf(h, "%.2f,%.2f ", PX(se->x[i]), PY(se->y[i]));
        ns_html_raw(h, "\"/>");
        for (int i = 0; i < se->n; i++)
            if (isfinite(se->y[i]) && isfinite(se->x[i])) {
                ns_html_printf(h, "<circle class=\"pt\" cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\"><title>", PX(se->x[i]),
                               PY(se->y[i]));
                ns_html_text(h, se->name);
                fmt_tick(buf, sizeof buf, se->y[i], c->percent);
                ns_html_printf(h, " at %g: %s</title></circle>", se->x[i], buf);
            }
        ns_html_raw(h, "</g>");
    }
#undef PX
#undef PY
    ns_html_raw(h, "</svg><div class=\"legend\">");
    for (int s = 0; s < c->n_series; s++) {
        ns_html_printf(h, "<span><i style=\"background:%s\"></i>", palette[s % (int)(sizeof palette / sizeof *palette)]);
        ns_html_text(h, c->series[s].name);
        ns_html_raw(h, "</span>");
    }
    if (isfinite(c->ref)) {
        ns_html_raw(h, "<span><i class=\"refkey\"></i>");
        ns_html_text(h, c->ref_label);
        ns_html_raw(h, "</span>");
    }
    ns_html_raw(h, "</div></figure>\n");
}

void ns_svg_bars(ns_html *h, const char *id, const ns_class_names *names, const double *v, int n)
{
    const double row = 18, L = 150, BW = 240, W = L + BW + 60;
    int bars = 0;
    for (int k = 0; k < n; k++)
        bars += isfinite(v[k]);
    ns_html_raw(h, "<svg id=\"");
    ns_html_text(h, id);
    ns_html_raw(h, "\" data-chart=\"");
    ns_html_text(h, id);
    ns_html_printf(h, "\" data-bars=\"%d\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" role=\"img\">", bars, W,
                   row * n + 4, W, row * n + 4);
    char buf[16];
    for (int k = 0; k < n; k++) {
        double y = 2 + row * k;
        ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"blabel\">", L - 6, y + 13);
        ns_html_text(h, ns_class_name(names, k, buf));
        ns_html_raw(h, "</text>");
        if (isfinite(v[k])) {
            double f = v[k] < 0 ? 0 : v[k] > 1 ? 1 : v[k];
            ns_html_printf(h, "<rect class=\"bar\" x=\"%g\" y=\"%g\" width=\"%.2f\" height=\"%g\"><title>", L, y + 2,
                           BW * f, row - 4);
            ns_html_text(h, ns_class_name(names, k, buf));
            ns_html_printf(h, ": %.2f%%</title></rect><text x=\"%.2f\" y=\"%g\" class=\"bval\">%.1f%%</text>",
                           100 * v[k], L + BW * f + 4, y + 13, 100 * v[k]);
        } else {
            ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"bval\">-</text>", L + 4, y + 13);
        }
    }
    ns_html_raw(h, "</svg>\n");
}

void ns_svg_heatmap(ns_html *h, const char *id, const ns_class_names *names, const uint64_t *counts, int k)
{
    const int labels = k <= 40;
    const double cell = k <= 10 ? 28 : k <= 40 ? 16 : 600.0 / k, L = labels ? 130 : 10, T = 10;
    const double W = L + cell * k + 10, H = T + cell * k + (labels ? 24 : 10);
    ns_html_raw(h, "<svg id=\"");
    ns_html_text(h, id);
    ns_html_raw(h, "\" data-chart=\"");
    ns_html_text(h, id);
    ns_html_printf(h, "\" data-cells=\"%d\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" role=\"img\">", k * k, W,
                   H, W, H);
    char bt[16], bp[16];
    for (int t = 0; t < k; t++) {
        uint64_t row = 0;
        for (int p = 0; p < k; p++)
            row += counts[(size_t)t * k + p];
        if (labels) {
            ns_html_printf(h, "<text x=\"%g\" y=\"%.2f\" class=\"blabel\">", L - 4, T + cell * t + cell / 2 + 4);
            ns_html_text(h, ns_class_name(names, t, bt));
            if (names && names->n) /* the column numbers refer to it */
                ns_html_printf(h, " %d", t);
            ns_html_raw(h, "</text>");
        }
        for (int p = 0; p < k; p++) {
            uint64_t n = counts[(size_t)t * k + p];
            double f = row ? (double)n / (double)row : 0;
            /* white to dark blue on the diagonal, white to red off it */
            int r = t == p ? (int)(255 - 225 * f) : 255, g = (int)(255 - 215 * f), b = t == p ? 255 - (int)(90 * f) : (int)(255 - 215 * f);
            ns_html_printf(h, "<rect class=\"cell\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                              "fill=\"rgb(%d,%d,%d)\"><title>true ",
                           L + cell * p, T + cell * t, cell, cell, r, g, b);
            ns_html_text(h, ns_class_name(names, t, bt));
            ns_html_raw(h, ", predicted ");
            ns_html_text(h, ns_class_name(names, p, bp));
            ns_html_printf(h, ": %llu (%.1f%%)</title></rect>", (unsigned long long)n, 100 * f);
            if (k <= 12 && n)
                ns_html_printf(h, "<text x=\"%.2f\" y=\"%.2f\" class=\"cnum%s\">%llu</text>", L + cell * p + cell / 2,
                               T + cell * t + cell / 2 + 4, f > 0.5 ? " inv" : "", (unsigned long long)n);
        }
    }
    if (labels)
        for (int p = 0; p < k; p++)
            ns_html_printf(h, "<text x=\"%.2f\" y=\"%g\" class=\"xtick\">%d</text>", L + cell * p + cell / 2,
                           T + cell * k + 14, p);
    ns_html_raw(h, "</svg>\n");
}

void ns_svg_histogram(ns_html *h, const char *id, const uint64_t *correct, const uint64_t *wrong,
                      const uint64_t *unknown, int bins)
{
    const double W = 420, H = 200, L = 56, B = 30, T = 10, pw = W - L - 10, ph = H - T - B;
    uint64_t top = 1;
    for (int i = 0; i < bins; i++) {
        uint64_t s = correct[i] + wrong[i] + unknown[i];
        top = s > top ? s : top;
    }
    ns_html_raw(h, "<svg id=\"");
    ns_html_text(h, id);
    ns_html_raw(h, "\" data-chart=\"");
    ns_html_text(h, id);
    ns_html_printf(h, "\" data-bins=\"%d\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" role=\"img\">", bins, W, H,
                   W, H);
    ns_html_printf(h, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" class=\"plot\"/>", L, T, pw, ph);
    ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"ytick\">%llu</text><text x=\"%g\" y=\"%g\" class=\"ytick\">0</text>",
                   L - 4, T + 8, (unsigned long long)top, L - 4, T + ph);
    const double bw = pw / bins;
    for (int i = 0; i < bins; i++) {
        const uint64_t seg[3] = {correct[i], wrong[i], unknown[i]};
        static const char *const cls[3] = {"seg-correct", "seg-wrong", "seg-unknown"};
        double y = T + ph;
        for (int s = 0; s < 3; s++) {
            if (!seg[s])
                continue;
            double hh = ph * (double)seg[s] / (double)top;
            y -= hh;
            ns_html_printf(h, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"><title>"
                              "confidence %.2f-%.2f: %llu %s</title></rect>",
                           cls[s], L + bw * i + 0.5, y, bw - 1, hh, (double)i / bins, (double)(i + 1) / bins,
                           (unsigned long long)seg[s], cls[s] + 4);
        }
    }
    for (int i = 0; i <= 4; i++)
        ns_html_printf(h, "<text x=\"%.2f\" y=\"%g\" class=\"xtick\">%.2f</text>", L + pw * i / 4, T + ph + 14,
                       i / 4.0);
    ns_html_printf(h, "<text x=\"%g\" y=\"%g\" class=\"xlabel\">teacher confidence (top class probability)</text>",
                   L + pw / 2, H - 2);
    ns_html_raw(h, "</svg>\n");
}
