/* noisystudent eval: accuracy, per-class accuracy and the confusion matrix of
 * a checkpoint on a dataset's test (or training) split; with --corruptions,
 * its accuracy under every corruption x severity of an op set instead
 * (eval_corruptions.h). */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "backend_options.h"
#include "cli_options.h"
#include "commands.h"
#include "data/source.h"
#include "dist/dist.h"
#include "eval_corruptions.h"
#include "train/checkpoint.h"
#include "train/eval_record.h"
#include "train/evaluate.h"
#include "train/train_config.h"
#include "util/error.h"

/* The dataset the checkpoint was trained on, from its embedded configuration. */
static void data_from_checkpoint(const ns_ckpt_info *info, char *buf, size_t len)
{
    snprintf(buf, len, "fashion-mnist");
    json_error_t err;
    json_t *j = json_loads(info->config, 0, &err);
    const char *d = j ? json_string_value(json_object_get(j, "data")) : NULL;
    if (d)
        snprintf(buf, len, "%s", d);
    json_decref(j);
}

static void print_report(const ns_confusion *c, const ns_class_names *names, const char *model, const char *data,
                         const char *split)
{
    printf("%s on %s (%s split): accuracy %.2f%% (%llu/%llu)\n", model, data, split,
           100 * ns_confusion_accuracy(c), (unsigned long long)c->correct, (unsigned long long)c->total);
    printf("\nper-class accuracy:\n");
    ns_eval_print_per_class(stdout, c, names);
    printf("\n");
    ns_eval_print_confusion(stdout, c, names, 20);
}

