/* noisystudent pack: decode, convert and resize a source once into
 * memory-mapped .nsds shards (data/pack.h, data/nsds.h); --check verifies
 * every checksum of existing shards, pixels included. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_options.h"
#include "data/nsds.h"
#include "data/pack.h"
#include "util/error.h"

#include "commands.h"

/* Ctrl-C / SIGTERM: stop between batches, so the temp file and the shards of
 * this run are removed rather than left behind. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static ns_status parse_shape(const char *s, int *c, int *h, int *w)
{
    char tail;
    if (sscanf(s, "%dx%dx%d%c", c, h, w, &tail) != 3 || *c < 1 || *c > 4 || *h < 1 || *w < 1)
        return ns_fail(NS_ERR_USAGE, "pack --input %s: expected CxHxW with C 1..4, e.g. 3x32x32", s);
    return NS_OK;
}

static int check_files(int n, const char **files)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        size_t count = 0;
        ns_status st = ns_nsds_check(files[i], &count);
        if (st == NS_OK)
            printf("%s: ok, %zu images, every checksum matches\n", files[i], count);
        else {
            fprintf(stderr, "noisystudent: %s\n", ns_last_error());
            bad = 1;
        }
    }
    return bad;
}

int ns_cmd_pack(int argc, char **argv)
{
    const char *out = NULL, *input = NULL, *split = "train";
    uint64_t shard_size = 0, shard_bytes = 0;
    int threads = 2, help = 0, check = 0, quiet = 0;
    float test_fraction = 0;
    uint64_t split_seed = 1;
    const ns_opt opts[] = {
        {"out", NS_OPT_STRING, &out, "PATH.nsds",
         "shard to write; with --shard-size/--shard-bytes the series PATH-00000.nsds, PATH-00001.nsds, ... "
         "(either way PATH.nsds is how commands name the dataset)", NULL, 0, -1},
        {"input", NS_OPT_STRING, &input, "CxHxW",
         "convert (gray <-> RGB) and resize every image to this shape (default: the source's; 3x32x32 for "
         "folders)", NULL, 0, -1},
        {"split", NS_OPT_STRING, &split, "train|test", "split of a dataset spec to pack (default train)", NULL, 0, -1},
        {"shard-size", NS_OPT_U64, &shard_size, "N", "images per shard (rounded up to whole 4 KiB pages)", NULL, 1,
         4294967295.0},
        {"shard-bytes", NS_OPT_U64, &shard_bytes, "B", "pixel bytes per shard at most", NULL, 1, 1e18},
        {"test-fraction", NS_OPT_FLOAT, &test_fraction, "F",
         "class-folder tree without test/ or val/: the held-out share, as train --test-fraction (default 0.2)", NULL,
         0, 1},
        {"split-seed", NS_OPT_U64, &split_seed, "S", "... and its seed, as train --split-seed (default 1)", NULL, 0, -1},
        {"threads", NS_OPT_INT, &threads, "T", "decode/convert threads (default 2)", NULL, 1, 64},
        {"check", NS_OPT_FLAG, &check, NULL,
         "verify the given .nsds files instead: every checksum, pixels included", NULL, 0, -1},
        {"quiet", NS_OPT_FLAG, &quiet, NULL, "no progress bar", NULL, 0, -1},
    };
    const size_t n_opts = sizeof opts / sizeof *opts;
    const char *pos[256];
    int npos = 0;
    ns_status st = ns_cli_parse("pack", argc, argv, 1, opts, n_opts, pos, 256, &npos, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("pack", "SRC --out PATH.nsds [options]   |   --check FILE.nsds...",
                          "Decodes, converts and resizes SRC once into packed, memory-mapped .nsds shards that every\n"
                          "command reads as a dataset (docs/nsds-format.md). SRC: a dataset spec (fashion-mnist,\n"
                          "cifar10:DIR, DIR, A.nsds, ...), a class-folder tree ROOT/<class>/*.png|jpg (its --split;\n"
                          "class names from the folders), idx:IMAGES[,LABELS] (streamed, 3- or 4-dim uint8 IDX) or\n"
                          "folder:DIR (a flat folder of unlabeled PNG/JPEG files). Image files are decoded in\n"
                          "parallel; unreadable ones are warned and counted. Each shard is written atomically; on\n"
                          "failure nothing of this run is left. A folder DIR holding train/ and test/ shard folders\n"
                          "is one dataset with both splits: pack each --split into DIR/train/X.nsds, DIR/test/X.nsds.",
                          opts, n_opts);
        return 0;
    }
    if (check) {
        if (npos < 1 || out) {
            ns_set_error("pack --check: expected one or more .nsds files and no --out");
            return ns_cli_fail(NS_ERR_USAGE);
        }
        return check_files(npos, pos);
    }
    if (npos != 1 || !out) {
        ns_set_error("pack: expected one SRC and --out PATH.nsds (see pack --help)");
        return ns_cli_fail(NS_ERR_USAGE);
    }
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0) {
        ns_set_error("pack --split %s: expected train or test", split);
        return ns_cli_fail(NS_ERR_USAGE);
    }
    ns_pack_options o = {pos[0], out, strcmp(split, "train") == 0, 0, 0, 0, (size_t)shard_size, shard_bytes,
                         threads, !quiet, test_fraction, split_seed, NULL};
    if (input && (st = parse_shape(input, &o.c, &o.h, &o.w)) != NS_OK)
        return ns_cli_fail(st);
    o.cancel = &interrupted;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ns_pack_result r;
    st = ns_pack(&o, &r);
    if (st != NS_OK)
        return ns_cli_fail(st);
    printf("packed %zu images of %s into %zu shard%s (%s), %.1f s, %.0f images/s\n", r.images, pos[0], r.shards,
           r.shards == 1 ? "" : "s", out, r.seconds, r.images / (r.seconds > 0 ? r.seconds : 1));
    printf("skipped %zu unreadable files\n", r.skipped);
    return 0;
}
