/* The training loop end to end on the ref backend and a synthetic task:
 * it learns, it is deterministic, and a paused-and-resumed run ends with
 * exactly the weights of an uninterrupted one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "data/source.h"
#include "plugin/backend_loader.h"
#include "ns_test_ref.h"
#include "synthetic_data.h"
#include "tiny_train.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"
#include "util/error.h"

static char data_dir[1024];

static int setup(void **state)
{
    return ns_test_tiny_train_setup(state, "train_loop_data", 11, data_dir, sizeof data_dir);
}

static int teardown(void **state)
{
    return ns_test_tiny_train_teardown(state);
}

static ns_train_config tiny_config(const char *run_name)
{
    return ns_test_tiny_train_config(data_dir, run_name, 2);
}


static void test_learns_training_set(void **state)
{
    ns_backend *be = *state;
    ns_train_config c = tiny_config("run_learn");
    c.epochs = 15;
    ns_train_result res;
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    assert_int_equal(res.epochs_run, 15);

    ns_model *m;
    ns_ckpt_info info;
    assert_int_equal(ns_checkpoint_load_model(res.model_path, be, &m, &info), NS_OK);
    ns_dataset train;
    assert_int_equal(ns_dataset_open(data_dir, 1, &train), NS_OK);
    ns_confusion conf;
    assert_int_equal(ns_confusion_init(&conf, 4), NS_OK);
    ns_eval_config ec = {64, info.mean, info.std, NULL, NULL, 0, NS_TTA_NONE};
    assert_int_equal(ns_evaluate(m, &train, NULL, &ec, &conf), NS_OK);
    print_message("training accuracy %.4f, test %.4f\n", ns_confusion_accuracy(&conf), res.test_acc);
    assert_true(ns_confusion_accuracy(&conf) == 1.0);
    assert_true(res.test_acc > 0.95);
    ns_confusion_free(&conf);
    ns_dataset_free(&train);
    ns_model_destroy(m);
}

static void test_same_seed_is_bit_identical(void **state)
{
    ns_backend *be = *state;
    ns_train_config a = tiny_config("run_seed_a"), b = tiny_config("run_seed_b"), d = tiny_config("run_seed_d");
    a.epochs = b.epochs = d.epochs = 2;
    b.loader_threads = 1; /* batches do not depend on the loader's thread count */
    d.seed = 2;
    ns_train_result ra, rb, rd;
    assert_int_equal(ns_train(&a, be, 0, NULL, NULL, &ra), NS_OK);
    assert_int_equal(ns_train(&b, be, 0, NULL, NULL, &rb), NS_OK);
    assert_int_equal(ns_train(&d, be, 0, NULL, NULL, &rd), NS_OK);
    assert_true(ns_test_same_weights(ra.model_path, rb.model_path));
    assert_false(ns_test_same_weights(ra.model_path, rd.model_path)); /* the comparison can fail */
}

static void test_pause_and_resume_is_exact(void **state)
{
    ns_backend *be = *state;
    ns_train_config whole = tiny_config("run_whole"), split = tiny_config("run_split");
    /* Noise and a stateful schedule make the check meaningful. */
    whole.noise.dropout = split.noise.dropout = 0.3f;
    whole.noise.drop_path_pl = split.noise.drop_path_pl = 0.7f;
    whole.optimizer = split.optimizer = NS_OPT_ADAM;
    whole.opt = split.opt = ns_optimizer_config_default(NS_OPT_ADAM);
    whole.lr = split.lr = 0.003f;
    ns_train_result rw, rs;
    assert_int_equal(ns_train(&whole, be, 0, NULL, NULL, &rw), NS_OK);

    split.stop_after_epoch = 2;
    assert_int_equal(ns_train(&split, be, 0, NULL, NULL, &rs), NS_OK);
    assert_true(rs.paused);
    assert_int_equal(rs.epochs_run, 2);
    /* Starting over in the same directory is refused; resuming continues. */
    assert_int_equal(ns_train(&split, be, 0, NULL, NULL, &rs), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "--resume"));
    split.stop_after_epoch = 0;
    assert_int_equal(ns_train(&split, be, 1, NULL, NULL, &rs), NS_OK);
    assert_int_equal(rs.epochs_run, 4);
    assert_true(ns_test_same_weights(rw.model_path, rs.model_path));
    /* A finished run cannot be resumed again. */
    assert_int_equal(ns_train(&split, be, 1, NULL, NULL, &rs), NS_ERR_USAGE);
}

static void test_bad_config_refused(void **state)
{
    ns_backend *be = *state;
    ns_train_config c = tiny_config("run_bad");
    ns_train_result res;
    c.labels_per_class = 1000; /* the synthetic set has 32 per class */
    assert_int_not_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_OK);
    assert_true(strlen(ns_last_error()) > 0);
    c = tiny_config("run_bad2");
    snprintf(c.model, sizeof c.model, "resnet7");
    assert_int_equal(ns_train(&c, be, 0, NULL, NULL, &res), NS_ERR_USAGE);
    assert_non_null(strstr(ns_last_error(), "resnet7"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_training_set),
        cmocka_unit_test(test_same_seed_is_bit_identical),
        cmocka_unit_test(test_pause_and_resume_is_exact),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