int ns_cmd_eval(int argc, char **argv)
{
    ns_cli_backend bk = ns_cli_backend_default();
    const char *model_path = NULL, *data = NULL, *split = "test", *confusion_out = NULL;
    const char *corruptions = NULL, *severities = NULL, *reference = NULL, *eval_json = NULL;
    int batch = 256, help = 0, limit = 0;
    const ns_opt opts[] = {
        {"model", NS_OPT_STRING, &model_path, "PATH", "checkpoint (model.safetensors or checkpoint.safetensors)",
         NULL, 0, -1},
        {"data", NS_OPT_STRING, &data, "SPEC", "dataset (default: the one the model was trained on)", NULL, 0, -1},
        {"split", NS_OPT_STRING, &split, "NAME", "test (default) or train", NULL, 0, -1},
        {"confusion-out", NS_OPT_STRING, &confusion_out, "FILE",
         "also write the confusion matrix as CSV (class names in the first row and column)", NULL, 0, -1},
        {"batch", NS_OPT_INT, &batch, "N", "images per forward pass (default 256)", NULL, 1, 65536},
        {"limit", NS_OPT_INT, &limit, "N", "only the first N images of the split (default 0: all)", NULL, 0,
         2147483647},
        {"corruptions", NS_OPT_STRING, &corruptions, "SPEC",
         "accuracy under corruptions instead: SET:all or SET:op,op,... (e.g. corrupt:all, corrupt:fog,jpeg; "
         "SET is a name or a .so path as in --augment)", NULL, 0, -1},
        {"severities", NS_OPT_STRING, &severities, "LIST",
         "with --corruptions: severities 1..5 as A-B, N or a comma list (default 1-5)", NULL, 0, -1},
        {"reference", NS_OPT_STRING, &reference, "MODEL",
         "with --corruptions: the model the corruption errors are relative to (e.g. the teacher): CE and mCE",
         NULL, 0, -1},
        {"eval-json", NS_OPT_STRING, &eval_json, "FILE",
         "with --corruptions: the JSON file whose \"corruptions\" key gets the table (default: eval.json next to "
         "the model; other keys kept; - : none)", NULL, 0, -1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("eval", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("eval", "--model PATH [options]",
                          "Evaluates a checkpoint without noise (batchnorm running statistics): accuracy,\n"
                          "per-class accuracy and the confusion matrix. With --corruptions corrupt:all:\n"
                          "accuracy per corruption and severity, each corrupted image the same on every\n"
                          "run (seeded by corruption, severity and image index), and with --reference\n"
                          "the mean corruption error mCE = mean over corruptions of sum_s err / sum_s\n"
                          "err(reference).", opts, n_opts);
        return 0;
    }
    if (!model_path) {
        ns_set_error("eval: --model PATH is required (a model.safetensors written by train)");
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (strcmp(split, "test") && strcmp(split, "train")) {
        ns_set_error("eval --split %s: expected test or train", split);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (!corruptions && (severities || reference || eval_json)) {
        ns_set_error("eval: --%s needs --corruptions SPEC", severities ? "severities" : reference ? "reference"
                                                                                                  : "eval-json");
        return ns_cli_fail(NS_ERR_USAGE);
    }
    /* The spec is checked (and the op set loaded) before any model is read,
     * so a misspelt corruption fails at once. */
    ns_corruptions corr;
    memset(&corr, 0, sizeof corr);
    if (corruptions && (st = ns_corruptions_open(corruptions, severities, &corr)) != NS_OK)
        return ns_cli_fail(st);
    ns_backend *be = NULL;
    ns_model *m = NULL, *rm = NULL;
    ns_ckpt_info rinfo;
    ns_index_list first = {0};
    ns_dataset d;
    memset(&d, 0, sizeof d);
    ns_confusion conf;
    memset(&conf, 0, sizeof conf);
    ns_ckpt_info info;
    char data_spec[512];
    st = ns_checkpoint_read_info(model_path, &info);
    if (st == NS_OK) {
        if (data)
            snprintf(data_spec, sizeof data_spec, "%s", data);
        else
            data_from_checkpoint(&info, data_spec, sizeof data_spec);
        ns_data_options o;
        ns_ckpt_data_options(&info, &o);
        st = ns_dataset_open_opts(data_spec, strcmp(split, "train") == 0, &o, &d);
    }
    if (st == NS_OK && d.num_classes > info.classes)
        st = ns_fail(NS_ERR_FORMAT, "%s has labels up to %d but the model %s has %d classes", data_spec,
                     d.num_classes - 1, model_path, info.classes);
    if (st == NS_OK)
        st = ns_cli_backend_open(&bk, &be);
    if (st == NS_OK)
        st = ns_checkpoint_load_model(model_path, be, &m, &info);
    const size_t n = limit > 0 && (size_t)limit < d.n ? (size_t)limit : d.n;
    if (st == NS_OK && corruptions) {
        if (reference)
            st = ns_checkpoint_load_model(reference, be, &rm, &rinfo);
        if (st == NS_OK && rm && d.num_classes > rinfo.classes)
            st = ns_fail(NS_ERR_FORMAT, "%s has labels up to %d but the reference %s has %d classes", data_spec,
                         d.num_classes - 1, reference, rinfo.classes);
        char json_path[4096];
        if (eval_json) {
            snprintf(json_path, sizeof json_path, "%s", eval_json);
        } else {
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", model_path);
            snprintf(json_path, sizeof json_path, "%s/eval.json", dirname(dir));
        }
        if (st == NS_OK) {
            ns_corruption_model mm = {m, model_path, info.mean, info.std};
            ns_corruption_model rr = {rm, reference, rm ? rinfo.mean : NULL, rm ? rinfo.std : NULL};
            st = ns_eval_corruptions(&mm, &rr, &d, n, data_spec, &corr, corruptions, batch, bk.threads,
                                     strcmp(json_path, "-") ? json_path : NULL);
        }
        ns_model_destroy(rm);
        ns_corruptions_close(&corr);
        ns_model_destroy(m);
        ns_backend_close(be);
        ns_dataset_free(&d);
        return ns_cli_fail(st);
    }
    if (st == NS_OK && n < d.n)
        st = ns_index_list_range(&first, n); /* --limit: the first n images */
    if (st == NS_OK)
        st = ns_confusion_init(&conf, info.classes);
    if (st == NS_OK) {
        ns_eval_config ec = {batch, info.mean, info.std, NULL, NULL, 1, NS_TTA_NONE};
        /* under mpirun: a share per rank */
        st = ns_evaluate_ranks(m, &d, n < d.n ? &first : NULL, &ec, &conf);
    }
    /* Under mpirun every rank holds the summed matrix; rank 0 alone prints and writes. */
    if (st == NS_OK && ns_dist_is_root())
        print_report(&conf, ns_model_class_names(m), model_path, data_spec, split);
    if (st == NS_OK && confusion_out && ns_dist_is_root()) {
        st = ns_eval_write_confusion_csv(confusion_out, &conf, ns_model_class_names(m));
        if (st == NS_OK)
            printf("confusion matrix written to %s\n", confusion_out);
    }
    ns_confusion_free(&conf);
    ns_index_list_free(&first);
    ns_corruptions_close(&corr);
    ns_model_destroy(m);
    ns_backend_close(be);
    ns_dataset_free(&d);
    return ns_cli_fail(st);
}
