# ns_add_mpi_test(<name> TARGET <test executable target> NP <ranks> [BTL <btl list>] [TIMEOUT s])
# Registers <name> with ctest as `mpirun --oversubscribe -np <ranks> [--mca btl <list>] <target>`, with the
# environment Open MPI needs to run as root (CI containers do) and NS_TEST_RANKS=<ranks>, so the suite can
# tell a world of the size it was promised from one process. Without MPI in the build, or without mpirun,
# the target runs alone: it sees one rank and skips visibly (exit 77). --oversubscribe and --mca are
# Open MPI's flags (Debian's MPI).
include_guard(GLOBAL)
find_program(NS_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
# What every MPI test (and every mpirun a test starts) runs with: root allowed, and for the sanitizer
# build Open MPI's own leaks suppressed (its components stay loaded so the suppressions can name them).
set(NS_MPI_TEST_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_mca_base_component_disable_dlclose=1;LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/dist/lsan-mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0")

function(ns_add_mpi_test name)
  cmake_parse_arguments(T "" "TARGET;NP;BTL;TIMEOUT" "" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(_btl)
  if(T_BTL)
    set(_btl --mca btl ${T_BTL})
  endif()
  if(NS_MPI AND NS_MPIEXEC)
    add_test(NAME ${name} COMMAND ${NS_MPIEXEC} --oversubscribe -np ${T_NP} ${_btl} $<TARGET_FILE:${T_TARGET}>)
  else()
    add_test(NAME ${name} COMMAND $<TARGET_FILE:${T_TARGET}>)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE ${NS_TEST_SKIP_CODE}
    ENVIRONMENT "${NS_MPI_TEST_ENV};NS_TEST_RANKS=${T_NP};${NS_TEST_ENV}")
endfunction()
