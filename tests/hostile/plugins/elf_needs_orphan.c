/* elf_needs_orphan, elf_origin: executables that need libelf_orphan.so.
 * elf_needs_orphan has no RUNPATH, so the library cannot be found;
 * elf_origin finds it through DT_RUNPATH "$ORIGIN/elf-orphan". */
int elf_orphan(void);

int main(void) {
        return elf_orphan();
}
