/* noisystudent augment: the op sets found (and their ops), and a PNG preview
 * of what a policy does to real images.
 *   noisystudent augment list [--paths]
 *   noisystudent augment preview --data SPEC --augment SPEC --out PNG [--count N] [--seed S] ...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/opset.h"
#include "augment/policy.h"
#include "augment/preview.h"
#include "cli_options.h"
#include "commands.h"
#include "data/dataset.h"
#include "data/source.h"
#include "plugin/loader.h"
#include "util/error.h"

#include "commands.h"

#define MAX_MAGNITUDES 16

static int augment_list(int argc, char **argv)
{
    int paths = 0, help = 0;
    const ns_opt opts[] = {
        {"paths", NS_OPT_FLAG, &paths, NULL, "also print each op set's file", NULL, 0, -1},
    };
    ns_status st = ns_cli_parse("augment list", argc, argv, 2, opts, 1, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("augment list", "[--paths]",
                          "Lists every augmentation op set in the plugin search path and its ops,\n"
                          "with what magnitude means for each, and every ns_augment_*.so that cannot\n"
                          "be used with the reason. Use one with --augment NAME:n=2,m=9.",
                          opts, 1);
        return 0;
    }
    ns_plugin_info *list;
    size_t n;
    if ((st = ns_plugin_scan(&list, &n)) != NS_OK)
        return ns_cli_fail(st);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const ns_plugin_info *pi = &list[i];
        /* A plugin that cannot be opened is listed under the kind its file
         * name says (ns_augment_<name>.so): shown here, with why. */
        if (strcmp(pi->kind, "augment") != 0)
            continue;
        if (shown++)
            putchar('\n');
        ns_augment_opset *set = NULL;
        st = pi->usable ? ns_augment_opset_load(pi->file, &set) : NS_ERR_UNSUPPORTED;
        if (st != NS_OK) {
            printf("%s%s%s: cannot be used: %s\n", pi->name, pi->loadable ? " " : "", pi->loadable ? pi->version : "",
                   pi->usable ? ns_last_error() : pi->detail);
            if (paths)
                printf("  file: %s\n", pi->file);
            continue;
        }
        printf("%s %s: %s\n", ns_augment_opset_name(set), ns_augment_opset_version(set),
               ns_augment_opset_description(set));
        if (paths)
            printf("  file: %s\n", ns_augment_opset_file(set));
        for (size_t k = 0; k < ns_augment_opset_count(set); k++) {
            const ns_augment_op *op = ns_augment_opset_op(set, k);
            printf("  %-13s %s\n", op->name, op->description ? op->description : "");
        }
        ns_augment_opset_close(set);
    }
    if (!shown)
        printf("no augment op sets found (set --plugin-dir or NS_PLUGIN_PATH)\n");
    free(list);
    return 0;
}

/* "0,5,10" -> values; NS_ERR_USAGE naming the flag on anything else. */
static ns_status parse_magnitudes(const char *text, float *out, int *n)
{
    *n = 0;
    const char *at = text;
    while (*at) {
        char *end;
        errno = 0;
        double v = strtod(at, &end);
        if (end == at || errno || v < 0 || v > 100 || (*end && *end != ','))
            return ns_fail(NS_ERR_USAGE, "--magnitudes %s: expected comma-separated numbers in 0..100", text);
        if (*n == MAX_MAGNITUDES)
            return ns_fail(NS_ERR_USAGE, "--magnitudes %s: at most %d values", text, MAX_MAGNITUDES);
        out[(*n)++] = (float)v;
        at = *end ? end + 1 : end;
    }
    if (*n == 0)
        return ns_fail(NS_ERR_USAGE, "--magnitudes: expected at least one value");
    return NS_OK;
}

