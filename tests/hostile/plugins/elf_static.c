/* elf_static: a statically linked executable, no PT_INTERP: the jail
 * holds it alone. */
int main(void) {
        return 0;
}
