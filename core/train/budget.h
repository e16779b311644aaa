/* Fitting a training run to a wall-time budget (train_config.h budget_s):
 * after its first steps the trainer knows what a step costs here, on this
 * backend and precision, with this model, batch and noise, and picks the
 * number of epochs that ends the run, evaluations included, within the
 * budget. Measured rather than predicted from FLOPs, because the same preset
 * runs 2.5x slower in fp32 on an AVX2-only CPU than in bf16 on AVX-512 (the
 * reason budgets exist), and loaders, noise and evaluation add their share. */
#ifndef NS_TRAIN_BUDGET_H
#define NS_TRAIN_BUDGET_H

typedef struct ns_budget_fit {
    double budget_s;     /* the whole run's wall time */
    double elapsed_s;    /* spent so far: setup and the steps taken */
    double step_s;       /* one training step, measured (warm steps excluded) */
    int steps_done;      /* steps of the first epoch taken so far */
    int steps_per_epoch;
    double eval_epoch_s; /* evaluation after each epoch but the last, on average (0: none) */
    double eval_final_s; /* the last epoch's evaluation (validation and test) */
    int max_epochs;      /* the configuration's epochs: an upper bound */
} ns_budget_fit;

/* The most epochs E, 1 <= E <= max_epochs, whose remaining steps and
 * evaluations fit in what is left of the budget:
 *   elapsed + (E * spe - done) * step + (E - 1) * eval_epoch + eval_final <= budget.
 * At least 1 even when nothing fits (the run must end with a model). */
int ns_budget_fit_epochs(const ns_budget_fit *f);

#endif
