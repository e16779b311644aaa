/* noisystudent plugins: every plugin found, its kind, version, and whether it
 * can run here (its probe's own words). */
#include <stdio.h>
#include <stdlib.h>

#include "cli_options.h"
#include "commands.h"
#include "plugin/loader.h"

int ns_cmd_plugins(int argc, char **argv)
{
    int verbose = 0, help = 0;
    const ns_opt opts[] = {
        {"paths", NS_OPT_FLAG, &verbose, NULL, "also print each plugin's file", NULL, 0, -1},
    };
    ns_status st = ns_cli_parse("plugins", argc, argv, 1, opts, 1, NULL, 0, NULL, &help);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (help) {
        ns_cli_print_help("plugins", "[--paths]",
                          "Lists every plugin in the search path (--plugin-dir, $NS_PLUGIN_PATH,\n"
                          "<exe>/../lib/noisystudent/plugins, the build tree) with its kind, version\n"
                          "and whether its probe says it can run on this machine, or why not.",
                          opts, 1);
        return 0;
    }
    ns_plugin_info *list;
    size_t n;
    st = ns_plugin_scan(&list, &n);
    if (st != NS_OK)
        return ns_cli_fail(st);
    if (n == 0)
        printf("no plugins found (set --plugin-dir or NS_PLUGIN_PATH)\n");
    else
        printf("%-10s %-12s %-8s %-7s %s\n", "KIND", "NAME", "VERSION", "STATUS", "DETAIL");
    for (size_t i = 0; i < n; i++) {
        const ns_plugin_info *p = &list[i];
        printf("%-10s %-12s %-8s %-7s %s\n", p->kind, p->name, p->version,
               p->usable ? "usable" : p->loadable ? "no" : "broken", p->detail[0] ? p->detail : p->description);
        if (verbose)
            printf("%-10s %s\n", "", p->file);
    }
    free(list);
    return 0;
}
