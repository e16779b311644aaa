/* The built-in learning-rate schedules, as ns_scheduler_api tables (the same
 * interface a scheduler plugin implements; see include/noisystudent/scheduler.h):
 *   constant
 *   step:every=E,gamma=G          lr * G^(epoch / E)        (defaults E=30, G=0.1)
 *   step:milestones=A-B-C,gamma=G lr * G^(number of milestones <= epoch)
 *   cosine:warmup=W,min=M         linear warm-up over W epochs (default 0), then
 *                                 cosine from lr to M (default 0) at the last step
 *   plateau:factor=F,patience=P,stop=S,min_delta=D,min_lr=L
 *                                 Keras' ReduceLROnPlateau on the validation metric:
 *                                 multiply by F (0.1) after P (3) epochs without an
 *                                 improvement larger than D (0); stop after S epochs
 *                                 without one (default 8; 0 = never), lr never below L. */
#ifndef NS_TRAIN_SCHEDULER_BUILTIN_H
#define NS_TRAIN_SCHEDULER_BUILTIN_H

#include <noisystudent/scheduler.h>

/* The table for `name`, or NULL when it is not a built-in. */
const ns_scheduler_api *ns_scheduler_builtin(const char *name);
/* "constant, step, cosine, plateau" */
const char *ns_scheduler_builtin_names(void);

#endif
