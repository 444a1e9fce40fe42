/* A shared library built into a directory of its own that no RUNPATH, no
 * ld.so.conf and no default directory names: whatever needs it cannot
 * start, and must be told which library is missing. */
int elf_orphan(void);

int elf_orphan(void) {
        return 0;
}
