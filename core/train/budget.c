#include "train/budget.h"

#include <math.h>

int ns_budget_fit_epochs(const ns_budget_fit *f)
{
    const double per_epoch = (double)f->steps_per_epoch * f->step_s + f->eval_epoch_s;
    const double left = f->budget_s - f->elapsed_s - f->eval_final_s + (double)f->steps_done * f->step_s +
                        f->eval_epoch_s;
    if (!(per_epoch > 0) || !isfinite(left))
        return f->max_epochs < 1 ? 1 : f->max_epochs;
    double e = floor(left / per_epoch);
    if (e > f->max_epochs)
        e = f->max_epochs;
    return e < 1 ? 1 : (int)e;
}
