# NS_ABI_MAJOR / NS_ABI_MINOR read from include/noisystudent/plugin.h, the one
# place the ABI version is defined, so that noisystudent.pc cannot drift from
# it (it said 1.0 long after the header said 1.1). Configure fails if the
# header's #defines change shape rather than guessing.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../include/noisystudent/plugin.h" _ns_abi_lines
     REGEX "^#define NS_ABI_(MAJOR|MINOR) [0-9]+u?$")
foreach(_part MAJOR MINOR)
  set(NS_ABI_${_part} "")
  foreach(_line ${_ns_abi_lines})
    if(_line MATCHES "^#define NS_ABI_${_part} ([0-9]+)u?$")
      set(NS_ABI_${_part} "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(NS_ABI_${_part} STREQUAL "")
    message(FATAL_ERROR "cannot read '#define NS_ABI_${_part} <number>u' from include/noisystudent/plugin.h")
  endif()
endforeach()
set(NS_ABI_VERSION_STRING "${NS_ABI_MAJOR}.${NS_ABI_MINOR}")