static int augment_preview(int argc, char **argv)
{
    const char *data = NULL, *augment = NULL, *out = NULL, *split = "test", *mags_text = "0,5,10,20,30";
    int count = 8, policy_rows = 2, scale = 2, help = 0;
    uint64_t seed = 0;
    const ns_opt opts[] = {
        {"data", NS_OPT_STRING, &data, "SPEC", "images to show: fashion-mnist, cifar10:DIR, idx:IMAGES, DIR", NULL, 0, -1},
        {"augment", NS_OPT_STRING, &augment, "SPEC", "op set and policy, e.g. randaugment:n=2,m=27", NULL, 0, -1},
        {"out", NS_OPT_STRING, &out, "PNG", "where to write the grid", NULL, 0, -1},
        {"count", NS_OPT_INT, &count, "N", "images per row (default 8)", NULL, 1, 64},
        {"seed", NS_OPT_U64, &seed, "S", "picks the images and the random draws (default 0)", NULL, 0, -1},
        {"magnitudes", NS_OPT_STRING, &mags_text, "LIST", "one row per op and magnitude (default 0,5,10,20,30)", NULL, 0, -1},
        {"policy-rows", NS_OPT_INT, &policy_rows, "N", "rows of the whole policy at the end (default 2)", NULL, 0, 64},
        {"scale", NS_OPT_INT, &scale, "K", "pixel scale factor (default 2)", NULL, 1, 16},
        {"split", NS_OPT_STRING, &split, "train|test", "which split of --data (default test)", NULL, 0, -1},
    };
    const size_t n_opts = sizeof opts / sizeof opts[0];
    ns_status st = ns_cli_parse("augment preview", argc, argv, 2, opts, n_opts, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("augment preview", "--data SPEC --augment SPEC --out PNG [options]",
                          "Writes a PNG grid: the originals, then each op of the policy alone at each\n"
                          "magnitude, then samples of the whole policy. The row legend is printed and\n"
                          "stored in the PNG's Description text.",
                          opts, n_opts);
        return 0;
    }
    if (!data || !augment || !out) {
        ns_set_error("augment preview: --data, --augment and --out are required (see --help)");
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0) {
        ns_set_error("--split %s: expected train or test", split);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    float mags[MAX_MAGNITUDES];
    int n_mags;
    if ((st = parse_magnitudes(mags_text, mags, &n_mags)) != NS_OK)
        return ns_cli_fail(st);
    ns_augment_policy *policy = NULL;
    if ((st = ns_augment_policy_open(augment, &policy)) != NS_OK)
        return ns_cli_fail(st);
    ns_dataset d = {0};
    uint8_t *picked = NULL;
    st = ns_dataset_open(data, strcmp(split, "train") == 0, &d);
    if (st == NS_OK && d.n == 0)
        st = ns_fail(NS_ERR_FORMAT, "--data %s: the %s split has no images", data, split);
    if (st == NS_OK) {
        if ((size_t)count > d.n)
            count = (int)d.n;
        size_t bytes = ns_dataset_image_bytes(&d);
        picked = malloc((size_t)count * bytes);
        if (!picked)
            st = ns_fail(NS_ERR_NOMEM, "augment preview: out of memory");
        /* evenly spread over the set, shifted by the seed */
        for (int i = 0; st == NS_OK && i < count; i++)
            memcpy(picked + (size_t)i * bytes, ns_dataset_image(&d, (seed + (size_t)i * d.n / (size_t)count) % d.n),
                   bytes);
    }
    if (st == NS_OK) {
        ns_augment_preview_config cfg = {
            .images = picked, .count = count, .width = d.w, .height = d.h, .channels = d.c,
            .magnitudes = mags, .n_magnitudes = n_mags, .policy_rows = policy_rows, .scale = scale, .seed = seed,
        };
        st = ns_augment_preview_write(policy, &cfg, out);
        if (st == NS_OK)
            printf("wrote %s: %d rows x %d images of %dx%dx%d from %s, policy %s\n"
                   "rows: originals; each of %zu ops at magnitudes %s; %d rows of the whole policy\n",
                   out, ns_augment_preview_rows(policy, &cfg), count, d.w, d.h, d.c, d.source,
                   ns_augment_policy_describe(policy), ns_augment_policy_op_count(policy), mags_text, policy_rows);
    }
    free(picked);
    ns_dataset_free(&d);
    ns_augment_policy_close(policy);
    return st == NS_OK ? 0 : ns_cli_fail(st);
}

int ns_cmd_augment(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub && strcmp(sub, "list") == 0)
        return augment_list(argc, argv);
    if (sub && strcmp(sub, "preview") == 0)
        return augment_preview(argc, argv);
    if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
        printf("usage: noisystudent augment list [--paths]\n"
               "       noisystudent augment preview --data SPEC --augment SPEC --out PNG [options]\n"
               "'noisystudent augment <list|preview> --help' describes the options.\n");
        return 0;
    }
    ns_set_error("augment: expected 'list' or 'preview'%s%s%s", sub ? ", got '" : "", sub ? sub : "",
                 sub ? "'" : "");
    return ns_cli_fail(NS_ERR_USAGE);
}
