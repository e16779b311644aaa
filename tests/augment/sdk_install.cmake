# Installs the build tree into a scratch prefix and builds
# examples/augment-plugin against that prefix alone (pkg-config), as a third
# party would. Run by ctest as the setup of the augment_sdk fixture:
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P sdk_install.cmake
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "sdk_install.cmake: -D${v}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(example_build "${WORK_DIR}/example-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f include/noisystudent/augment.h include/noisystudent/plugin.h include/noisystudent/rng.h)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the installed SDK lacks ${f}")
  endif()
endforeach()
file(GLOB pc_files "${prefix}/lib*/pkgconfig/noisystudent.pc" "${prefix}/lib/*/pkgconfig/noisystudent.pc")
list(LENGTH pc_files n_pc)
if(n_pc EQUAL 0)
  message(FATAL_ERROR "the install has no lib*/pkgconfig/noisystudent.pc")
endif()
list(GET pc_files 0 pc)
get_filename_component(pc_dir "${pc}" DIRECTORY)
# For test_augment_sdk, which checks the ABI it states against the headers.
configure_file("${pc}" "${WORK_DIR}/installed.pc" COPYONLY)

# Only the installed prefix is visible to the example: no path into this tree.
# --define-prefix: the .pc was configured for CMAKE_INSTALL_PREFIX and we
# installed elsewhere with --prefix; pkg-config then derives the prefix from
# where the .pc file lies (what anyone relocating an install does).
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
set(ENV{PKG_CONFIG_LIBDIR} "${pc_dir}")
run("configuring examples/augment-plugin" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/augment-plugin"
    -B "${example_build}" -DCMAKE_BUILD_TYPE=Release -DPKG_CONFIG_ARGN=--define-prefix)
run("building examples/augment-plugin" ${CMAKE_COMMAND} --build "${example_build}")
if(NOT EXISTS "${example_build}/ns_augment_noise.so")
  message(FATAL_ERROR "the example did not produce ${example_build}/ns_augment_noise.so")
endif()
message(STATUS "built ${example_build}/ns_augment_noise.so against ${prefix}")
