#include "tiny_train.h"

#include <stdio.h>

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
