/* The subcommands of `noisystudent`. Each takes argv starting at its own name
 * and returns the process exit status: 0 ok, 1 error, 2 usage. */
#ifndef NS_CLI_COMMANDS_H
#define NS_CLI_COMMANDS_H

int ns_cmd_plugins(int argc, char **argv);
int ns_cmd_train(int argc, char **argv);
int ns_cmd_eval(int argc, char **argv);
int ns_cmd_label(int argc, char **argv);
int ns_cmd_selftrain(int argc, char **argv);
int ns_cmd_augment(int argc, char **argv);
int ns_cmd_bench(int argc, char **argv);
int ns_cmd_predict(int argc, char **argv);
int ns_cmd_export(int argc, char **argv);
int ns_cmd_report(int argc, char **argv);
int ns_cmd_pack(int argc, char **argv);

#endif
