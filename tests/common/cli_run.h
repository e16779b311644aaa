/* Running the noisystudent command from a test the way a user does (through
 * /bin/sh, stdin from /dev/null) and reading what it printed.
 *
 * The command is NS_CLI_PATH, a compile definition of the test target that
 * lists cli_run.c among its sources. Output goes to two files in the folder
 * given to ns_cli_init and is read back whole (up to NS_CLI_TEXT_MAX - 1
 * bytes each) into ns_cli_out / ns_cli_err after every run, so a test can
 * both look at the text and keep the files for a failure message. */
#ifndef NS_TEST_CLI_RUN_H
#define NS_TEST_CLI_RUN_H

#define NS_CLI_TEXT_MAX 65536

extern char ns_cli_out[NS_CLI_TEXT_MAX], ns_cli_err[NS_CLI_TEXT_MAX];

/* The folder that receives out.txt and err.txt (must exist; the path is
 * copied). Call once, from the suite's setup. */
void ns_cli_init(const char *dir);

/* Runs `NS_CLI_PATH <args>` with printf-style args (quote paths in them).
 * Returns the exit status, or -1 when the command did not exit (a signal).
 * An exit status other than 0 (done) and 2 (usage) prints the command and
 * both texts, so a red test says what the command said. */
int ns_cli_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* stderr of the last run is exactly one line, it starts with
 * "noisystudent: " and contains `needle` (the project's one-line error
 * promise); fails the test otherwise, showing stderr. */
void ns_cli_assert_one_line_error(const char *needle);

#endif
