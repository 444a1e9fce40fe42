# Issue 14, item 1: the plugin's libraries reach the jail without anything
# of the plugin's binary, or of what it names, running outside the jail.
# The fixtures below also serve the unit test test_elfdeps.

# A plugin whose ELF interpreter is a shell script that would leave a
# marker behind if anything ran it.
set(ELF_INTERP_SCRIPT ${HOSTILE_PLUGIN_DIR}/elf_interp.sh)
set(ELF_INTERP_MARKER /tmp/vmlaunch-hostile-elf-interp-ran)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/elf-src/elf_interp.sh
     "#!/bin/sh\n# The ELF interpreter of elf_script_interp: whatever runs this has run the plugin's code.\n"
     "touch ${ELF_INTERP_MARKER}\n")
file(COPY ${CMAKE_CURRENT_BINARY_DIR}/elf-src/elf_interp.sh DESTINATION ${HOSTILE_PLUGIN_DIR}
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
hostile_plugin(elf_script_interp SOURCES elf_script_interp.c)
target_link_options(hostile_elf_script_interp PRIVATE LINKER:--dynamic-linker=${ELF_INTERP_SCRIPT})

# A library in a directory nothing searches, one plugin that needs it with
# no RUNPATH, and one that finds it through $ORIGIN.
add_library(elf_orphan SHARED plugins/elf_orphan.c)
set_target_properties(elf_orphan PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${HOSTILE_PLUGIN_DIR}/elf-orphan)
hostile_plugin(elf_needs_orphan SOURCES elf_needs_orphan.c LIBS elf_orphan)
set_target_properties(hostile_elf_needs_orphan PROPERTIES SKIP_BUILD_RPATH TRUE)
hostile_plugin(elf_origin SOURCES elf_needs_orphan.c LIBS elf_orphan)
set_target_properties(hostile_elf_origin PROPERTIES BUILD_RPATH_USE_ORIGIN TRUE)

# Static: no sanitizers (their runtimes are shared libraries).
hostile_plugin(elf_static SOURCES elf_static.c)
set_target_properties(hostile_elf_static PROPERTIES COMPILE_OPTIONS "" LINK_OPTIONS "-static")

hostile_test(test_hostile_elf SOURCES test_hostile_elf.c)
target_compile_definitions(test_hostile_elf PRIVATE ELF_INTERP_SCRIPT="${ELF_INTERP_SCRIPT}"
                           ELF_INTERP_MARKER="${ELF_INTERP_MARKER}")
