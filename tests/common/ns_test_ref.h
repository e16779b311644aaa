/* The reference backend for suites that need one. ref has no dependencies and
 * is built with every tree, so a suite that uses it can always run: when it
 * does not open (a broken build, NS_PLUGIN_PATH pointing elsewhere) that is a
 * failure, never a skip. */
#ifndef NS_TEST_REF_H
#define NS_TEST_REF_H

#include "plugin/backend_loader.h"

/* Opens ref into *out. On failure prints one line with the loader's error
 * and returns -1 (a cmocka group setup that returns it fails the suite);
 * 0 on success. The caller closes *out with ns_backend_close. */
int ns_test_require_ref(ns_backend **out);

#endif
