/* The RandAugment policy: which ops an image gets, at what magnitude.
 *
 * One string configures it (the CLI's --augment):
 *   "none"                                   no augmentation
 *   "<op set>[:key=value,...]"               e.g. "randaugment:n=2,m=27", "seed:n=2,m=9"
 *   "<path>.so[:key=value,...]"              a third-party op set, e.g. "./my_ops.so:n=2,m=9"
 * Keys the policy reads (the rest go to the op set's create()):
 *   n=INT        ops per image, 0..64 (default 2); drawn with replacement
 *   m=NUM        magnitude on the RandAugment scale, 0..100 (default 9); not
 *                clamped to 10: m=27 is 2.7x the nominal range
 *   sample_m=0|1 1: each op's magnitude is drawn uniformly from [0, m) (default 0)
 *   p=NUM        probability that a chosen op is applied, 0..1 (default 1)
 *   ops=A+B+...  only these ops of the set (default: all)
 * Anything invalid is NS_ERR_USAGE naming the key or op and listing the valid ones.
 *
 * Determinism: every draw comes from the rng passed to apply (keyed per
 * (seed, epoch, image) by the loader), so an image's augmentation does not
 * depend on threads. For op k of n, the policy draws from rng: the op index
 * (ns_rng_below over the selected ops), then a uniform for p when p < 1, then a
 * uniform for the magnitude when sample_m=1; the op itself gets its own copy of
 * rng starting at element base + (k+1)*2^32 (base = rng->index on entry), so
 * how many numbers an op draws never shifts the policy's later choices. On
 * return rng->index = base + (n+1)*2^32.
 *
 * Thread-safety: a policy is read-only after open; apply may run on many
 * threads at once.
 */
#ifndef NS_AUGMENT_POLICY_H
#define NS_AUGMENT_POLICY_H

#include <stddef.h>

#include <noisystudent/augment.h>

#include "augment/opset.h"

typedef struct ns_augment_policy ns_augment_policy;

/* Parses `spec`, loads the op set through the plugin search path and creates
 * it. *out is owned by the caller (ns_augment_policy_close). */
ns_status ns_augment_policy_open(const char *spec, ns_augment_policy **out);
void ns_augment_policy_close(ns_augment_policy *p); /* NULL-safe */

/* Augments one image in place: the loader's augment callback (policy as user).
 * scratch: width*height*channels bytes. NS_ERR_INVALID_ARG for a malformed
 * image; an op's failure comes back with the set and op named. */
ns_status ns_augment_policy_apply(void *policy, ns_image *img, uint8_t *scratch, ns_rng *rng);

/* Canonical spec: "none", or "<set>:n=N,m=M,sample_m=S,p=P[,ops=...][,<set options>]".
 * Owned by the policy. */
const char *ns_augment_policy_describe(const ns_augment_policy *p);

/* The op set (NULL for "none") and the ops selected by ops= (all by default). */
const ns_augment_opset *ns_augment_policy_opset(const ns_augment_policy *p);
size_t ns_augment_policy_op_count(const ns_augment_policy *p);
/* Index into the op set of selected op i (i < op_count). */
size_t ns_augment_policy_op_index(const ns_augment_policy *p, size_t i);
float ns_augment_policy_magnitude(const ns_augment_policy *p);

#endif
