/* A small declarative option parser shared by the subcommands.
 *
 * Each subcommand lists its options in a table; ns_cli_parse() fills the
 * targets, accepts "--name value" and "--name=value", and refuses unknown
 * options, missing values and malformed numbers with one line naming the flag
 * and what was expected (NS_ERR_USAGE: the CLI exits 2). */
#ifndef NS_CLI_OPTIONS_H
#define NS_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <noisystudent/status.h>

typedef enum ns_opt_type {
    NS_OPT_FLAG,   /* int, set to 1; no value */
    NS_OPT_INT,    /* int */
    NS_OPT_U64,    /* uint64_t */
    NS_OPT_FLOAT,  /* float */
    NS_OPT_STRING, /* const char *, points into argv */
    NS_OPT_PREFIX  /* name ends in '.': "--<name>KEY VALUE" for any KEY, appended
                      in order to an ns_cli_assignments (the caller checks KEY) */
} ns_opt_type;

#define NS_CLI_MAX_ASSIGN 64

/* What NS_OPT_PREFIX options collect: KEY (the text after the prefix) and
 * VALUE, in command-line order. */
typedef struct ns_cli_assignments {
    int n;
    struct {
        char key[64];
        const char *value; /* points into argv */
    } item[NS_CLI_MAX_ASSIGN];
} ns_cli_assignments;

typedef struct ns_opt {
    const char *name;   /* without the leading "--" */
    ns_opt_type type;
    void *target;
    const char *metavar; /* "N", "PATH", ... (NULL for flags) */
    const char *help;
    int *seen;          /* optional: set to 1 when given on the command line */
    double min, max;    /* numeric range, inclusive; ignored when min > max */
} ns_opt;

/* Parses argv[first..argc). Positional arguments are not accepted unless
 * `positional` is non-NULL: then up to max_positional are stored there. */
ns_status ns_cli_parse(const char *cmd, int argc, char **argv, int first, const ns_opt *opts,
                       size_t n_opts, const char **positional, int max_positional,
                       int *n_positional, int *help);

/* Prints "usage: noisystudent <cmd> <synopsis>", the description and the option table. */
void ns_cli_print_help(const char *cmd, const char *synopsis, const char *description,
                       const ns_opt *opts, size_t n_opts);

/* "runs/<what>-YYYYmmdd-HHMMSS" (UTC): where a run goes without --run-dir. */
void ns_cli_default_run_dir(const char *what, char *buf, size_t len);

/* Prints "noisystudent: <last error>" to stderr and returns the exit code for
 * `st` (2 for usage errors, 1 otherwise, 0 for NS_OK). */
int ns_cli_fail(ns_status st);

#endif
