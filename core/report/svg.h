/* Inline SVG charts for the run report: line charts (learning curves), bars
 * (per-class accuracy), a heat map (confusion matrix) and a stacked histogram
 * (pseudo-label confidence). Pure functions of their numbers, so a test can
 * count what they draw: every chart is an <svg> with id and data-chart set to
 * the chart's id, and
 *   line chart  data-points="P": one <circle class="pt"> per finite point
 *   bars        data-bars="B": one <rect class="bar"> per finite value
 *   heat map    data-cells="K*K": one <rect class="cell"> per matrix cell
 *   histogram   data-bins="B": <rect class="seg-*"> per non-empty segment
 * Every label goes through ns_html_text. */
#ifndef NS_REPORT_SVG_H
#define NS_REPORT_SVG_H

#include <stdint.h>

#include "data/class_names.h"
#include "report/html.h"

typedef struct ns_series {
    const char *name;
    const double *x, *y; /* n points; non-finite y values are gaps (not drawn, not counted) */
    int n;
} ns_series;

typedef struct ns_line_chart {
    const char *id, *title, *x_label;
    const ns_series *series;
    int n_series;
    int percent;           /* 1: y is a fraction, labelled as % */
    double ref;            /* a horizontal reference line when finite */
    const char *ref_label; /* its legend text */
} ns_line_chart;

/* Finite points of a chart (what data-points says). */
int ns_line_chart_points(const ns_line_chart *c);
void ns_svg_line_chart(ns_html *h, const ns_line_chart *c);

/* Horizontal bars of values in 0..1 (NaN: no bar, "-"), one per class. */
void ns_svg_bars(ns_html *h, const char *id, const ns_class_names *names, const double *v, int n);

/* The confusion matrix [true][predicted] as a heat map, each row normalised
 * (the share of class t's images predicted as p), counts in the tooltips. */
void ns_svg_heatmap(ns_html *h, const char *id, const ns_class_names *names, const uint64_t *counts, int k);

/* A histogram of bins over [0, 1], three stacked segments per bin (correct,
 * wrong, unknown truth). */
void ns_svg_histogram(ns_html *h, const char *id, const uint64_t *correct, const uint64_t *wrong,
                      const uint64_t *unknown, int bins);

#endif
