/* Kind-specific checks of a descriptor's vtable, shared by loading and by the
 * listings (`plugins`, `augment list`), so that a plugin listed as usable is
 * one that loading would accept. Internal to the core. */
#ifndef NS_PLUGIN_VTABLE_CHECK_H
#define NS_PLUGIN_VTABLE_CHECK_H

#include <noisystudent/plugin.h>
#include <noisystudent/status.h>

/* desc has passed the loader's descriptor checks (known kind, non-NULL
 * vtable). Returns NS_OK, or NS_ERR_ABI with one line naming `file` and the
 * fault (struct_size too small, a required slot NULL, a malformed op table).
 * Reads only what the kind's header declares, never calls into the plugin. */
ns_status ns_plugin_check_vtable(const char *file, const ns_plugin *desc);

#endif
