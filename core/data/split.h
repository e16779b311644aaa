/* Labeled / unlabeled / validation splits, stratified by class and
 * deterministic for a seed (Philox, rng.h).
 *
 * The unlabeled pool ("rest") keeps dataset indices, so the labels of its
 * images remain reachable in the dataset. Code that TRAINS on the pool must
 * never read them: the pool's labels exist only to report the accuracy of
 * pseudo-labels after the fact.
 */
#ifndef NS_DATA_SPLIT_H
#define NS_DATA_SPLIT_H

#include "data/dataset.h"
#include "data/index_list.h"

/* Picks exactly per_class images of each class 0..num_classes-1 for
 * `labeled` (each class shuffled with Philox stream (SPLIT, class, 0) under
 * seed); every other image, unknown labels included, goes to `rest`. Both lists
 * come out sorted by dataset index and are owned by the caller
 * (ns_index_list_free).
 * Errors: NS_ERR_INVALID_ARG for per_class < 1, NS_ERR_FORMAT naming the
 * class and its count when a class has fewer than per_class images. On error
 * both lists are empty. */
ns_status ns_split_per_class(const ns_dataset *d, int per_class, uint64_t seed, ns_index_list *labeled,
                             ns_index_list *rest);

/* Stratified validation split of the images listed in `in`: per class, either
 * round(fraction * count) images (fraction in (0,1), per_class = 0) or exactly
 * per_class images (fraction = 0) go to `val`, chosen by Philox stream
 * (HOLDOUT, class, 0); the others go to `train`. Both outputs keep the order of
 * `in` and are owned by the caller.
 * Errors: NS_ERR_INVALID_ARG when both or neither of fraction/per_class are
 * set, an index is out of range, or an image in `in` has an unknown label;
 * NS_ERR_FORMAT naming the class when it has fewer than per_class images. */
ns_status ns_split_holdout(const ns_index_list *in, const ns_dataset *d, double fraction, int per_class,
                           uint64_t seed, ns_index_list *train, ns_index_list *val);

#endif
