/* noisystudent predict: the top classes of image files with a trained model.
 * Files are decoded and resized to the checkpoint's input, run in eval mode
 * in batches (core/predict), and printed as a table, CSV or JSON lines as
 * their batch completes. A file that does not decode is reported on stderr
 * (one line) and the rest are still predicted; the exit status is then 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_options.h"
#include "cli_options.h"
#include "commands.h"
#include "predict/predict.h"
#include "predict/predict_files.h"
#include "predict/predict_format.h"
#include "data/image_load.h"
#include "train/checkpoint.h"
#include "util/error.h"

typedef struct predict_run {
    ns_model *m;
    ns_ckpt_info info;
    ns_predict_config cfg;
    ns_predict_writer w;
    size_t failed;
} predict_run;

/* Decodes up to `batch` files from paths[*next..), predicts them and prints
 * them; undecodable files are reported and counted. */
static ns_status run_batch(predict_run *r, const ns_path_list *files, size_t *next, int batch, uint8_t *hwc,
                           float *probs, const char **names)
{
    const ns_ckpt_info *in = &r->info;
    const size_t img = (size_t)in->in_c * in->in_h * in->in_w;
    size_t n = 0;
    while (n < (size_t)batch && *next < files->n) {
        const char *path = files->path[(*next)++];
        ns_status st = ns_image_load(path, in->in_c, in->in_h, in->in_w, hwc + n * img);
        if (st == NS_ERR_NOMEM)
            return st;
        if (st != NS_OK) {
            ns_log(0, "%s", ns_last_error());
            r->failed++;
            continue;
        }
        names[n++] = path;
    }
    ns_status st = n ? ns_predict_images(r->m, &r->cfg, hwc, n, probs, NULL) : NS_OK;
    for (size_t i = 0; st == NS_OK && i < n; i++)
        ns_predict_writer_row(&r->w, names[i], probs + i * ns_model_classes(r->m));
    fflush(r->w.out);
    return st;
}

int ns_cmd_predict(int argc, char **argv)
{
    ns_cli_backend bk = ns_cli_backend_default();
    const char *model_path = NULL, *format_name = "table", *tta = NULL;
    int batch = 64, top = 5, help = 0, n_files = 0;
    const ns_opt opts[] = {
        {"model", NS_OPT_STRING, &model_path, "PATH", "checkpoint (model.safetensors or checkpoint.safetensors)",
         NULL, 0, -1},
        {"top", NS_OPT_INT, &top, "K", "classes printed per image, most probable first (default 5; at most "
                                       "the model's classes)", NULL, 1, 100000},
        {"format", NS_OPT_STRING, &format_name, "F", "table (default), csv or jsonl", NULL, 0, -1},
        {"batch", NS_OPT_INT, &batch, "N", "images per forward pass (default 64)", NULL, 1, 65536},
        {"tta", NS_OPT_STRING, &tta, "SPEC", "test-time augmentation: none (default), flip (the mean of the "
                                             "probabilities of each image and its left-right mirror) or flip+crops "
                                             "(and of 4 two-pixel shifts)", NULL, 0, -1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        ns_set_error("predict: out of memory");
        return ns_cli_fail(NS_ERR_NOMEM);
    }
    ns_status st = ns_cli_parse("predict", argc, argv, 1, opts, n_opts, files, argc, &n_files, &help);
    if (st != NS_OK) {
        free(files);
        return ns_cli_fail(st);
    }
    if (help) {
        free(files);
        ns_cli_print_help("predict", "--model PATH [options] FILE|DIR...",
                          "Prints the most probable classes of PNG/JPEG images with their probabilities.\n"
                          "A directory stands for its *.png, *.jpg and *.jpeg files (sorted, not recursive).\n"
                          "Images are converted and resized to the model's input and normalised with the\n"
                          "checkpoint's mean and std; the model runs in eval mode. Unreadable files get one\n"
                          "warning line each and the exit status 1; the others are still predicted.",
                          opts, n_opts);
        return 0;
    }
    ns_predict_format format = NS_PREDICT_TABLE;
    ns_tta tta_kind = NS_TTA_NONE;
    if (!model_path)
        st = ns_fail(NS_ERR_USAGE, "predict: --model PATH is required (a model.safetensors written by train)");
    else if (n_files == 0)
        st = ns_fail(NS_ERR_USAGE, "predict: expected image files or directories after the options");
    else if (tta && ns_tta_parse(tta, "predict --tta", &tta_kind) != NS_OK)
        st = NS_ERR_USAGE;
    else
        st = ns_predict_format_parse(format_name, &format);
    if (st != NS_OK) {
        free(files);
        return ns_cli_fail(st);
    }

    predict_run r;
    memset(&r, 0, sizeof r);
    ns_backend *be = NULL;
    ns_path_list list = {0};
    uint8_t *hwc = NULL;
    float *probs = NULL;
    const char **names = NULL;
    size_t bad = 0;
    st = ns_checkpoint_read_info(model_path, &r.info);
    if (st == NS_OK && r.info.in_c != 1 && r.info.in_c != 3)
        st = ns_fail(NS_ERR_UNSUPPORTED, "%s: the model takes %d-channel images; predict decodes files to 1 "
                     "(gray) or 3 (RGB) channels", model_path, r.info.in_c);
    if (st == NS_OK)
        st = ns_predict_expand(files, (size_t)n_files, &list, &bad);
    if (st == NS_OK)
        st = ns_cli_backend_open(&bk, &be);
    if (st == NS_OK)
        st = ns_checkpoint_load_model(model_path, be, &r.m, &r.info);
    if (st == NS_OK) {
        const size_t img = (size_t)r.info.in_c * r.info.in_h * r.info.in_w;
        hwc = malloc((size_t)batch * img);
        probs = malloc((size_t)batch * r.info.classes * sizeof *probs);
        names = malloc((size_t)batch * sizeof *names);
        if (!hwc || !probs || !names)
            st = ns_fail(NS_ERR_NOMEM, "predict: out of memory for a batch of %d", batch);
    }
    if (st == NS_OK) {
        r.failed = bad;
        r.cfg = (ns_predict_config){batch, r.info.mean, r.info.std, tta_kind};
        ns_predict_writer_begin(&r.w, stdout, format, top, r.info.classes, ns_model_class_names(r.m), list.path,
                                list.n);
        for (size_t next = 0; st == NS_OK && next < list.n;)
            st = run_batch(&r, &list, &next, batch, hwc, probs, names);
    }
    if (st == NS_OK && r.failed)
        st = ns_fail(NS_ERR_FORMAT, "predict: %zu of %zu inputs could not be read (warnings above)", r.failed,
                     list.n + bad);
    free(hwc);
    free(probs);
    free(names);
    free(files);
    ns_path_list_free(&list);
    ns_model_destroy(r.m);
    ns_backend_close(be);
    return ns_cli_fail(st);
}
