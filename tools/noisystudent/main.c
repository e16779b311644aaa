/* noisystudent: Noisy Student self-training from the command line.
 * Dispatches to one subcommand; global options come before it. */
#include <stdio.h>
#include <string.h>

#include "cli_options.h"
#include "commands.h"
#include "dist/dist.h"
#include "plugin/loader.h"
#include "util/error.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"selftrain", ns_cmd_selftrain, "the Noisy Student loop: teacher, label, filter/balance, noised student, repeat"},
    {"train", ns_cmd_train, "train a classifier (a teacher, or a student with --pseudo)"},
    {"eval", ns_cmd_eval, "test accuracy, per-class accuracy and confusion matrix of a checkpoint"},
    {"label", ns_cmd_label, "pseudo-label unlabeled images with a teacher (eval mode, no noise) into a .nspl file"},
    {"predict", ns_cmd_predict, "top classes and probabilities of image files (table, csv or jsonl)"},
    {"export", ns_cmd_export, "write a checkpoint as an ONNX model (batchnorm folded, normalisation inside)"},
    {"augment", ns_cmd_augment, "list augmentation op sets, or preview a policy as a PNG grid"},
    {"report", ns_cmd_report, "(re)build RUN_DIR/report.html: curves, per-class results, pseudo-label pictures"},
    {"pack", ns_cmd_pack, "pack images into memory-mapped .nsds shards (bigger-than-RAM pools); --check verifies"},
    {"bench", ns_cmd_bench, "training and inference throughput of a model on a backend"},
    {"plugins", ns_cmd_plugins, "list the plugins found and whether each can run here"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: noisystudent [--plugin-dir DIR]... [-v] <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'noisystudent <command> --help' describes a command's options.\n"
               "global options:\n"
               "  --plugin-dir DIR  search DIR for plugins first (repeatable)\n"
               "  -v, --verbose     more diagnostics on stderr (repeat for debug)\n"
               "  --version         print the version\n");
}

int main(int argc, char **argv)
{
    /* Progress lines must reach a log file as they happen, not when a 4 KiB
     * buffer fills: `noisystudent selftrain ... > run.log` is how long runs
     * are watched. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int i = 1, verbosity = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("noisystudent %s (plugin ABI %u.%u)\n", NS_VERSION_STRING, NS_ABI_MAJOR, NS_ABI_MINOR);
            printf("MPI: %s\n", ns_dist_built_with_mpi() ? "built in (run under mpirun/srun for many processes)"
                                                         : "not built in (configure with -DNS_MPI=ON)");
            return 0;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbosity++;
        } else if (strcmp(a, "-vv") == 0) {
            verbosity += 2;
        } else if (strcmp(a, "--plugin-dir") == 0 || strncmp(a, "--plugin-dir=", 13) == 0) {
            const char *dir = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
            if (!dir) {
                ns_set_error("--plugin-dir: expected a directory after it");
                return ns_cli_fail(NS_ERR_USAGE);
            }
            ns_status st = ns_plugin_add_search_dir(dir);
            if (st != NS_OK)
                return ns_cli_fail(st);
        } else {
            ns_set_error("unknown global option '%s' (see noisystudent --help)", a);
            return ns_cli_fail(NS_ERR_USAGE);
        }
    }
    ns_set_verbosity(verbosity);
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
        if (strcmp(argv[i], commands[c].name) != 0)
            continue;
        ns_status dst = ns_dist_init(&argc, &argv);
        if (dst != NS_OK)
            return ns_cli_fail(dst);
        if (!ns_dist_is_root())
            ns_set_verbosity(-1); /* logs and warnings from rank 0 only; errors still print */
        int rc = commands[c].run(argc - i, argv + i);
        /* A rank that failed must not leave the others waiting in a collective:
         * its error line is printed; end the whole world now. */
        if (rc != 0 && ns_dist_size() > 1)
            ns_dist_abort(rc, "stopping every rank (this rank's error is the line above)");
        ns_dist_finalize();
        return rc;
    }
    ns_set_error("unknown command '%s' (see noisystudent --help)", argv[i]);
    return ns_cli_fail(NS_ERR_USAGE);
}
