#include "ns_test_ref.h"

#include <stdio.h>

#include "util/error.h"

int ns_test_require_ref(ns_backend **out)
{
    *out = NULL;
    if (ns_backend_open("ref", NULL, out) == NS_OK)
        return 0;
    /* stdout, next to cmocka's own report of the failed group setup */
    printf("the ref backend is built with every tree, so this suite must run, but it "
           "did not open: %s\n",
           ns_last_error());
    fflush(stdout);
    *out = NULL;
    return -1;
}
