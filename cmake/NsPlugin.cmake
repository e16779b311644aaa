# ns_add_plugin(<target> KIND <backend|augment|scheduler> NAME <name> SOURCES ...)
# Builds ns_<kind>_<name>.so as a MODULE against the public SDK only (a plugin
# never sees core headers), hidden visibility so that ns_plugin_entry is the
# one exported symbol, into the build tree's plugin folder, and installs it.
function(ns_add_plugin target)
  cmake_parse_arguments(P "" "KIND;NAME" "SOURCES" ${ARGN})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "ns_${P_KIND}_${P_NAME}"
    LIBRARY_OUTPUT_DIRECTORY "${NS_PLUGIN_BUILD_DIR}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE "${NS_SDK_INCLUDE_DIR}")
  target_link_libraries(${target} PRIVATE m)
  # Refuse undefined symbols at link time: a plugin that needs a symbol nobody
  # provides must fail here, not at dlopen on a user's machine.
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  install(TARGETS ${target} LIBRARY DESTINATION "${NS_PLUGIN_INSTALL_DIR}")
endfunction()
