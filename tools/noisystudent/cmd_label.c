/* noisystudent label: the teacher (no noise, eval mode) labels an unlabeled
 * source; the pseudo-labels go to a .nspl file (selftrain/label_file.h), and a
 * per-class table at the filter threshold is printed for information. */
#include <stdio.h>
#include <string.h>

#include "backend_options.h"
#include "cli_options.h"
#include "dist/dist.h"
#include "selftrain/filter_balance.h"
#include "selftrain/label_file.h"
#include "selftrain/labeler.h"
#include "util/error.h"

#include "commands.h"

static void print_summary(const ns_label_set *s, const char *out, size_t skipped, float threshold)
{
    printf("labeled %zu images of %s (%d classes) -> %s\n", s->count, s->source, s->classes, out);
    printf("skipped %zu unreadable files\n", skipped);
    if (s->tta != NS_TTA_NONE) /* no line without TTA: the output stays what it was */
        printf("test-time augmentation %s: the mean of %d views' probabilities\n", ns_tta_name(s->tta),
               ns_tta_views(s->tta));
    ns_filter_config fc = ns_filter_config_default();
    fc.threshold = threshold;
    ns_class_table t;
    if (ns_filter_balance(s, &fc, NULL, &t) == NS_OK) {
        printf("\n");
        ns_class_table_print(stdout, &t);
        ns_class_table_free(&t);
    } else {
        printf("%s\n", ns_last_error());
    }
}

int ns_cmd_label(int argc, char **argv)
{
    ns_cli_backend bk = ns_cli_backend_default();
    const char *model_path = NULL, *src = NULL, *out = NULL, *tta_spec = "none";
    int batch = 256, help = 0;
    float threshold = 0.3f;
    const ns_opt opts[] = {
        {"model", NS_OPT_STRING, &model_path, "PATH", "teacher checkpoint (model.safetensors)", NULL, 0, -1},
        {"unlabeled", NS_OPT_STRING, &src, "SRC",
         "images to label: pool (the checkpoint's withheld split), a dataset spec (fashion-mnist, "
         "cifar10:DIR, idx:IMAGES[,LABELS], DIR) or folder:DIR (PNG/JPEG files)", NULL, 0, -1},
        {"out", NS_OPT_STRING, &out, "PATH", "pseudo-label file to write (.nspl)", NULL, 0, -1},
        {"batch", NS_OPT_INT, &batch, "N", "images per forward pass (default 256)", NULL, 1, 65536},
        {"tta", NS_OPT_STRING, &tta_spec, "SPEC",
         "test-time augmentation: none (default), flip (each image's probabilities are the mean of the softmax "
         "of the image and of its left-right mirror) or flip+crops (and of the image shifted 2 pixels right, "
         "left, down and up, zeros shifted in); recorded in the label file", NULL, 0, -1},
        {"threshold", NS_OPT_FLOAT, &threshold, "P",
         "confidence threshold of the printed per-class table (default 0.3; informational)", NULL, 0, 1},
        NS_CLI_BACKEND_OPTS(bk),
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    ns_status st = ns_cli_parse("label", argc, argv, 1, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("label", "--model PATH --unlabeled SRC --out PATH [options]",
                          "The teacher labels unlabeled images in evaluation mode (no noise) and writes every\n"
                          "image's source id, probabilities, top class and confidence to a label file, which\n"
                          "also records the SHA-256 of the --model file that labeled it (and the --tta used).",
                          opts, n_opts);
        return 0;
    }
    const char *missing = !model_path ? "--model PATH" : !src ? "--unlabeled SRC" : !out ? "--out PATH" : NULL;
    if (missing) {
        ns_set_error("label: %s is required", missing);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    ns_tta tta;
    st = ns_tta_parse(tta_spec, "label --tta", &tta);
    if (st != NS_OK)
        return ns_cli_fail(st);
    ns_backend *be = NULL;
    ns_label_set labels;
    memset(&labels, 0, sizeof labels);
    size_t skipped = 0;
    st = ns_cli_backend_open(&bk, &be);
    if (st == NS_OK)
        st = ns_label_checkpoint(model_path, be, src, batch, tta, &labels, &skipped);
    /* Under mpirun every rank labeled its shard; rank 0 holds them all. */
    if (st == NS_OK && ns_dist_is_root())
        st = ns_label_file_write(out, &labels);
    if (st == NS_OK && ns_dist_is_root())
        print_summary(&labels, out, skipped, threshold);
    ns_label_set_free(&labels);
    ns_backend_close(be);
    return ns_cli_fail(st);
}
