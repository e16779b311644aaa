#include "tiny_train.h"

#include <stdio.h>

#include "ns_test_ref.h"
#include "synthetic_data.h"

ns_train_config ns_test_tiny_train_config(const char *data_dir, const char *run_name, int loader_threads)
{
    ns_train_config c = ns_train_config_default();
    snprintf(c.data, sizeof c.data, "%s", data_dir);
    snprintf(c.model, sizeof c.model, "resnet8:width=4");
    c.epochs = 4;
    c.batch = 16;
    c.lr = 0.05f;
    c.pad_crop = 0;
    c.flip = 0;
    c.eval_every = 0;
    c.loader_threads = loader_threads;
    char dir[1024];
    ns_test_fresh_dir(run_name, dir, sizeof dir);
    snprintf(c.run_dir, sizeof c.run_dir, "%s", dir);
    return c;
}

int ns_test_tiny_train_setup(void **state, const char *name, unsigned data_seed, char *data_dir, size_t len)
{
    ns_backend *be = NULL;
    *state = NULL;
    if (ns_test_require_ref(&be) != 0)
        return -1;
    ns_test_fresh_dir(name, data_dir, len);
    if (ns_test_write_synthetic(data_dir, 32, 16, data_seed) != 0) {
        ns_backend_close(be);
        return -1;
    }
    *state = be;
    return 0;
}

int ns_test_tiny_train_teardown(void **state)
{
    ns_backend_close(*state);
    *state = NULL;
    return 0;
}
